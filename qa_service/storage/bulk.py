"""Many plain rows into one table, in the caller's transaction: PostgreSQL's COPY, else one
executemany. A rescore writes some 25 findings per call; COPY takes them several times faster
than an INSERT per row, on both sides of the connection.

Upserts of many rows (evaluations, rollup cells) read them on PostgreSQL from one array per
column (`bulk_insert`): a multi-row VALUES statement of thousands of placeholders costs the
driver more to parse in Python than the server takes to run it."""

from __future__ import annotations

from enum import Enum
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import JSON, Float, Integer, Select, Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (every row the same keys; columns left out take their server default)."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    json_columns = {c for c in columns if isinstance(table.c[c].type, JSON)}
    names = ", ".join(f'"{c}"' for c in columns)
    raw: Any = connection.connection.driver_connection  # psycopg's, in this transaction
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([_value(row[c], c in json_columns) for c in columns])


def _value(value: Any, json: bool) -> Any:
    """A value as an INSERT would store it: JSON through psycopg's dumper (as SQLAlchemy's
    JSON type sends it), an enum as its value."""
    if json:
        return Json(value)
    if isinstance(value, Enum):
        return value.value
    return value


def bulk_insert(
    session: Session, table: Table, rows: list[dict[str, Any]]
) -> tuple[PgInsert | SqliteInsert, list[dict[str, Any]] | dict[str, Any]]:
    """An INSERT of `rows` (every row the same keys), for the caller to add its
    `on_conflict_do_update`, and the parameters to execute it with: on PostgreSQL the rows as
    arrays (`unnested`), in the order given; else the rows, for one executemany."""
    if session.get_bind().dialect.name == "postgresql":
        columns, arrays, params = unnested(table, rows)
        return pg_insert(table).from_select(columns, arrays), params
    return sqlite_insert(table), rows


def unnested(table: Table, rows: list[dict[str, Any]]) -> tuple[list[str], Select, dict]:
    """`rows` (every row the same keys) as PostgreSQL arrays: their columns, a SELECT of the
    rows from the arrays (for `insert(table).from_select(columns, select)`) and its
    parameters, each value as its column stores it."""
    columns = list(rows[0])
    arrays = (
        func.unnest(*(bindparam(c, type_=ARRAY(table.c[c].type)) for c in columns))
        .table_valued(*columns)
        .render_derived()
    )
    params = {}
    for c in columns:
        # an array is dumped by its first element's type: every element one type
        kind = table.c[c].type
        cast = int if isinstance(kind, Integer) else float if isinstance(kind, Float) else None
        values = [row[c] for row in rows]
        if cast is not None:
            params[c] = [v if v is None else cast(v) for v in values]
        else:
            params[c] = [v.value if isinstance(v, Enum) else v for v in values]
    return columns, select(*(arrays.c[c] for c in columns)), params
