"""The web app's API calls while two rq workers score recordings (issue 27: p95 <= 150 ms at 1M
evaluations while two workers are scoring).

Loads N evaluations into PostgreSQL as benchmarks/metrics_latency.py does (--reuse: a database an
earlier run loaded, with at least --rows evaluations), adds one real call with its transcript (the
call page's), starts the API (`qa-service serve`, uvicorn) on it with Redis, and replays as one
signed-in person what the web app's pages ask the server for on first load (their HTML and the
API calls of their scripts, qa_service/api/web/static): dashboard, flagged list (plain and
filtered), review sample, all calls, call page (and with --wrapup the project wrap-up report);
--think seconds between pages, as a person reads.

Phases, in one run, side by side:
  - idle: no worker running, --rounds rounds of the pages;
  - busy, one per --busy NICE[:THREADS] (NICE: QA_WORKER_NICE, 'default' the service's own;
    THREADS: QA_CPU_THREADS): --workers real `qa-service worker` processes score real recordings
    of --corpus (faster-whisper), uploaded through POST /recordings in a loop that keeps every
    worker busy; the pages are replayed for --rounds rounds and at least --busy-seconds.
Prints p50/p95/max per request and overall against --goal (ms), the load average, the workers'
niceness, and the calls (audio minutes) the workers scored during each phase, per hour.

    python benchmarks/webapp_under_load.py [--rows 1000000] [--db NAME] [--reuse] [--rounds 10]
        [--busy-seconds 180] [--busy 0 default] [--workers 2]

Run it at the niceness production runs the API (0): under `nice -n 19` the workers cannot go
lower than the API and the setting has nothing to show.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path

import httpx
import psycopg
from ingest_throughput import variant
from metrics_latency import load
from redis import Redis
from rq import Queue
from rq.job import Job
from service_harness import (
    ROOT,
    fresh_database,
    loaded_database,
    qa_service,
    sign_in,
    start_api,
    stop,
)
from web_pages import add_sample_call

REPORT = "wrap-up report"
# What each page asks the server for on first load, in the order its script asks ({call} and
# {recording}: the sample call). p3 is a project of the loaded data; A017 one of its agents.
PAGES = {
    "dashboard": [
        "/dashboard",
        "/kpis?group_by=project",  # QA.projects(), for the filter menus
        "/kpis?group_by=project",
        "/kpis?group_by=day",
        "/kpis/errors",
        "/projects/p3/inflight",
        "/projects/p3/bulletins?limit=1",
    ],
    "flagged": [
        "/queue",
        "/kpis?group_by=project",
        "/kpis/errors?limit=200",  # the rule menu
        "/flagged?page=1&page_size=50",
    ],
    "flagged, agent and rule": [
        "/queue?agent=A017&rule=rude",
        "/kpis?group_by=project",
        "/kpis/errors?limit=200",
        "/flagged?agent=A017&rule=rude&page=1&page_size=50",
    ],
    "sample and all calls": [
        "/review-sample?project=p3&percent=5&page=1&page_size=50",
        "/evaluations?page=1&page_size=50",
    ],
    "call page": [
        "/calls/{call}",
        "/evaluations/{call}",
        "/recordings/{recording}/transcript",
    ],
}
# The project wrap-up report (--wrapup): it reads every call of the project, seconds per
# request on the loaded data, so rounds of it would be most of a run.
WRAPUP = ["/wrapup?project=p3", "/kpis?group_by=project", "/projects/p3/wrapup"]
PROJECT = "webapp-load"  # the project of the calls the workers score


@dataclass
class Phase:
    name: str
    times: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    loadavg: str = ""
    niceness: list[int] = field(default_factory=list)
    scored: int = 0
    audio_s: float = 0.0
    worker_cpu_s: float = 0.0


def replay(client: httpx.Client, pages: dict[str, list[str]], phase: Phase, think: float) -> None:
    """One round: every page once, its requests one after another as its script makes them."""
    for page, routes in pages.items():
        for route in routes:
            t0 = time.perf_counter()
            answer = client.get(route)
            elapsed = (time.perf_counter() - t0) * 1000
            if answer.status_code != 200:
                raise SystemExit(f"{route}: {answer.status_code} {answer.text[:300]}")
            phase.times.setdefault(f"{page}: {route}", []).append(elapsed)
        time.sleep(think)


class Feeder(threading.Thread):
    """Uploads recordings of the corpus through POST /recordings, as a call center's uploader
    would, whenever fewer than `depth` jobs wait: every worker always has a call to score. Each
    upload is a `variant` of its file (new audio to the service, which dedupes by content)."""

    def __init__(self, base: str, secret: str, rubric: tuple[str, int], corpus: Path,
                 work: Path, redis: Redis, depth: int, first: int):  # fmt: skip
        super().__init__(daemon=True)
        self.base, self.secret, self.rubric, self.work = base, secret, rubric, work
        labels = json.loads((corpus / "labels.json").read_text())
        self.files = [corpus / label["audio"] for label in labels]
        self.queue = Queue("qa-transcribe", connection=redis)
        self.depth, self.n = depth, first
        self.jobs: dict[str, float] = {}  # job id -> audio seconds
        self.halt = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        from qa_service.asr.audio import load as load_audio

        with httpx.Client(
            base_url=self.base, headers={"X-API-Key": self.secret}, timeout=120
        ) as client:
            while not self.halt.is_set():
                if self.queue.count >= self.depth:
                    time.sleep(0.5)
                    continue
                src = self.files[self.n % len(self.files)]
                path = variant(src, self.work / f"{self.n}_{src.name}", self.n)
                self.n += 1
                with path.open("rb") as f:
                    r = client.post(
                        "/recordings",
                        files={"file": (path.name, f)},
                        data={"rubric_id": self.rubric[0], "rubric_version": str(self.rubric[1]),
                              "project": PROJECT, "agent_id": "A900"},
                    )  # fmt: skip
                if r.status_code not in (200, 202):
                    self.error = f"upload {path.name}: {r.status_code} {r.text[:300]}"
                    return
                self.jobs[r.json()["job_id"]] = load_audio(str(path)).duration
                path.unlink()


def scored_between(redis: Redis, jobs: dict[str, float], t0: float, t1: float) -> tuple[int, float]:
    """The calls (and their audio seconds) whose jobs finished between t0 and t1 (time.time())."""
    calls, audio = 0, 0.0
    for job in Job.fetch_many(list(jobs), connection=redis):
        if job is None or job.ended_at is None or not job.is_finished:
            continue
        ended = job.ended_at
        if ended.tzinfo is None:
            ended = ended.replace(tzinfo=timezone.utc)
        if t0 <= ended.timestamp() <= t1:
            calls += 1
            audio += jobs[job.id]
    return calls, audio


def proc_stat(pid: int) -> list[str]:
    """A process's /proc stat fields from the fourth (state is [0]; the name may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def niceness(pid: int) -> int:
    return int(proc_stat(pid)[16])


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system, all threads) the processes have had so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(f[11]) + int(f[12]) for f in map(proc_stat, pids)) / ticks


