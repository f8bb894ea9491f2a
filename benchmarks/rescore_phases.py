"""Where a rescore's writer spends its time: CPU and wall ms per call of each phase of storing
the results (app/evaluations.py and what it calls), on PostgreSQL.

Stores N calls in bulk (copies of the dev transcripts with their vectors, no recognition:
benchmarks/rule_engine.py's helpers), rescores them in this one process (first: every
evaluation new; again: every evaluation replaced) and times the functions of the write by
wrapping them: each phase's figure leaves out the phases listed that run inside it, so the
phases add up to the writer's total (batches.record_stored). Functions are wrapped by name
where they exist, so the same script measures code before and after a change to them:

    python benchmarks/rescore_phases.py --db postgresql+psycopg://postgres@127.0.0.1:5432/hx_phases
    PYTHONPATH=/tmp/before python benchmarks/rescore_phases.py --db ... --calls 5000 --vacuum

--vacuum runs VACUUM ANALYZE after loading and between the passes. Without it the tables are
as autovacuum left them (it may be off on a host): costly_rules.refresh plans badly over
unanalyzed tables, so the output says whether ANALYZE ran. CPU ms are this process's
(time.process_time); PostgreSQL's backends' CPU is printed as one figure per pass.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import time
from collections import defaultdict
from pathlib import Path

from rule_engine import (
    PROJECT,
    drop_calls,
    embed_all,
    ensure_database,
    load_transcripts,
    server_cpu,
    store_calls,
)
from sqlalchemy import create_engine, text

import qa_service
from qa_service.app.scoring import QAService
from qa_service.config import Settings
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
WRITER = "writer total (batches.record_stored)"
# (module, attribute path, phase): the functions timed, where the code has them.
PHASES = [
    ("qa_service.app.batches", "record_stored", WRITER),
    ("qa_service.app.batches", "evaluate_stored", "evaluate (read transcripts, score)"),
    ("qa_service.storage.repositories.recordings", "Recordings.by_ids", "read recordings"),
    ("qa_service.storage.repositories.recordings", "Recordings.evaluated", "read recordings"),
    ("qa_service.storage.repositories.evaluations", "Evaluations.write", "write evaluations"),
    ("qa_service.storage.repositories.evaluations", "insert_rows", "write findings, highlights"),
    ("qa_service.app.evaluations", "current_evaluations", "current_evaluations"),
    ("qa_service.storage.repositories.evaluations", "Evaluations.make_current", "make_current"),
    ("qa_service.app.evaluations", "apply_reviews", "apply reviews"),
    ("qa_service.app.evaluations", "apply_written", "apply reviews"),
    ("qa_service.storage.rollups", "Deltas.add_current", "rollups: read current evaluations"),
    ("qa_service.storage.rollups", "Deltas.apply", "rollups: upsert cells"),
    ("qa_service.storage.costly_rules", "refresh", "costly_rule refresh"),
    ("sqlmodel", "Session.flush", "ORM flush (autoflush included)"),
    ("sqlmodel", "Session.commit", "commit"),
]
# Timed only inside another phase (a session flushes and commits outside the writer too).
NESTED_ONLY = {"ORM flush (autoflush included)", "commit"}


class Timer:
    """Inclusive and exclusive CPU and wall seconds per phase (a stack of the phases open)."""

    def __init__(self) -> None:
        self.stack: list[list[float]] = []  # per open phase: child CPU, child wall
        self.cpu: dict[str, float] = defaultdict(float)  # exclusive
        self.wall: dict[str, float] = defaultdict(float)
        self.total_cpu: dict[str, float] = defaultdict(float)  # inclusive
        self.total_wall: dict[str, float] = defaultdict(float)

    def wrap(self, phase: str, fn):
        timer = self

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if phase in NESTED_ONLY and not timer.stack:
                return fn(*args, **kwargs)
            timer.stack.append([0.0, 0.0])
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                child_cpu, child_wall = timer.stack.pop()
                timer.total_cpu[phase] += cpu
                timer.total_wall[phase] += wall
                timer.cpu[phase] += cpu - child_cpu
                timer.wall[phase] += wall - child_wall
                if timer.stack:
                    timer.stack[-1][0] += cpu
                    timer.stack[-1][1] += wall

        return timed


def install(timer: Timer) -> list[str]:
    """Wrap every function of PHASES the code has; the phases wrapped."""
    wrapped = []
    for module_name, path, phase in PHASES:
        owner = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
        fn = getattr(owner, name, None) if owner is not None else None
        if fn is None:
            continue
        setattr(owner, name, timer.wrap(phase, fn))
        wrapped.append(f"{module_name}.{path}")
    return wrapped


def vacuum(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("vacuum analyze"))
    engine.dispose()


def autovacuum(store: Store) -> str:
    with store.engine.connect() as conn:
        return str(conn.execute(text("show autovacuum")).scalar())


def report(timer: Timer, calls: int, server: float) -> None:
    phases = list(dict.fromkeys(phase for _, _, phase in PHASES))
    print(f"  {'phase':<42} {'CPU ms':>8} {'wall ms':>8}  per call")
    for phase in phases:
        if phase not in timer.cpu or phase == WRITER:
            continue
        cpu, wall = timer.cpu[phase] * 1000 / calls, timer.wall[phase] * 1000 / calls
        print(f"  {phase:<42} {cpu:8.3f} {wall:8.3f}")
    rest_cpu, rest_wall = timer.cpu[WRITER] * 1000 / calls, timer.wall[WRITER] * 1000 / calls
    print(f"  {'rest of the writer':<42} {rest_cpu:8.3f} {rest_wall:8.3f}")
    cpu, wall = timer.total_cpu[WRITER] * 1000 / calls, timer.total_wall[WRITER] * 1000 / calls
    print(f"  {WRITER:<42} {cpu:8.3f} {wall:8.3f}")
    print(f"  PostgreSQL backends, whole rescore: {server * 1000 / calls:.3f} CPU ms per call")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="a PostgreSQL database URL (emptied)")
    ap.add_argument("--calls", type=int, default=2000, help="stored calls to rescore")
    ap.add_argument("--vacuum", action="store_true", help="VACUUM ANALYZE after loading")
    ap.add_argument("--passes", type=int, choices=(1, 2), default=2, help="first, then again")
    args = ap.parse_args()
    rubric = load_rubric(ROOT / "rubrics" / "telecom-data-upgrade.yaml")
    transcripts = load_transcripts()
    vectors = embed_all(transcripts)
    ensure_database(args.db)
    store = Store(args.db, migrate=True)
    if store.engine.dialect.name != "postgresql":
        raise SystemExit("--db: a PostgreSQL database")
    drop_calls(store)
    seconds = store_calls(store, transcripts, vectors, args.calls)
    print(
        f"code: {Path(qa_service.__file__).parent}; {args.calls:,} calls stored in "
        f"{seconds:.1f} s; autovacuum {autovacuum(store)}"
    )
    timer = Timer()
    wrapped = install(timer)
    print(f"timed: {', '.join(wrapped)}")
    service = QAService(store, Settings(database_url=args.db, rescore_workers=1))
    for attempt in ("first (new evaluations)", "again (replacing them)")[: args.passes]:
        if args.vacuum:
            vacuum(args.db)
        analyzed = "after VACUUM ANALYZE" if args.vacuum else "no ANALYZE run by this script"
        for table in (timer.cpu, timer.wall, timer.total_cpu, timer.total_wall):
            table.clear()
        before = server_cpu(store)
        start = time.perf_counter()
        outcomes = service.rescore(rubric, project=PROJECT)
        wall = time.perf_counter() - start
        after = server_cpu(store)
        server = sum(t - before.get(pid, 0.0) for pid, t in after.items())
        assert len(outcomes) == args.calls, len(outcomes)
        print(
            f"rescore {args.calls:,} calls, {attempt}, {analyzed}: {wall:.1f} s wall; "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        report(timer, args.calls, server)
    store.engine.dispose()


if __name__ == "__main__":
    main()
