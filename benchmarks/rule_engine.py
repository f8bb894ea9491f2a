"""Rule engine speed on stored transcripts (no recognition).

1. calls per CPU second for the telecom rubric (similarity and knowledge base included) on
   one core, Scorer.evaluate alone:
   - warm: texts prepared once (normalized text, pinyin, clauses, the knowledge base's clause
     vectors: what depends on the text alone, as when a transcript is stored), every rubric
     result computed again for each call;
   - cold: every text prepared again (those caches cleared before each pass, as for calls
     never seen), the clause vectors of the knowledge base kept;
   - cold, stored texts: as cold, but each utterance's prepared text read from the form
     stored with its transcript (rules/text_forms.py), as a rescore reads it;
   - cold, clause vectors too: also every clause the knowledge base reads by meaning
     embedded again by the sentence model (the first rescore of calls never seen);
2. rescoring N stored calls end to end through QAService.rescore (read utterances and
   vectors, evaluate, write evaluations, findings, highlights and rollups): wall and CPU
   seconds, on SQLite (a temporary file) or on the database --db names. The calls are stored
   in bulk first (copies of the transcripts, with their vectors; no recognition).

The transcripts are the dev corpus's real ASR output (benchmarks/data/dev_transcripts.json,
written by `benchmarks/accuracy.py --save`), repeated to the counts needed. CPU seconds are
the figure to compare across runs on a shared machine; wall seconds are printed with the
load average at the time.

    python benchmarks/rule_engine.py [--seconds 5] [--calls 1000]
    python benchmarks/rule_engine.py --calls 100000 \\
        --db postgresql+psycopg://postgres@127.0.0.1:5432/hf_bench [--keep]
    python benchmarks/rule_engine.py --profile 20   # the top 20 of a cProfile of the warm pass
    python benchmarks/rule_engine.py --profile 20 --profile-cold --no-engine --calls 0
    python benchmarks/rule_engine.py --calls 0 --breakdown 60   # µs per call by check, warm
    python benchmarks/rule_engine.py --calls 0 --slices 8   # best/median of 1-s slices
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from qa_service.app import batches
from qa_service.app.scoring import QAService
from qa_service.domain.enums import Phase
from qa_service.domain.results import Utterance
from qa_service.rules import knowledge, matching, normalize, semantic, text_forms
from qa_service.rules.checks import Call
from qa_service.rules.rubric import Rubric, load_rubric
from qa_service.rules.scoring import Scorer, prepared_texts
from qa_service.rules.semantic import (
    CallVectors,
    embed_utterances,
    get_embedder,
    pack_vectors,
)
from qa_service.storage.store import Store
from qa_service.storage.tables import (
    Recording,
    TranscriptTexts,
    TranscriptVectors,
    UtteranceRow,
)

ROOT = Path(__file__).resolve().parents[1]
TARGET_CALLS_PER_CPU_S = 10_000
TARGET_RESCORE_S_PER_100K = 60.0
PROJECT = "bench"

Transcript = tuple[list[Utterance], float]


def load_transcripts() -> list[Transcript]:
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text())
    return [([Utterance(**u) for u in t["utterances"]], t["duration"]) for t in data.values()]


# What depends on a text alone, cached per process (cleared for the cold figures); by name,
# so that this script also measures code that lacks some of them.
TEXT_CACHES = (
    (matching, ("prepare", "prepare_said", "said_pinyin")),
    (normalize, ("spoken", "normalize", "normalize_plain", "syllables", "_word_syllables")),
    (semantic, ("clauses", "numbers_in", "negated")),
    (knowledge, ("_clauses", "_values", "_ruled", "_valued_clauses", "_stating_clauses")),
)


def clear_caches(clause_vectors: bool = False, keep: tuple[str, ...] = ()) -> None:
    for module, names in TEXT_CACHES:
        for name in names:
            cached = getattr(module, name, None) if name not in keep else None
            if hasattr(cached, "cache_clear"):
                cached.cache_clear()
    if clause_vectors:
        knowledge._core_vector.cache_clear()


# --cold rescoring: every call a rescore process prepares or evaluates finds the text caches
# empty, as if all its calls were distinct (the stored calls are copies of 16 transcripts);
# but the words' readings, which distinct calls share, are kept. Set at import, so that the
# pool's processes, which import this module first, do it too.
COLD_RESCORE = os.environ.get("QA_BENCH_COLD_RESCORE") == "1"


def _cold(function):
    def cold(*args, **kwargs):
        clear_caches(keep=("_word_syllables",))
        return function(*args, **kwargs)

    return cold


def rescore_cold() -> None:
    batches.evaluate = _cold(batches.evaluate)
    batches.prepared_texts = _cold(batches.prepared_texts)


if COLD_RESCORE:
    rescore_cold()


def embed_all(transcripts: list[Transcript]) -> list[CallVectors]:
    return [embed_utterances(get_embedder(), [u.text for u in utts]) for utts, _ in transcripts]


def packed_texts(transcripts: list[Transcript]) -> list[bytes]:
    """Each transcript's prepared texts as stored with it (text_forms.pack)."""
    out = []
    for utts, _ in transcripts:
        packed = text_forms.pack(prepared_texts(utts))
        assert packed is not None, "a dev transcript text_forms cannot store"
        out.append(packed)
    return out


