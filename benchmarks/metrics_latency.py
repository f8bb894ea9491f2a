"""Metrics endpoints with millions of stored evaluations in PostgreSQL.

Loads N recordings with one evaluation and two findings each into a fresh database (COPY),
starts the API (uvicorn) in its own process, and measures from this process, as a client
over HTTP, the latency of the KPI, flagged, common-error and review-queue routes: p50, p95,
against the goal (--goal, ms; issue 27: 50 ms at 5M evaluations). Then rescores 2,000 stored
calls with real ASR transcripts in a database of their own.

--reuse measures a database an earlier run loaded with the same --rows (5M rows take long to
load). --explain MS has PostgreSQL's auto_explain write the plan (EXPLAIN ANALYZE) of every
statement slower than MS ms into the server's log while the routes are measured, and prints
those plans afterwards (the log file: --pg-log).

--db names the database (default qa_bench_calls_<rows>: the one the other benchmarks reuse).

    python benchmarks/metrics_latency.py [--rows 1000000] [--requests 40] [--reuse]
        [--explain 20] [--no-rescore] [--db NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from pathlib import Path

import httpx
import psycopg
from service_harness import (
    ROOT,
    copy_calls,
    fresh_database,
    loaded_database,
    reset_sequences,
    start_api,
    stop,
)

# Where Debian's PostgreSQL writes its server log (--explain reads the plans from it).
PG_LOG = Path("/var/log/postgresql/postgresql-15-main.log")
RULES = [
    ("monthly_fee", "mandatory_point", "missed"),
    ("prestore", "mandatory_point", "missed"),
    ("cancel_rule", "mandatory_point", "missed"),
    ("farewell", "script_section", "missed"),
    ("persuasion", "script_section", "missed"),
    ("rude", "attitude_error", "violation"),
    ("hangup", "attitude_error", "violation"),
    ("silence", "silence", "violation"),
    ("think_about_it", "objection", "unhandled"),
    ("disparage", "forbidden_phrase", "violation"),
]
AGENTS, PROJECTS = 200, 10


def calls_database(rows: int) -> str:
    """The database name of `rows` calls loaded by `load` (the benchmarks reuse it)."""
    return f"qa_bench_calls_{rows}"


# Above this many rows the rollups are built by one SQL statement per table: the service's
# rebuild (Python, 5,000 calls a chunk) takes over an hour for 5M calls on a shared 2-core machine.
IN_SQL_FROM = 1_000_000
KPI_COLUMNS = (
    "evaluated, passed, excellent, success, fatal, talk_seconds, no_speech, listened,"
    " listened_passed"
)
# A QA department listens to 1-2 % of calls: every 50th call gets a review task, three of
# four of them done (监听合格率 counts those).
LISTENED_EVERY = 50


def build_rollups_in_sql(cur, zone: str) -> None:
    """What qa_service.storage.rollups.rebuild computes, in PostgreSQL: the KPI sums of
    KpiSums.of_call per call-center hour, and the costly rules of each graded call per day
    (benchmarks/check_rollups_sql.py checks the two give the same tables)."""
    local = f"((called_at AT TIME ZONE 'UTC') AT TIME ZONE '{zone}')"
    grade = "coalesce(reviewed_grade, grade)"
    graded = f"{grade} <> 'no_speech'"
    heard = (
        "EXISTS (SELECT 1 FROM review_task t WHERE t.recording_id = evaluation.recording_id"
        " AND t.state = 'done')"
    )
    sums = (
        f"sum(({graded})::int), sum(({graded} AND {grade} IN ('pass', 'excellent'))::int),"
        f" sum(({graded} AND {grade} = 'excellent')::int),"
        f" sum(({graded} AND outcome = 'success')::int),"
        f" sum(({graded} AND coalesce(reviewed_fatal, fatal))::int),"
        f" sum(CASE WHEN {graded} THEN duration ELSE 0 END), sum((NOT {graded})::int),"
        f" sum(({graded} AND {heard})::int),"
        f" sum(({graded} AND {heard} AND {grade} IN ('pass', 'excellent'))::int)"
    )
    for table, cell in (
        ("kpi_rollup", "rubric_id, project, phase, agent_id"),
        ("kpi_rollup_project", "rubric_id, project, phase"),
    ):
        cur.execute(f"DELETE FROM {table}")
        cur.execute(
            f"INSERT INTO {table} ({cell}, hour, {KPI_COLUMNS}) SELECT {cell},"
            f" date_trunc('hour', {local}), {sums} FROM evaluation WHERE is_current"
            f" GROUP BY {cell}, date_trunc('hour', {local})"
        )
    costly = "coalesce(f.reviewed_status, f.status) IN ('missed', 'violation', 'unhandled')"
    for table, cell in (
        ("error_rollup", "rubric_id, project, phase, agent_id"),
        ("error_rollup_project", "rubric_id, project, phase"),
    ):
        cols = ", ".join(f"e.{c.strip()}" for c in cell.split(","))
        day = f"date_trunc('day', {local.replace('called_at', 'e.called_at')})"
        cur.execute(f"DELETE FROM {table}")
        cur.execute(
            f"INSERT INTO {table} ({cell}, day, rule_id, category, name, calls)"
            f" SELECT {cols}, {day}, f.rule_id, f.category, min(f.name),"
            f" count(DISTINCT e.id) FROM evaluation e JOIN finding f ON f.evaluation_id = e.id"
            f" WHERE e.is_current AND coalesce(e.reviewed_grade, e.grade) <> 'no_speech'"
            f" AND {costly} GROUP BY {cols}, {day}, f.rule_id, f.category"
        )
    cur.connection.commit()


def load(url: str, rows: int) -> tuple[float, float]:
    """Calls as a call center makes them: each agent works on one project (campaign), in
    working hours (08:00-18:00) over 60 days. Returns (COPY seconds, rollup build seconds)."""
    from qa_service.config import get_settings
    from qa_service.storage import costly_rules
    from qa_service.storage.rollups import rebuild
    from qa_service.storage.store import Store

    store = Store(url, migrate=True)  # schema through the migrations
    rng = random.Random(7)
    t0 = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        with conn.cursor() as cur:
            copy_calls(cur, rows, rng, AGENTS, PROJECTS, trial_share=0.05, sample_ranks=True)
            with cur.copy(
                "COPY finding (evaluation_id, rule_id, category, status, deduction, name,"
                " severity, detail, evidence) FROM STDIN"
            ) as cp:
                for i in range(1, rows + 1):
                    for rule, category, status in rng.sample(RULES, 2):
                        cp.write_row((i, rule, category, status, 5, rule, "normal", "", "[]"))
            cur.execute(
                "INSERT INTO review_task (recording_id, evaluation_id, project, agent_id,"
                " called_at, run, reason, state, created_at, done_at, done_by, grade)"
                " SELECT recording_id, id, project, agent_id, called_at, 'bench', 'sample',"
                " CASE WHEN id %% (4 * %s) = 0 THEN 'assigned' ELSE 'done' END, called_at,"
                " CASE WHEN id %% (4 * %s) = 0 THEN NULL ELSE called_at END, 'qa1', grade"
                " FROM evaluation WHERE id %% %s = 0",
                (LISTENED_EVERY, LISTENED_EVERY, LISTENED_EVERY),
            )
            reset_sequences(cur, ("recording", "evaluation", "finding", "review_task"))
        conn.commit()
        # without statistics the rollup rebuild's finding lookups plan as sequential scans
        conn.execute("ANALYZE recording, evaluation, finding, review_task")
    copied = time.perf_counter() - t0
    t0 = time.perf_counter()
    if rows > IN_SQL_FROM:
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            build_rollups_in_sql(conn.cursor(), get_settings().timezone)
        with store.session() as s:  # one INSERT .. SELECT (rebuild below writes it too)
            costly_rules.rebuild(s)
            s.commit()
    else:
        with store.session() as s:
            rebuild(s)
            s.commit()
    built = time.perf_counter() - t0
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum does on a live database
    return copied, built


ROUTES = [
    "/kpis?group_by=project",
    "/kpis?group_by=agent&project=p3",
    "/kpis?group_by=day&project=p3&since=2026-10-10T00:00:00&until=2026-10-17T00:00:00",
    "/kpis?group_by=hour&agent=A017",
    "/kpis?group_by=day&project=p3&since=2026-10-10T09:30:00&until=2026-10-17T12:45:00",
    "/kpis?group_by=rubric",
    "/flagged?page=1&page_size=50",
    "/flagged?project=p3&page=1&page_size=50",
    "/flagged?project=p3&page=20&page_size=50",
    "/flagged?agent=A017&rule=rude",
    "/flagged?rule=rude",
    "/flagged?project=p3&rule=rude",
    "/flagged?project=p3&reviewed=false&page=1&page_size=50",
    "/kpis/errors?project=p3",
    "/kpis/errors?agent=A017&since=2026-10-01T00:00:00&until=2026-10-08T00:00:00",
    "/kpis/errors",
    "/review-sample?project=p3&percent=2",
    "/review-sample?project=p3&percent=5&page=2",
    "/review-sample?percent=1&page=10",
]


def measure(base: str, secret: str, requests: int) -> list[tuple[str, float, float]]:
    out = []
    with httpx.Client(base_url=base, headers={"X-API-Key": secret}, timeout=60) as client:
        for route in ROUTES:
            client.get(route).raise_for_status()  # warm the plan cache and the pool
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                client.get(route).raise_for_status()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out.append((route, statistics.median(times), times[int(0.95 * (len(times) - 1))]))
    return out


def explain_slow(url: str, name: str, ms: int | None) -> None:
    """From the next connection on, auto_explain logs the plan of each statement over `ms`
    (None: stops)."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        if ms is None:
            c.execute(f'ALTER DATABASE "{name}" RESET ALL')
            return
        for setting, value in (
            ("session_preload_libraries", "auto_explain"),
            ("auto_explain.log_min_duration", f"{ms}ms"),
            ("auto_explain.log_analyze", "on"),
            ("auto_explain.log_buffers", "on"),
        ):
            c.execute(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")


def logged_plans(log: Path, since: int) -> str:
    """The plans auto_explain wrote to the server log after byte `since`."""
    with log.open("rb") as f:
        f.seek(since)
        text = f.read().decode("utf-8", "replace")
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d )", text)  # one per log line's timestamp
    return "\n".join(e for e in entries if "duration:" in e and "plan:" in e)


