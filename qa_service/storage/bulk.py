"""Many plain rows into one table, in the caller's transaction: PostgreSQL's COPY, else one
executemany. A rescore writes some 25 findings per call; COPY takes them several times faster
than an INSERT per row, on both sides of the connection."""

from __future__ import annotations

from enum import Enum
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import JSON, Table, insert
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
