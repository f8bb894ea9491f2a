"""Many people at once: 50 concurrent clients against `qa-service serve --workers N`.

Loads N evaluations into a fresh PostgreSQL database (metrics_latency.load: COPY, rollups),
then for each worker count starts `serve --workers W` with Redis configured (several API
processes need it) and runs the clients (asyncio, one connection each) for a fixed time over
the KPI routes, /flagged?agent&rule, /kpis/errors, /review-sample and /health, each client
taking the routes in turn. Prints requests/s and p50/p95/p99 per route for each worker count,
for two kinds of load:

- people: each client is a person at the dashboard, who waits --think seconds (random, mean
  as given) after each answer before the next request;
- saturation (--think 0 as well): each client sends its next request the moment the last is
  answered, the most the service can be asked; latency there is mostly the queue.

    python benchmarks/concurrent_clients.py [--rows 200000] [--clients 50] [--seconds 30]
        [--workers 1 2 4] [--think 1.0] [--reuse]

--reuse keeps a database loaded by an earlier run with the same --rows (loading 1M rows takes
minutes). The clients run on the same machine as the server: on a small machine they take CPU
from it, so they are plain asyncio streams (one keep-alive connection each), not an HTTP
library's client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict

import httpx
from metrics_latency import calls_database, load
from service_harness import ROOT, fresh_database, loaded_database, stop

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


class Connection:
    """One keep-alive HTTP/1.1 connection over asyncio streams: the clients share the machine
    with the server, and a light client leaves it the CPU that httpx's own would take."""

    def __init__(self, host: str, port: int, secret: str):
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nX-API-Key: {secret}\r\n\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        reused = self.writer is not None
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\n{self.head}".encode())
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError):
            if not reused:
                raise
            # the server closed the idle connection (its keep-alive timeout): a new one
            self.close()
            return await self.get(path)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        if "content-length" not in fields:
            raise SystemExit(f"{path}: an answer without Content-Length ({fields})")
        body = await self.reader.readexactly(int(fields["content-length"]))
        if fields.get("connection") == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def clients(
    base: str, secret: str, n: int, seconds: float, think: float = 0.0
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    host, port = base.removeprefix("http://").split(":")
    warm = Connection(host, int(port), secret)
    for route in ROUTES:  # warm every process's plans and pools a little
        status, body = await warm.get(route)
        if status != 200:
            raise SystemExit(f"{route}: {status} {body[:200]!r}")
    warm.close()
    end = time.monotonic() + seconds

    async def one(k: int) -> None:
        conn = Connection(host, int(port), secret)
        pause = random.Random(k)
        i = k
        if think:  # people do not all start in the same millisecond
            await asyncio.sleep(pause.uniform(0, think))
        while time.monotonic() < end:
            route = ROUTES[i % len(ROUTES)]
            i += 1
            t0 = time.perf_counter()
            status, _ = await conn.get(route)
            if status != 200:
                errors[route] += 1
                continue
            times[route].append((time.perf_counter() - t0) * 1000)
            if think:
                await asyncio.sleep(pause.expovariate(1 / think))
        conn.close()

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
    ap.add_argument("--think", type=float, default=1.0, help="a person's mean pause, s")
    ap.add_argument("--reuse", action="store_true", help="keep a database loaded before")
    ap.add_argument(
        "--parallel-workers",
        default="0",
        help="QA_DB_PARALLEL_WORKERS for the API ('' for the server's own setting)",
    )
    args = ap.parse_args()
    name = calls_database(args.rows)
    url = loaded_database(name, args.rows) if args.reuse else None
    if url is None:
        url = fresh_database(name)
        print(f"loading {args.rows:,} recordings + evaluations + {2 * args.rows:,} findings ...")
        copied, built = load(url, args.rows)
        print(f"loaded by COPY in {copied:.0f} s; rollups built in {built:.0f} s")
    else:
        print(f"reusing {name} ({args.rows:,} evaluations)")
    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    _, secret = create_key(Store(url, migrate=True), "viewer", "bench")
    env = dict(os.environ, QA_DATABASE_URL=url, QA_REDIS_URL=args.redis)
    if args.parallel_workers != "":
        env["QA_DB_PARALLEL_WORKERS"] = args.parallel_workers
    print(
        f"{os.cpu_count()} cores; {args.clients} clients for {args.seconds:.0f} s per run; "
        f"QA_DB_PARALLEL_WORKERS={args.parallel_workers or '(server)'}"
    )
    loads = [("people", args.think)] if args.think else []
    loads.append(("saturation", 0.0))
    for workers in args.workers:
        server, base = start(env, args.port, workers)
        try:
            for kind, think in loads:
                times = asyncio.run(clients(base, secret, args.clients, args.seconds, think))
                report(f"--workers {workers}, {kind} (pause {think:g} s)", times, args.seconds)
        finally:
            stop(server)


def report(title: str, times: dict[str, list[float]], seconds: float) -> None:
    total = sum(len(t) for t in times.values())
    every = [x for t in times.values() for x in t]
    kpi = [x for route, t in times.items() if route.startswith("/kpis?") for x in t]
    print(
        f"\n{title}: {total / seconds:.1f} requests/s; all routes p50 "
        f"{statistics.median(every):.0f} ms, p95 {pct(every, 0.95):.0f}, "
        f"p99 {pct(every, 0.99):.0f}; KPI routes p95 {pct(kpi, 0.95):.0f} ms"
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