def calls_per_cpu_second(
    scorer: Scorer,
    transcripts: list[Transcript],
    vectors: list[CallVectors],
    seconds: float,
    cold: bool,
    clause_vectors: bool = False,
    stored: list[bytes] | None = None,
) -> float:
    """Calls evaluated per CPU second of this process (sentence vectors come stored with a
    transcript; the rubric's examples are embedded once per Scorer, before timing); cold with
    `stored`, each call's prepared texts are read from their stored form."""
    calls = [Call(u, d, vectors=v) for (u, d), v in zip(transcripts, vectors)]
    for call in calls:
        scorer.evaluate(call)
    done, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        if cold:
            clear_caches(clause_vectors)
            calls = [
                Call(u, d, text_forms.unpack(stored[i]) if stored else [], v)
                for i, ((u, d), v) in enumerate(zip(transcripts, vectors))
            ]
        else:
            for call in calls:
                call.reset()  # matcher results are per evaluation, not kept across runs
        for call in calls:
            scorer.evaluate(call)
        done += len(calls)
    return done / (time.process_time() - start)


def profile(
    scorer: Scorer, transcripts: list[Transcript], vectors, top: int, cold: bool = False
) -> str:
    """cProfile of passes of Scorer.evaluate (warm, or cold: text caches cleared and new
    Calls each pass): the `top` rows by cumulative time, then by own time."""
    calls = [Call(u, d, vectors=v) for (u, d), v in zip(transcripts, vectors)]
    for call in calls:
        scorer.evaluate(call)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(20):
        if cold:
            clear_caches()
            calls = [Call(u, d, vectors=v) for (u, d), v in zip(transcripts, vectors)]
        for call in calls:
            call.reset()
            scorer.evaluate(call)
    prof.disable()
    out = io.StringIO()
    for order in ("cumulative", "tottime"):
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(top)
    return out.getvalue()


def breakdown(scorer: Scorer, transcripts: list[Transcript], vectors, passes: int) -> str:
    """CPU µs per call of each check (and of the similarity table, the outcome), warm: where
    a call's time goes without cProfile's cost per Python call."""
    calls = [Call(u, d, vectors=v) for (u, d), v in zip(transcripts, vectors)]
    for call in calls:
        scorer.evaluate(call)
    spent: dict[str, float] = {}
    clock = time.process_time
    for _ in range(passes):
        for call in calls:
            call.reset()
            start = clock()
            if scorer.uses_similarity:
                call.similarities(scorer.bank)
            spent["similarity table"] = spent.get("similarity table", 0.0) + clock() - start
            for check in scorer.checks:
                start = clock()
                check.run(call)
                name = type(check).__name__
                spent[name] = spent.get(name, 0.0) + clock() - start
            start = clock()
            scorer.outcome(call)
            spent["outcome"] = spent.get("outcome", 0.0) + clock() - start
    n = passes * len(calls)
    rows = sorted(spent.items(), key=lambda kv: -kv[1])
    lines = [f"  {name:28s} {seconds / n * 1e6:8.1f} µs per call" for name, seconds in rows]
    total = sum(spent.values()) / n * 1e6
    return "\n".join(["warm, CPU per call by part:", *lines, f"  {'total':28s} {total:8.1f}"])


