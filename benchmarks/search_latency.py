"""Search across calls (GET /search) with a million stored calls in PostgreSQL.

Loads N recordings, each with one current evaluation and U utterances (--utterances), into a
fresh database (COPY; the bigram index of migration 0014 is built after the load, as a bulk
load would), starts the API (uvicorn) in its own process, and measures from this process, as
a client over HTTP with a viewer's key, the latency of searches for words from common to
absent, alone and with the lists' filters: p50, p95 (goal <= 300 ms).

The utterances are the 16 dev calls' recognized lines (benchmarks/data/dev_transcripts.json),
drawn at random, each with a random tail of 0-4 characters half the time so the text is not
252 sentences repeated; every call opens with one of their greetings (您好 ...). Two planted
phrases: 宽带提速 in 1% of the calls, 携号转网 in 0.01%. No findings are loaded (the `rule`
filter is not measured here; metrics_latency.py measures the flagged list with findings).

--layout: `time` (the default) stores the calls in the order they were made, as a call center's
recordings arrive, so the newest calls' rows lie together; `random` draws the calls' times at
random over the ids, the worst case for reading the newest calls (each layout has its own
database, kept for --reuse).

    python benchmarks/search_latency.py [--rows 1000000] [--utterances 8] [--requests 40]
        [--layout time|random] [--database NAME] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time

import httpx
import psycopg
from service_harness import (
    ADMIN,
    ROOT,
    copy_calls,
    fresh_database,
    reset_sequences,
    start_api,
    stop,
)

AGENTS, PROJECTS = 200, 10
PLANTED = (("宽带提速", 0.01), ("携号转网", 0.0001))
QUERIES = [
    "/search?q=您好",
    "/search?q=套餐",
    "/search?q=合约期",
    "/search?q=宽带提速",
    "/search?q=携号转网",
    "/search?q=量子纠缠",
    "/search?q=合约期 一年",
    "/search?q=不需要&role=customer",
    "/search?q=您好&page=20",
    "/search?q=合约期&project=p3",
    "/search?q=套餐&agent=A017",
    "/search?q=合约期&flagged=true",
    "/search?q=宽带提速&project=p3&since=2026-10-10T00:00:00&until=2026-10-17T00:00:00",
    "/search?q=携号转网&agent=A017",
    "/search?q=您好&grade=fail&reviewed=false",
]


def pool() -> tuple[list[tuple[str, str]], list[str], str]:
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text())
    lines = [(u["role"], u["text"]) for t in data.values() for u in t["utterances"]]
    openings = [t for r, t in lines if "您好" in t]
    chars = sorted({c for _, t in lines for c in t if not c.isspace() and not c.isascii()})
    return lines, openings, "".join(chars)


def load(url: str, rows: int, per_call: int, in_time_order: bool) -> tuple[float, float, int]:
    """Returns (COPY seconds, index build seconds, utterances loaded)."""
    from qa_service.storage.store import Store
    from qa_service.storage.tables import SEARCH_INDEX

    Store(url, migrate=True)  # schema through the migrations
    lines, openings, chars = pool()
    rng = random.Random(7)
    pg = url.replace("postgresql+psycopg", "postgresql")
    t0 = time.perf_counter()
    utterances = 0
    with psycopg.connect(pg) as conn, conn.cursor() as cur:
        cur.execute(f"DROP INDEX {SEARCH_INDEX}")  # built once after the load, below
        copy_calls(cur, rows, rng, AGENTS, PROJECTS, in_time_order=in_time_order)
        with cur.copy(
            'COPY utterance (recording_id, seq, role, start, "end", text, confidence) FROM STDIN'
        ) as cp:
            for i in range(1, rows + 1):
                texts = [("agent", rng.choice(openings))]
                texts += [rng.choice(lines) for _ in range(per_call - 1)]
                for phrase, share in PLANTED:
                    if rng.random() < share:
                        k = rng.randrange(1, per_call)
                        texts[k] = (texts[k][0], texts[k][1] + " " + phrase)
                t = 0.5
                for seq, (role, line) in enumerate(texts):
                    if rng.random() < 0.5:
                        line += "".join(rng.choice(chars) for _ in range(rng.randrange(5)))
                    cp.write_row((i, seq, role, t, t + 2.0, line, 0.8))
                    t += 2.5
                utterances += len(texts)
        reset_sequences(cur, ("recording", "evaluation", "utterance"))
        conn.commit()
    copied = time.perf_counter() - t0
    t0 = time.perf_counter()
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(f"CREATE INDEX {SEARCH_INDEX} ON utterance USING gin (qa_bigrams(text))")
        conn.execute(f"ALTER INDEX {SEARCH_INDEX} ALTER COLUMN 1 SET STATISTICS 1000")  # as 0014
        built = time.perf_counter() - t0
        conn.execute("VACUUM ANALYZE")  # what autovacuum does on a live database
    return copied, built, utterances


def measure(base: str, secret: str, requests: int) -> list[tuple[str, int, float, float]]:
    out = []
    with httpx.Client(base_url=base, headers={"X-API-Key": secret}, timeout=120) as client:
        for route in QUERIES:
            first = client.get(route)  # warm the plan cache and the pool
            first.raise_for_status()
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                client.get(route).raise_for_status()
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            total = first.json()["total"]
            p95 = times[int(0.95 * (len(times) - 1))]
            out.append((route, total, statistics.median(times), p95))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--utterances", type=int, default=8, help="utterances per call")
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--reuse", action="store_true", help="measure the database already loaded")
    ap.add_argument("--layout", choices=("time", "random"), default="time")
    ap.add_argument("--database", help="the database's name (default: qa_bench_search[_random])")
    args = ap.parse_args()
    name = args.database or "qa_bench_search" + ("" if args.layout == "time" else "_random")
    if args.reuse:
        url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = fresh_database(name)
        print(f"loading {args.rows:,} calls x {args.utterances} utterances ...", flush=True)
        copied, built, n = load(url, args.rows, args.utterances, args.layout == "time")
        print(
            f"loaded {n:,} utterances by COPY in {copied:.0f} s; "
            f"bigram index built in {built:.0f} s"
        )
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        size = conn.execute(
            "SELECT pg_size_pretty(pg_relation_size('ix_utterance_text_bigrams')),"
            " pg_size_pretty(pg_relation_size('utterance')), (SELECT count(*) FROM evaluation)"
        ).fetchone()
    print(
        f"bigram index {size[0]}, utterance table {size[1]}, {size[2]:,} calls,"
        f" {args.layout} layout"
    )
    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    _, secret = create_key(Store(url, migrate=True), "viewer", "bench")
    env = dict(os.environ, QA_DATABASE_URL=url)
    env.pop("QA_REDIS_URL", None)
    server, base = start_api(env, args.port)
    try:
        print(f"{'route':82} {'calls':>7} {'p50 ms':>8} {'p95 ms':>8}")
        for route, total, p50, p95 in measure(base, secret, args.requests):
            print(f"{route:82} {total:7,} {p50:8.1f} {p95:8.1f}")
    finally:
        stop(server)


if __name__ == "__main__":
    main()
