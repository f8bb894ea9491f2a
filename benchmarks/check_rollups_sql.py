"""The benchmark loader's SQL rollup build (metrics_latency.build_rollups_in_sql) against the
service's own rebuild: the same calls loaded once, both builds, every rollup table compared.

    python benchmarks/check_rollups_sql.py [--rows 20000] [--db NAME]
"""

from __future__ import annotations

import argparse

import psycopg
from metrics_latency import build_rollups_in_sql, load
from service_harness import fresh_database

TABLES = ("kpi_rollup", "kpi_rollup_project", "error_rollup", "error_rollup_project")


def contents(cur) -> dict[str, list[tuple]]:
    out = {}
    for table in TABLES:
        cur.execute(f"SELECT * FROM {table}")
        out[table] = sorted(
            tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in cur.fetchall()
        )
    return out


def main() -> None:
    from qa_service.config import get_settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--db", default="qa_bench_rollups_sql_check", help="database name")
    args = ap.parse_args()
    url = fresh_database(args.db)
    load(url, args.rows)  # small: the service's rebuild builds the rollups
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        cur = conn.cursor()
        by_service = contents(cur)
        build_rollups_in_sql(cur, get_settings().timezone)
        by_sql = contents(cur)
    for table in TABLES:
        same = by_service[table] == by_sql[table]
        print(f"{table:22} {len(by_service[table]):8,} cells  {'same' if same else 'DIFFERENT'}")
        if not same:
            raise SystemExit(f"{table}: the SQL build differs from the service's rebuild")


if __name__ == "__main__":
    main()