def slices(
    scorer: Scorer,
    transcripts: list[Transcript],
    vectors,
    count: int,
    cold: bool,
    clause: bool,
    stored: list[bytes] | None = None,
) -> tuple[float, float]:
    """Best and median calls per CPU second of `count` 1-s measurements: on a busy host the
    best is the least disturbed, the figure to compare two versions run side by side."""
    rates = [
        calls_per_cpu_second(scorer, transcripts, vectors, 1.0, cold, clause, stored)
        for _ in range(count)
    ]
    return max(rates), statistics.median(rates)


# Storing N calls in bulk --------------------------------------------------------------


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database the URL names when it does not exist."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        known = conn.execute(
            text("select 1 from pg_database where datname = :d"), {"d": parsed.database}
        ).first()
        if known is None:
            conn.execute(text(f'create database "{parsed.database}"'))
    admin.dispose()


def stored_calls(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(Recording).where(Recording.project == PROJECT)
        ).scalar_one()


def drop_calls(store: Store) -> None:
    """Every table emptied (the benchmark's database holds nothing else)."""
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            tables = conn.execute(
                text(
                    "select tablename from pg_tables where schemaname = 'public' "
                    "and tablename <> 'alembic_version'"
                )
            ).scalars()
            conn.execute(text(f"truncate {', '.join(tables)} restart identity cascade"))
        else:
            for table in reversed(Recording.metadata.sorted_tables):
                conn.execute(table.delete())


def store_calls(
    store: Store,
    transcripts: list[Transcript],
    vectors: list[CallVectors],
    count: int,
    texts: bool = True,
) -> float:
    """Store `count` calls (copies of the transcripts, with their vectors and prepared texts,
    as the service stores a transcript) in bulk; seconds."""
    start = time.perf_counter()
    packed = [pack_vectors(v) for v in vectors]
    forms = packed_texts(transcripts)
    chunk = 5000
    for first in range(0, count, chunk):
        numbers = range(first, min(count, first + chunk))
        rows = [
            {
                "sha256": f"{i:064x}",
                "source_path": f"call-{i}.wav",
                "duration": transcripts[i % len(transcripts)][1],
                "channels": 2,
                "separation": "stereo",
                "agent_id": f"A{i % 50:03d}",
                "project": PROJECT,
                "phase": Phase.PRODUCTION,
                "asr_model": "embedded",
                "asr_warnings": [],
            }
            for i in numbers
        ]
        with store.engine.begin() as conn:
            conn.execute(insert(Recording), rows)
            ids = dict(
                conn.execute(
                    select(Recording.sha256, Recording.id).where(
                        Recording.sha256.in_([r["sha256"] for r in rows])
                    )
                ).all()
            )
        utterances = (
            (ids[f"{i:064x}"], seq, u.role, u.start, u.end, u.text, u.confidence)
            for i in numbers
            for seq, u in enumerate(transcripts[i % len(transcripts)][0])
        )
        blobs = (
            (ids[f"{i:064x}"], *(packed[i % len(packed)][k] for k in BLOB_KEYS)) for i in numbers
        )
        copy_rows(store, UtteranceRow.__table__, UTTERANCE_COLUMNS, utterances)
        copy_rows(store, TranscriptVectors.__table__, VECTOR_COLUMNS, blobs)
        if texts:
            prepared = ((ids[f"{i:064x}"], text_forms.FORM, forms[i % len(forms)]) for i in numbers)
            copy_rows(store, TranscriptTexts.__table__, ("recording_id", "form", "texts"), prepared)
    return time.perf_counter() - start