def rescore(url: str, calls: int) -> float:
    from qa_service.app.scoring import QAService
    from qa_service.domain.metadata import CallMetadata
    from qa_service.domain.results import Utterance
    from qa_service.rules.rubric import load_rubric
    from qa_service.storage.store import Store

    store = Store(url, migrate=True)
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text())
    transcripts = [
        ([Utterance(**u) for u in t["utterances"]], t["duration"]) for t in data.values()
    ]
    for i in range(calls):
        utts, duration = transcripts[i % len(transcripts)]
        store.recordings.save_transcript(
            f"{i:064x}"[::-1],
            f"r{i}.wav",
            CallMetadata(project="rescore-bench"),
            duration,
            2,
            "stereo",
            "embedded",
            utts,
        )
    t0 = time.perf_counter()
    QAService(store).rescore(
        load_rubric(ROOT / "rubrics" / "telecom-data-upgrade.yaml"), project="rescore-bench"
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--goal", type=float, default=50.0, help="p95 goal per route, ms")
    ap.add_argument("--reuse", action="store_true", help="measure a database loaded before")
    ap.add_argument("--explain", type=int, metavar="MS", help="log plans of statements over MS")
    ap.add_argument("--pg-log", type=Path, default=PG_LOG)
    ap.add_argument("--no-rescore", action="store_true")
    ap.add_argument("--db", metavar="NAME", help="database name (default qa_bench_calls_ROWS)")
    args = ap.parse_args()
    name = args.db or calls_database(args.rows)
    url = loaded_database(name, args.rows) if args.reuse else None
    if url is None:
        url = fresh_database(name)
        print(
            f"loading {args.rows:,} recordings + evaluations + {2 * args.rows:,} findings ...",
            flush=True,
        )
        copied, built = load(url, args.rows)
        print(f"loaded by COPY in {copied:.0f} s; rollups built in {built:.0f} s")
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        sizes = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("evaluation", "kpi_rollup", "kpi_rollup_project", "error_rollup")
        }
    print(
        f"{sizes['evaluation']:,} evaluations; rollup cells: {sizes['kpi_rollup']:,} KPI by "
        f"agent, {sizes['kpi_rollup_project']:,} by project, {sizes['error_rollup']:,} error"
    )
    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    _, secret = create_key(Store(url, migrate=True), "viewer", "bench")
    env = dict(os.environ, QA_DATABASE_URL=url)
    env.pop("QA_REDIS_URL", None)
    if args.explain is not None:
        explain_slow(url, name, args.explain)
        since = args.pg_log.stat().st_size
    server, base = start_api(env, args.port)
    try:
        results = measure(base, secret, args.requests)
    finally:
        stop(server)
        if args.explain is not None:
            explain_slow(url, name, None)
    print(f"{'route':82} {'p50 ms':>8} {'p95 ms':>8} {'p95/goal':>9}")
    for route, p50, p95 in results:
        print(f"{route:82} {p50:8.1f} {p95:8.1f} {p95 / args.goal:9.2f}")
    worst = max(p95 for _, _, p95 in results)
    print(f"slowest route p95 {worst:.1f} ms; goal {args.goal:g} ms: ratio {worst / args.goal:.2f}")
    if args.explain is not None:
        print(f"\nplans of statements over {args.explain} ms (auto_explain):")
        print(logged_plans(args.pg_log, since) or "(none)")
    if not args.no_rescore:
        seconds = rescore(fresh_database("qa_bench_rescore"), 2000)
        print(
            f"rescore 2,000 stored calls on PostgreSQL: {seconds:.1f} s "
            f"({2000 / seconds:.0f} calls/s)"
        )


if __name__ == "__main__":
    main()