def worker_env(env: dict, spec: str) -> tuple[str, dict]:
    """The workers' environment for a --busy NICE[:THREADS] spec, and the phase's name."""
    nice, _, threads = spec.partition(":")
    out = {k: v for k, v in env.items() if k != "QA_WORKER_NICE"}
    if nice != "default":
        out["QA_WORKER_NICE"] = str(int(nice))
    if threads:
        out["QA_CPU_THREADS"] = str(int(threads))
    name = f"busy, QA_WORKER_NICE={nice}" + (f", QA_CPU_THREADS={threads}" if threads else "")
    return name, out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def report(phases: list[Phase], goal: float) -> None:
    head = "".join(f" | {'p50':>6} {'p95':>6} {'max':>6}" for _ in phases)
    print()
    for i, phase in enumerate(phases):
        work = (
            f"; workers' niceness {phase.niceness}, scored {phase.scored} calls "
            f"({phase.audio_s / 60:.1f} audio min) in {phase.seconds:.0f} s = "
            f"{3600 * phase.scored / phase.seconds:.0f} calls/hour, "
            f"{phase.audio_s / phase.seconds:.2f} audio-hours per hour; the workers had "
            f"{phase.worker_cpu_s:.0f} CPU-s ({phase.worker_cpu_s / phase.seconds:.2f} cores)"
            if phase.niceness
            else ""
        )
        print(f"[{i + 1}] {phase.name}: load average {phase.loadavg}{work}")
    print(f"\n{'request (ms)':72}" + "".join(f" | {f'[{i + 1}]':^20}" for i in range(len(phases))))
    print(f"{'':72}{head}")
    for route in phases[0].times:
        cells = "".join(
            f" | {statistics.median(p.times[route]):6.0f} {pct(p.times[route], 0.95):6.0f} "
            f"{max(p.times[route]):6.0f}"
            for p in phases
        )
        print(f"{route[:72]:72}{cells}")
    every = [[x for t in p.times.values() for x in t] for p in phases]
    totals = [("all requests", every)]
    if any(route.startswith(REPORT) for route in phases[0].times):
        totals.append(
            (
                f"all but the {REPORT}",
                [
                    [x for route, t in p.times.items() if not route.startswith(REPORT) for x in t]
                    for p in phases
                ],
            )
        )
    for title, values in totals:
        cells = "".join(
            f" | {statistics.median(e):6.0f} {pct(e, 0.95):6.0f} {max(e):6.0f}" for e in values
        )
        print(f"{title[:72]:72}{cells}")
    print(
        f"\ngoal: p95 <= {goal:g} ms over all requests; "
        + "; ".join(
            f"[{i + 1}] p95 {pct(e, 0.95):.0f} ms = {pct(e, 0.95) / goal:.2f} of the goal, "
            f"slowest request's p95 {max(pct(t, 0.95) for t in p.times.values()):.0f} ms"
            for i, (p, e) in enumerate(zip(phases, every, strict=True))
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db", metavar="NAME", help="database name (default qa_bench_webapp_ROWS)")
    ap.add_argument("--reuse", action="store_true", help="a database loaded by an earlier run")
    ap.add_argument("--rounds", type=int, default=10, help="rounds of the pages per phase")
    ap.add_argument("--busy-seconds", type=float, default=180, help="least time of a busy phase")
    ap.add_argument("--busy", nargs="+", default=["0", "default"], metavar="NICE[:THREADS]")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--think", type=float, default=0.5, help="pause between pages, s")
    ap.add_argument("--goal", type=float, default=150.0, help="p95 goal, ms")
    ap.add_argument("--wrapup", action="store_true", help="the wrap-up report's page too")
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    ap.add_argument("--port", type=int, default=8768)
    ap.add_argument(
        "--redis", default=os.environ.get("QA_BENCH_REDIS", "redis://127.0.0.1:6379/12")
    )
    args = ap.parse_args()
    name = args.db or f"qa_bench_webapp_{args.rows}"
    url = loaded_database(name, args.rows, at_least=True) if args.reuse else None
    if url is None:
        url = fresh_database(name)
        print(f"loading {args.rows:,} evaluations into {name} ...", flush=True)
        copied, built = load(url, args.rows)
        print(f"loaded by COPY in {copied:.0f} s; rollups built in {built:.0f} s", flush=True)
    else:
        print(f"reusing {name}")
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        found = conn.execute(
            "SELECT e.id, r.id FROM evaluation e JOIN recording r ON r.id = e.recording_id"
            " WHERE r.sha256 = %s AND e.is_current",
            ("e" * 64,),
        ).fetchone()
    call = found[0] if found else add_sample_call(url)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        recording, count = conn.execute(
            "SELECT recording_id, (SELECT count(*) FROM evaluation) FROM evaluation WHERE id = %s",
            (call,),
        ).fetchone()
    print(f"{count:,} evaluations; {os.cpu_count()} cores; this process's niceness {os.nice(0)}")
    pages = {
        page: [r.format(call=call, recording=recording) for r in routes]
        for page, routes in (PAGES | ({REPORT: WRAPUP} if args.wrapup else {})).items()
    }
    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    store = Store(url, migrate=True)
    _, admin = create_key(store, "admin", "bench uploader")
    _, reviewer = create_key(store, "reviewer", "bench reviewer")
    redis = Redis.from_url(args.redis)
    redis.flushdb()
    work = Path(tempfile.mkdtemp(prefix="qa-webapp-load-"))
    env = dict(
        os.environ, QA_DATABASE_URL=url, QA_REDIS_URL=args.redis, QA_STORAGE_DIR=str(work / "s")
    )
    server, base = start_api(env, args.port)
    phases: list[Phase] = []
    try:
        with httpx.Client(base_url=base, headers={"X-API-Key": admin}, timeout=60) as client:
            r = client.post(
                "/rubrics",
                content=(args.corpus / "rubric.yaml").read_bytes(),
                headers={"Content-Type": "application/yaml"},
            )
            r.raise_for_status()
            rubric = (r.json()["id"], r.json()["version"])
        with httpx.Client(base_url=base, timeout=60) as browser:
            sign_in(browser, reviewer)
            replay(browser, pages, Phase("warm-up"), 0)  # plans, pools, caches
            idle = Phase("idle: no worker running")
            t0 = time.time()
            for _ in range(args.rounds):
                replay(browser, pages, idle, args.think)
            idle.seconds, idle.loadavg = time.time() - t0, loadavg()
            phases.append(idle)
            uploaded = int(time.time())  # each run's variants are new audio, also on a reused DB
            for spec in args.busy:
                title, wenv = worker_env(env, spec)
                phase = Phase(title)
                workers = [
                    qa_service("worker", "--slot", str(i), env=wenv) for i in range(args.workers)
                ]
                feeder = Feeder(base, admin, rubric, args.corpus, work, redis,
                                args.workers, uploaded)  # fmt: skip
                feeder.start()
                try:
                    # both workers have loaded the model and scored a call before the clock
                    t_start = time.time()
                    while scored_between(redis, feeder.jobs, t_start, time.time())[0] < len(
                        workers
                    ):
                        if feeder.error or any(w.poll() is not None for w in workers):
                            raise SystemExit(feeder.error or "a worker exited")
                        time.sleep(1)
                    phase.niceness = [niceness(w.pid) for w in workers]
                    t0, cpu0 = time.time(), cpu_seconds([w.pid for w in workers])
                    rounds = 0
                    while rounds < args.rounds or time.time() - t0 < args.busy_seconds:
                        replay(browser, pages, phase, args.think)
                        rounds += 1
                    t1 = time.time()
                    phase.worker_cpu_s = cpu_seconds([w.pid for w in workers]) - cpu0
                    phase.seconds, phase.loadavg = t1 - t0, loadavg()
                    phase.scored, phase.audio_s = scored_between(redis, feeder.jobs, t0, t1)
                    if feeder.error:
                        raise SystemExit(feeder.error)
                finally:
                    feeder.halt.set()
                    feeder.join(timeout=130)
                    uploaded = feeder.n
                    stop(*workers)
                    Queue("qa-transcribe", connection=redis).empty()
                phases.append(phase)
                print(f"{phase.name}: {rounds} rounds in {phase.seconds:.0f} s", flush=True)
    finally:
        stop(server)
        shutil.rmtree(work, ignore_errors=True)
    report(phases, args.goal)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    main()