UTTERANCE_COLUMNS = ("recording_id", "seq", "role", "start", "end", "text", "confidence")
BLOB_KEYS = ("model", "dim", "owners", "spans", "vectors")
VECTOR_COLUMNS = ("recording_id", *BLOB_KEYS)


def copy_rows(store: Store, table, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """Rows into a table: PostgreSQL's COPY, else one executemany."""
    if store.engine.dialect.name != "postgresql":
        with store.engine.begin() as conn:
            conn.execute(insert(table), [dict(zip(columns, r)) for r in rows])
        return
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        names = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


@dataclass
class Rescored:
    calls: int
    wall: float
    cpu: float  # this process and the processes it waited for
    server: float  # the database's backends (PostgreSQL), 0 for SQLite
    load: tuple[float, float, float]


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def server_cpu(store: Store) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving this database (/proc)."""
    if store.engine.dialect.name != "postgresql":
        return {}
    with store.engine.connect() as conn:
        pids = conn.execute(
            text("select pid from pg_stat_activity where datname = current_database()")
        ).scalars()
        out = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process so far (/proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants() -> list[int]:
    """This process's descendants (a pool's workers, the server they are forked from)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def rescore(store: Store, rubric: Rubric, calls: int) -> Rescored:
    service = QAService(store)
    count = 0
    # Workers forked from a server process are not this process's children: their CPU is read
    # from /proc as the results come in (every batch, and once all are in).
    helpers: dict[int, float] = {}
    helpers_before = {pid: proc_cpu(pid) for pid in descendants()}

    # The workers' own connections come and go with the pool: the backends serving this
    # database are read as the results come in too, each at its latest.
    backends: dict[int, float] = {}

    def advance(_outcome) -> None:
        nonlocal count
        count += 1
        if count % 500 == 0 or count == calls:
            for pid in descendants():
                helpers[pid] = max(helpers.get(pid, 0.0), proc_cpu(pid))
            for pid, t in server_cpu(store).items():
                backends[pid] = max(backends.get(pid, 0.0), t)

    before = server_cpu(store)
    cpu, start = cpu_seconds(), time.perf_counter()
    service.rescore(rubric, project=PROJECT, progress=advance)
    wall = time.perf_counter() - start
    # children this process waited for are in cpu_seconds() already: count the others only
    cpu = cpu_seconds() - cpu
    cpu += sum(t - helpers_before.get(pid, 0.0) for pid, t in helpers.items() if t > 0)
    for pid, t in server_cpu(store).items():
        backends[pid] = max(backends.get(pid, 0.0), t)
    server = sum(t - before.get(pid, 0.0) for pid, t in backends.items())
    return Rescored(count, wall, cpu, server, os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1000, help="stored calls to rescore (0: none)")
    ap.add_argument("--seconds", type=float, default=5.0, help="CPU time per speed measurement")
    ap.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    ap.add_argument(
        "--keep", action="store_true", help="reuse the calls --db holds when they are as many"
    )
    ap.add_argument("--no-engine", action="store_true", help="only the rescoring figure")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="rescore as if every call were distinct: text caches cleared before each batch",
    )
    ap.add_argument(
        "--no-texts",
        action="store_true",
        help="rescore calls without prepared texts (as before migration 0021): each pass "
        "starts with none stored, prepares and stores them",
    )
    ap.add_argument(
        "--passes", type=int, choices=(1, 2), default=2, help="rescores: first, then again"
    )
    ap.add_argument("--profile", type=int, default=0, help="print the top N of a cProfile")
    ap.add_argument("--profile-cold", action="store_true", help="profile cold passes instead")
    ap.add_argument("--breakdown", type=int, default=0, help="µs per call by check, N passes")
    ap.add_argument(
        "--slices", type=int, default=0, help="best and median of N 1-s measurements per mode"
    )
    args = ap.parse_args()
    if args.cold and not COLD_RESCORE:
        # the pool's processes read it when they import this module
        os.environ["QA_BENCH_COLD_RESCORE"] = "1"
        rescore_cold()
    rubric = load_rubric(ROOT / "rubrics" / "telecom-data-upgrade.yaml")
    scorer = Scorer(rubric)
    transcripts = load_transcripts()
    vectors = embed_all(transcripts)
    utterances = sum(len(u) for u, _ in transcripts) / len(transcripts)
    print(
        f"telecom rubric: {len(rubric.rules())} rules, knowledge base "
        f"{rubric.knowledge_base}; {len(transcripts)} distinct ASR transcripts, "
        f"{utterances:.0f} utterances per call; load average {os.getloadavg()[0]:.2f}"
    )
    if args.profile:
        print(profile(scorer, transcripts, vectors, args.profile, args.profile_cold))
    if args.breakdown:
        print(breakdown(scorer, transcripts, vectors, args.breakdown))
    stored = packed_texts(transcripts)
    if not args.no_engine and args.slices:
        for label, cold, clause_vectors, forms in (
            ("warm", False, False, None),
            ("cold", True, False, None),
            ("cold, stored texts", True, False, stored),
            ("cold, clause vectors embedded again", True, True, None),
        ):
            best, median = slices(
                scorer, transcripts, vectors, args.slices, cold, clause_vectors, forms
            )
            print(
                f"rule engine, {label}: best {best:,.0f}, median {median:,.0f} calls per CPU "
                f"second of {args.slices} 1-s slices; load average {os.getloadavg()[0]:.2f}"
            )
    elif not args.no_engine:
        for label, cold, clause_vectors, forms in (
            ("warm (texts prepared)", False, False, None),
            ("cold (every text prepared again)", True, False, None),
            ("cold, prepared texts read as stored", True, False, stored),
            ("cold, clause vectors embedded again", True, True, None),
        ):
            rate = calls_per_cpu_second(
                scorer, transcripts, vectors, args.seconds, cold, clause_vectors, forms
            )
            print(
                f"rule engine, {label}: {rate:,.0f} calls per CPU second "
                f"({rate / TARGET_CALLS_PER_CPU_S:.3f} of the target "
                f"{TARGET_CALLS_PER_CPU_S:,})"
            )
    if args.calls <= 0:
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        ensure_database(url)
        store = Store(url, migrate=True)
        loaded = ""
        if not (args.keep and stored_calls(store) == args.calls):
            drop_calls(store)
            seconds = store_calls(store, transcripts, vectors, args.calls, not args.no_texts)
            loaded = f"; storing them took {seconds:.1f} s"
        backend = store.engine.dialect.name
        for attempt in ("first", "again (replacing)")[: args.passes]:
            if args.no_texts:
                with store.engine.begin() as conn:
                    conn.execute(TranscriptTexts.__table__.delete())
            r = rescore(store, rubric, args.calls)
            assert r.calls == args.calls, r
            target = TARGET_RESCORE_S_PER_100K * args.calls / 100_000
            print(
                f"rescore {args.calls:,} stored calls on {backend}"
                + (", cold" if args.cold else "")
                + f", {attempt}: {r.wall:.1f} s "
                f"wall ({args.calls / r.wall:,.0f} calls/s; target {target:.1f} s: "
                f"{target / r.wall:.2f} of it), {r.cpu:.1f} CPU s "
                f"({args.calls / r.cpu:,.0f} calls per CPU second)"
                + (f" + {r.server:.1f} CPU s in PostgreSQL" if r.server else "")
                + "; load average "
                f"{r.load[0]:.2f}{loaded}"
            )
            # The goal, 100k calls in 60 s, at this rate: wall as measured, and the CPU
            # seconds (this process, its workers, PostgreSQL's) spread over the host's cores.
            per_100k = 100_000 / args.calls
            cores = len(os.sched_getaffinity(0))
            print(
                f"  100,000 calls at this rate: {r.wall * per_100k:.0f} s wall, "
                f"{(r.cpu + r.server) * per_100k:.0f} CPU s ("
                f"{(r.cpu + r.server) * per_100k / cores:.0f} s on {cores} idle cores); "
                f"goal {TARGET_RESCORE_S_PER_100K:.0f} s"
            )
            loaded = ""
        store.engine.dispose()


if __name__ == "__main__":
    main()
