"""Metrics endpoints with a million stored evaluations in PostgreSQL.

Loads N recordings with one evaluation and two findings each into a fresh database (COPY),
starts the API (uvicorn) in its own process, and measures from this process, as a client
over HTTP, the latency of the KPI, flagged and common-error routes: p50, p95 (goal <= 100 ms).
Then rescores 2,000 stored calls with real ASR transcripts on the same database.

    python benchmarks/metrics_latency.py [--rows 1000000] [--requests 40]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import datetime, timedelta

import httpx
import psycopg
from service_harness import ROOT, fresh_database, start_api, stop

from qa_service.domain.sampling import DEFAULT_SEED, sample_rank

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


def load(url: str, rows: int) -> tuple[float, float]:
    """Calls as a call center makes them: each agent works on one project (campaign), in
    working hours (08:00-18:00) over 60 days. Returns (COPY seconds, rollup build seconds)."""
    from qa_service.storage.rollups import rebuild
    from qa_service.storage.store import Store

    store = Store(url, migrate=True)  # schema through the migrations
    rng = random.Random(7)
    start = datetime(2026, 9, 1)
    t0 = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        with conn.cursor() as cur:
            calls = []
            with cur.copy(
                "COPY recording (id, sha256, source_path, duration, channels, separation,"
                " agent_id, project, call_time, phase, asr_model, created_at) FROM STDIN"
            ) as cp:
                for i in range(1, rows + 1):
                    agent = rng.randrange(AGENTS)
                    when = start + timedelta(
                        days=rng.randrange(60),
                        hours=8 + rng.randrange(10),
                        seconds=rng.randrange(3600),
                    )
                    call = (
                        f"A{agent:03d}",
                        f"p{agent % PROJECTS}",
                        when,
                        "trial" if rng.random() < 0.05 else "production",
                        rng.uniform(20, 180),
                    )
                    calls.append(call)
                    cp.write_row(
                        (
                            i,
                            f"{i:064x}",
                            f"/data/{i}.wav",
                            call[4],
                            2,
                            "stereo",
                            call[0],
                            call[1],
                            when,
                            call[3],
                            "embedded",
                            when,
                        )
                    )
            with cur.copy(
                "COPY evaluation (id, recording_id, rubric_id, rubric_version, score, grade,"
                " fatal, outcome, created_at, asr_confidence, is_current, project, agent_id,"
                " phase, called_at, duration, sample_rank) FROM STDIN"
            ) as cp:
                for i, (agent, project, when, phase, duration) in enumerate(calls, 1):
                    score = rng.choice([100, 95, 90, 85, 80, 75, 60, 0])
                    grade = "excellent" if score >= 95 else "pass" if score >= 80 else "fail"
                    cp.write_row(
                        (
                            i,
                            i,
                            "telecom-data-upgrade",
                            1,
                            score,
                            grade,
                            score == 0,
                            rng.choice(["success", "refusal", "unknown"]),
                            when,
                            rng.uniform(0.5, 0.9),
                            True,
                            project,
                            agent,
                            phase,
                            when,
                            duration,
                            sample_rank(DEFAULT_SEED, i),
                        )
                    )
            with cur.copy(
                "COPY finding (evaluation_id, rule_id, category, status, deduction, name,"
                " severity, detail, evidence) FROM STDIN"
            ) as cp:
                for i in range(1, rows + 1):
                    for rule, category, status in rng.sample(RULES, 2):
                        cp.write_row((i, rule, category, status, 5, rule, "normal", "", "[]"))
            for table in ("recording", "evaluation", "finding"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        conn.commit()
    copied = time.perf_counter() - t0
    t0 = time.perf_counter()
    with store.session() as s:
        rebuild(s)
        s.commit()
    built = time.perf_counter() - t0
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum does on a live database
    return copied, built


def measure(base: str, secret: str, requests: int) -> list[tuple[str, float, float]]:
    routes = [
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
        "/kpis/errors?project=p3",
        "/kpis/errors?agent=A017&since=2026-10-01T00:00:00&until=2026-10-08T00:00:00",
        "/kpis/errors",
    ]
    out = []
    with httpx.Client(base_url=base, headers={"X-API-Key": secret}, timeout=60) as client:
        for route in routes:
            client.get(route).raise_for_status()  # warm the plan cache and the pool
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                client.get(route).raise_for_status()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            out.append((route, statistics.median(times), times[int(0.95 * (len(times) - 1))]))
    return out


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
    args = ap.parse_args()
    url = fresh_database("qa_bench")
    print(
        f"loading {args.rows:,} recordings + evaluations + {2 * args.rows:,} findings ...",
        flush=True,
    )
    copied, built = load(url, args.rows)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        sizes = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("kpi_rollup", "kpi_rollup_project", "error_rollup", "error_rollup_project")
        }
    print(
        f"loaded by COPY in {copied:.0f} s; rollups built in {built:.0f} s; cells by agent: "
        f"{sizes['kpi_rollup']:,} KPI, {sizes['error_rollup']:,} error; by project: "
        f"{sizes['kpi_rollup_project']:,} KPI, {sizes['error_rollup_project']:,} error"
    )
    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    _, secret = create_key(Store(url, migrate=True), "viewer", "bench")
    env = dict(os.environ, QA_DATABASE_URL=url)
    env.pop("QA_REDIS_URL", None)
    server, base = start_api(env, args.port)
    try:
        print(f"{'route':82} {'p50 ms':>8} {'p95 ms':>8}")
        for route, p50, p95 in measure(base, secret, args.requests):
            print(f"{route:82} {p50:8.1f} {p95:8.1f}")
    finally:
        stop(server)
    seconds = rescore(url, 2000)
    print(
        f"rescore 2,000 stored calls on PostgreSQL: {seconds:.1f} s ({2000 / seconds:.0f} calls/s)"
    )


if __name__ == "__main__":
    main()
