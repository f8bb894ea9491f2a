"""Many people at once: 50 concurrent clients against `qa-service serve --workers N`.

Loads N evaluations into a fresh PostgreSQL database (metrics_latency.load: COPY, rollups),
then for each worker count starts `serve --workers W` with Redis configured (several API
processes need it) and runs the clients (asyncio, one connection each) for a fixed time over
the KPI routes, /flagged?agent&rule, /kpis/errors, /review-sample and /health, each client
taking the routes in turn. Prints requests/s and p50/p95/p99 per route for each worker count.

    python benchmarks/concurrent_clients.py [--rows 200000] [--clients 50] [--seconds 30]
        [--workers 1 2 4]

The clients run on the same machine as the server: on a small machine they take CPU from it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict

import httpx
from metrics_latency import load
from service_harness import ROOT, fresh_database, stop

ROUTES = [
    "/health",
    "/kpis?group_by=project",
    "/kpis?group_by=agent&project=p3",
    "/kpis?group_by=day&project=p3&since=2026-10-10T00:00:00&until=2026-10-17T00:00:00",
    "/kpis?group_by=hour&agent=A017",
    "/flagged?agent=A017&rule=rude",
    "/kpis/errors",
    "/kpis/errors?project=p3",
    "/review-sample?project=p3&percent=5&page=2",
]


def start(env: dict, port: int, workers: int) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", "serve", "--port", str(port)]
        + ["--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                time.sleep(3 if workers > 1 else 0)  # the other processes finish starting
                return server, base
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"the API did not start on port {port}")


async def clients(base: str, secret: str, n: int, seconds: float) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": secret}, timeout=60, limits=limits
    ) as client:
        for route in ROUTES:  # warm every process's plans and pools a little
            (await client.get(route)).raise_for_status()
        end = time.monotonic() + seconds

        async def one(k: int) -> None:
            i = k
            while time.monotonic() < end:
                route = ROUTES[i % len(ROUTES)]
                i += 1
                t0 = time.perf_counter()
                r = await client.get(route)
                if r.status_code != 200:
                    errors[route] += 1
                    continue
                times[route].append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(one(k) for k in range(n)))
    if errors:
        print(f"  errors: {dict(errors)}")
    return times


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument(
        "--redis", default=os.environ.get("QA_BENCH_REDIS", "redis://127.0.0.1:6379/10")
    )
    args = ap.parse_args()
    url = fresh_database("qa_bench_concurrent")
    print(f"loading {args.rows:,} recordings + evaluations + {2 * args.rows:,} findings ...")
    copied, built = load(url, args.rows)
    print(f"loaded by COPY in {copied:.0f} s; rollups built in {built:.0f} s")
    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    _, secret = create_key(Store(url, migrate=True), "viewer", "bench")
    env = dict(os.environ, QA_DATABASE_URL=url, QA_REDIS_URL=args.redis)
    print(f"{os.cpu_count()} cores; {args.clients} clients for {args.seconds:.0f} s per run")
    for workers in args.workers:
        server, base = start(env, args.port, workers)
        try:
            times = asyncio.run(clients(base, secret, args.clients, args.seconds))
        finally:
            stop(server)
        total = sum(len(t) for t in times.values())
        every = [x for t in times.values() for x in t]
        print(
            f"\n--workers {workers}: {total / args.seconds:.1f} requests/s; all routes p50 "
            f"{statistics.median(every):.0f} ms, p95 {pct(every, 0.95):.0f}, "
            f"p99 {pct(every, 0.99):.0f}"
        )
        print(f"  {'route':82} {'n':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
        for route in ROUTES:
            t = times.get(route, [])
            if t:
                print(
                    f"  {route:82} {len(t):5d} {statistics.median(t):7.0f} "
                    f"{pct(t, 0.95):7.0f} {pct(t, 0.99):7.0f}"
                )


if __name__ == "__main__":
    main()
