"""Ingest throughput of the running service: upload -> rq worker -> stored evaluation.

Starts the API and N rq workers as their own processes on PostgreSQL and Redis, uploads every
recording of the corpus over HTTP (as a call center's uploader would), and waits until each
job is finished. Prints wall time, audio hours per hour, calls per hour, upload-to-scored
latency (p50/p95), each worker's peak memory (its process tree's proportional set size: the
worker, which runs its jobs itself, and rq's scheduler it forks), and the ratio of the
service's wall time to bare faster-whisper transcribing the same audio one file after another
in one process (same model, beam and threads).

    python benchmarks/ingest_throughput.py [--workers 1] [--threads 2] [--repeat 1]
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
from pathlib import Path

import httpx
from redis import Redis
from rq import Worker
from rq.job import Job
from service_harness import ROOT, fresh_database, qa_service, start_api, stop

REDIS = os.environ.get("QA_BENCH_REDIS", "redis://127.0.0.1:6379/12")


def copies(corpus: Path, labels: list[dict], repeat: int, folder: Path) -> list[tuple[Path, float]]:
    """The corpus `repeat` times over, each copy a `variant` of its file."""
    from qa_service.asr.audio import load

    out = []
    for n in range(repeat):
        for label in labels:
            src = corpus / label["audio"]
            dst = folder / f"{n}_{src.name}"
            variant(src, dst, n)
            out.append((dst, load(str(dst)).duration))
    return out


def variant(src: Path, dst: Path, n: int) -> Path:
    """`src` copied to `dst` with its last four bytes XORed with `n` (0: an exact copy): new
    audio to the service (the content hash is the identity) that decodes the same."""
    data = bytearray(src.read_bytes())
    if n:
        tail = int.from_bytes(data[-4:], "big") ^ (n & 0xFFFFFFFF)
        data[-4:] = tail.to_bytes(4, "big")
    dst.write_bytes(bytes(data))
    return dst


def ready(workers: int, timeout: float = 300.0) -> float:
    """Seconds until `workers` rq workers are registered: a worker warms its models up
    before it registers, so the clock then starts on workers that are ready."""
    redis = Redis.from_url(REDIS)
    t0 = time.perf_counter()
    while Worker.count(connection=redis) < workers:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"{workers} worker(s) not registered after {timeout:.0f} s")
        time.sleep(0.2)
    return time.perf_counter() - t0


def tree(pid: int) -> list[int]:
    """A process and its descendants (an rq worker and the scheduler process it forks)."""
    out, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        out.append(parent)
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        frontier += [int(c) for c in children]
    return out


def kib(pid: int, path: str, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemoryPeaks(threading.Thread):
    """Each worker's peak memory while the calls are scored, sampled every half second: the
    proportional set size of its process tree (pages shared between the worker and its
    scheduler counted once), and the largest resident set of one process in it."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.pss, self.rss = pids, [0] * len(pids), [0] * len(pids)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for i, pid in enumerate(self.pids):
                procs = tree(pid)
                self.pss[i] = max(self.pss[i], sum(kib(p, "smaps_rollup", "Pss:") for p in procs))
                self.rss[i] = max(self.rss[i], *(kib(p, "status", "VmRSS:") for p in procs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads per worker")
    ap.add_argument("--repeat", type=int, default=1, help="upload the corpus this many times")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--skip-bare", action="store_true")
    args = ap.parse_args()

    labels = json.loads((args.corpus / "labels.json").read_text())
    url = fresh_database("qa_ingest_bench")
    Redis.from_url(REDIS).flushdb()
    work = Path(tempfile.mkdtemp(prefix="qa-ingest-"))
    files = copies(args.corpus, labels, args.repeat, work)
    audio_seconds = sum(d for _, d in files)

    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    store = Store(url, migrate=True)
    _, secret = create_key(store, "admin", "bench")
    env = dict(
        os.environ,
        QA_DATABASE_URL=url,
        QA_REDIS_URL=REDIS,
        QA_CPU_THREADS=str(args.threads),
        QA_STORAGE_DIR=str(work / "storage"),
    )
    server, base = start_api(env, args.port)
    workers = [qa_service("worker", "--slot", str(i), env=env) for i in range(args.workers)]
    hdr = {"X-API-Key": secret}
    try:
        with httpx.Client(base_url=base, headers=hdr, timeout=120) as client:
            rubric = (args.corpus / "rubric.yaml").read_bytes()
            r = client.post(
                "/rubrics", content=rubric, headers={"Content-Type": "application/yaml"}
            )
            r.raise_for_status()
            rubric_id, version = r.json()["id"], r.json()["version"]
            ready_s = ready(args.workers)  # the workers load the models before the clock starts
            memory = MemoryPeaks([w.pid for w in workers])
            memory.start()
            t0 = time.perf_counter()
            submitted = {}
            for path, _ in files:
                with open(path, "rb") as f:
                    r = client.post(
                        "/recordings",
                        files={"file": (path.name, f)},
                        data={
                            "rubric_id": rubric_id,
                            "rubric_version": str(version),
                            "project": "ingest-bench",
                            "agent_id": "A001",
                        },
                    )
                r.raise_for_status()
                submitted[r.json()["job_id"]] = time.perf_counter()
            upload_s = time.perf_counter() - t0
            done: dict[str, float] = {}
            while len(done) < len(submitted):
                for job in client.get("/jobs", params={"limit": 1000}).json():
                    if (
                        job["id"] in submitted
                        and job["id"] not in done
                        and job["status"] in ("finished", "failed")
                    ):
                        if job["status"] == "failed":
                            raise SystemExit(f"job {job['id']} failed: {job['error']}")
                        done[job["id"]] = time.perf_counter()
                time.sleep(0.25)
            wall = max(done.values()) - t0
            jobs = Job.fetch_many(list(submitted), connection=Redis.from_url(REDIS))
            in_jobs = sum((j.ended_at - j.started_at).total_seconds() for j in jobs)
            latency = sorted(done[j] - submitted[j] for j in submitted)
            kpis = client.get("/kpis", params={"group_by": "project"}).json()
            memory.done.set()
    finally:
        stop(server, *workers)
    print(
        f"{len(files)} calls, {audio_seconds:.0f} s of audio; {args.workers} worker(s) x "
        f"{args.threads} thread(s), ready {ready_s:.1f} s after start; "
        f"uploads took {upload_s:.1f} s"
    )
    print(
        f"service: all scored in {wall:.1f} s: {audio_seconds / wall:.1f}x real time, "
        f"{audio_seconds / wall:.1f} audio-hours per hour, "
        f"{3600 * len(files) / wall:.0f} calls/hour; "
        f"upload-to-scored latency p50 {statistics.median(latency):.1f} s, "
        f"p95 {latency[int(0.95 * (len(latency) - 1))]:.1f} s"
    )
    print(
        f"workers' time inside jobs: {in_jobs:.1f} s ({in_jobs / len(files):.2f} s per call, "
        f"RTF {in_jobs / audio_seconds:.3f}); the rest of the wall time is queueing and uploads"
    )
    print(f"stored: {kpis[0]['evaluated']} evaluations (pass rate {kpis[0]['pass_rate']})")
    print(
        "peak memory per worker (worker and its scheduler, shared pages once): "
        + ", ".join(f"{pss / 1024:.0f} MiB" for pss in memory.pss)
        + "; largest resident set of one process: "
        + ", ".join(f"{rss / 1024:.0f} MiB" for rss in memory.rss)
        + " (goal: 1 GiB per worker)"
    )
    if not args.skip_bare:
        from asr_overhead import bare
        from faster_whisper import WhisperModel

        from qa_service.asr.model_store import embedded_model_dir
        from qa_service.config import get_settings

        settings = get_settings()
        model = WhisperModel(
            str(embedded_model_dir(settings.model_cache_dir)),
            device="cpu",
            compute_type=settings.compute_type,
            cpu_threads=args.threads * args.workers,
        )
        t0 = time.perf_counter()
        by_name = {label["audio"]: label for label in labels}
        for path, _ in files:
            stereo = by_name[path.name.split("_", 1)[1]]["channels"] == "stereo"
            bare(model, str(path), stereo, settings.beam_size)
        bare_s = time.perf_counter() - t0
        print(
            f"bare faster-whisper, one process, {args.threads * args.workers} threads, same audio: "
            f"{bare_s:.1f} s; ratio service/bare {wall / bare_s:.2f}"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
