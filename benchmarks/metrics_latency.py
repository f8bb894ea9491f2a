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
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
ADMIN = os.environ.get("QA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RULES = [("monthly_fee", "mandatory_point", "missed"), ("prestore", "mandatory_point", "missed"),
         ("cancel_rule", "mandatory_point", "missed"), ("farewell", "script_section", "missed"),
         ("persuasion", "script_section", "missed"), ("rude", "attitude_error", "violation"),
         ("hangup", "attitude_error", "violation"), ("silence", "silence", "violation"),
         ("think_about_it", "objection", "unhandled"), ("disparage", "forbidden_phrase", "violation")]


def fresh_database(name: str) -> str:
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


def load(url: str, rows: int) -> float:
    from qa_service.store import Store
    Store(url)  # schema through the migrations
    rng = random.Random(7)
    start = datetime(2026, 10, 1, 8, 0)
    t0 = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY recording (id, sha256, source_path, duration, channels, separation,"
                          " agent_id, project, call_time, phase, asr_model, created_at) FROM STDIN") as cp:
                for i in range(1, rows + 1):
                    when = start + timedelta(days=rng.randrange(30), hours=rng.randrange(12),
                                             seconds=rng.randrange(3600))
                    cp.write_row((i, f"{i:064x}", f"/data/{i}.wav", rng.uniform(20, 180), 2, "stereo",
                                  f"A{rng.randrange(200):03d}", f"p{rng.randrange(10)}", when,
                                  "trial" if rng.random() < 0.05 else "production", "embedded", when))
            with cur.copy("COPY evaluation (id, recording_id, rubric_id, rubric_version, score, grade,"
                          " fatal, outcome, created_at, asr_confidence) FROM STDIN") as cp:
                for i in range(1, rows + 1):
                    score = rng.choice([100, 95, 90, 85, 80, 75, 60, 0])
                    grade = "excellent" if score >= 95 else "pass" if score >= 80 else "fail"
                    cp.write_row((i, i, "telecom-data-upgrade", 1, score, grade, score == 0,
                                  rng.choice(["success", "refusal", "unknown"]), start,
                                  rng.uniform(0.5, 0.9)))
            with cur.copy("COPY finding (evaluation_id, rule_id, category, status, deduction, name,"
                          " severity, detail, evidence) FROM STDIN") as cp:
                for i in range(1, rows + 1):
                    for rule, category, status in rng.sample(RULES, 2):
                        cp.write_row((i, rule, category, status, 5, rule, "normal", "", "[]"))
            for table in ("recording", "evaluation", "finding"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))")
            cur.execute("ANALYZE")
        conn.commit()
    return time.perf_counter() - t0


def measure(base: str, secret: str, requests: int) -> list[tuple[str, float, float]]:
    routes = [
        "/kpis?group_by=project",
        "/kpis?group_by=agent&project=p3",
        "/kpis?group_by=day&project=p3&since=2026-10-10T00:00:00&until=2026-10-17T00:00:00",
        "/kpis?group_by=hour&agent=A017",
        "/flagged?project=p3&page=1&page_size=50",
        "/flagged?agent=A017&rule=rude",
        "/kpis/errors?project=p3",
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
    from qa_service.metadata import CallMetadata
    from qa_service.results import Utterance
    from qa_service.rubric import load_rubric
    from qa_service.service import QAService
    from qa_service.store import Store
    store = Store(url)
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text())
    transcripts = [([Utterance(**u) for u in t["utterances"]], t["duration"]) for t in data.values()]
    for i in range(calls):
        utts, duration = transcripts[i % len(transcripts)]
        store.save_transcript(f"{i:064x}"[::-1], f"r{i}.wav", CallMetadata(project="rescore-bench"),
                              duration, 2, "stereo", "embedded", utts)
    t0 = time.perf_counter()
    QAService(store).rescore(load_rubric(ROOT / "rubrics" / "telecom-data-upgrade.yaml"),
                             project="rescore-bench")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    url = fresh_database("qa_bench")
    print(f"loading {args.rows:,} recordings + evaluations + {2 * args.rows:,} findings ...", flush=True)
    print(f"loaded in {load(url, args.rows):.0f} s")
    from qa_service.keys import create_key
    from qa_service.store import Store
    _, secret = create_key(Store(url), "viewer", "bench")
    env = dict(os.environ, QA_DATABASE_URL=url)
    env.pop("QA_REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "qa_service.cli", "serve", "--port", str(args.port)],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(f"{'route':82} {'p50 ms':>8} {'p95 ms':>8}")
        for route, p50, p95 in measure(base, secret, args.requests):
            print(f"{route:82} {p50:8.1f} {p95:8.1f}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    seconds = rescore(url, 2000)
    print(f"rescore 2,000 stored calls on PostgreSQL: {seconds:.1f} s ({2000 / seconds:.0f} calls/s)")


if __name__ == "__main__":
    main()
