"""Every result of the rule engine on every kept transcript, as JSON lines: the equality check
of a speed change (a change to speed alone leaves this output byte for byte the same).

Scores, with every rubric that applies to them (the product's rubrics, and the three rubrics of
rubrics/ for the dev corpora), the kept ASR transcripts (benchmarks/data/dev*_transcripts.json,
benchmarks/data/products/*.json: the calls and their reference transcripts) and the samples'
reference transcripts, each twice: with sentence vectors as embedded (float32) and as stored
(int8, pack_vectors), as a rescore reads them. Every call is evaluated a second time after
Call.reset and from a new Call, and must give the same result as the first time.

With --db, the same transcripts are also stored (with their vectors) in that database, emptied
first, and rescored through QAService.rescore with each rubric (--workers processes), then rescored
again (the second rescore replaces every evaluation in place); the rows written (evaluations,
findings, highlights, rollups, costly rules: every column but ids and creation times; with one
process the evaluation ids too, which follow the order rows were written in) follow the
results.

    python benchmarks/scoring_equality.py --out /tmp/after.jsonl
    PYTHONPATH=/tmp/before python benchmarks/scoring_equality.py --out /tmp/before.jsonl
    cmp /tmp/before.jsonl /tmp/after.jsonl
    python benchmarks/scoring_equality.py --out /tmp/after-db.jsonl \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/hf_equal --workers 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import qa_service
from qa_service.app.scoring import QAService
from qa_service.config import Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance
from qa_service.rules.checks import Call
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer
from qa_service.rules.semantic import embed_utterances, get_embedder, pack_vectors, unpack_vectors
from qa_service.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = ROOT / "benchmarks" / "data"
RUBRICS = ROOT / "rubrics"
OWN = [
    RUBRICS / "telecom-data-upgrade.yaml",
    RUBRICS / "care-call.yaml",
    RUBRICS / "satisfaction-survey.yaml",
]
# kept transcripts (file name prefix) -> the rubrics that score them
PRODUCTS = {
    "dev": [SHARED / "corpus" / "dev" / "rubric.yaml", *OWN],
    "dev-paraphrase": [
        SHARED / "corpus" / "dev-paraphrase" / "rubric.yaml",
        DATA / "telecom-paraphrase-similar.yaml",
        OWN[0],
    ],
    "car-insurance-renewal": [
        ROOT / "corpus" / "car-insurance-renewal" / "rubric.yaml",
        ROOT / "corpus" / "car-insurance-renewal" / "rubric-similar.yaml",
    ],
    "wealth-care-offer": [
        ROOT / "corpus" / "wealth-care-offer" / "rubric.yaml",
        ROOT / "corpus" / "wealth-care-offer" / "rubric-similar.yaml",
    ],
}
SAMPLES = {
    "telecom-data-upgrade": RUBRICS / "telecom-data-upgrade.yaml",
    "contract-care-call": RUBRICS / "care-call.yaml",
    "broadband-satisfaction-survey": RUBRICS / "satisfaction-survey.yaml",
}

Transcript = tuple[list[Utterance], float]


def utterances(turns: list[dict]) -> list[Utterance]:
    keep = ("role", "start", "end", "text", "confidence")  # reference turns carry more
    return [Utterance(**{k: t[k] for k in keep if k in t}) for t in turns]


def transcript_sets() -> list[tuple[str, list[Path], dict[str, Transcript]]]:
    """(name, rubrics, {call id: transcript}) of every kept transcript set."""
    sets = []
    for name, path in (
        ("dev", DATA / "dev_transcripts.json"),
        ("dev-paraphrase", DATA / "dev_paraphrase_transcripts.json"),
    ):
        calls = json.loads(path.read_text(encoding="utf-8"))
        sets.append(
            (
                path.name,
                PRODUCTS[name],
                {k: (utterances(v["utterances"]), v["duration"]) for k, v in calls.items()},
            )
        )
    for path in sorted((DATA / "products").glob("*.json")):
        kept = json.loads(path.read_text(encoding="utf-8"))
        rubrics = PRODUCTS[path.name.split(".")[0]]
        calls = {k: (utterances(v["utterances"]), v["duration"]) for k, v in kept["calls"].items()}
        sets.append((path.name, rubrics, calls))
        refs = {
            k: (utterances(turns), kept["calls"][k]["duration"])
            for k, turns in kept.get("refs", {}).items()
            if k in kept["calls"]
        }
        if refs:
            sets.append((f"{path.name}:refs", rubrics, refs))
    for folder, rubric in SAMPLES.items():
        refs = {}
        for ref in sorted((ROOT / "samples" / folder).glob("*.ref.json")):
            data = json.loads(ref.read_text(encoding="utf-8"))
            refs[data["id"]] = (utterances(data["turns"]), data["duration"])
        sets.append((f"samples/{folder}", [rubric], refs))
    return sets


def result_json(result: object) -> str:
    return json.dumps(asdict(result), ensure_ascii=False, sort_keys=True)  # type: ignore[call-overload]


def database(url: str) -> Store:
    """An empty, migrated database at `url` (a PostgreSQL one is dropped and made again)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("postgresql"):
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{parsed.database}"'))
            conn.execute(text(f'create database "{parsed.database}"'))
        admin.dispose()
    elif parsed.database and Path(parsed.database).exists():
        Path(parsed.database).unlink()
    return Store(url, migrate=True)


ROLLUPS = ("kpi_rollup", "kpi_rollup_project", "error_rollup", "error_rollup_project")
# Rows of the tables a rescore writes, by natural key: every column but ids and creation times.
ROW_QUERIES = {
    "evaluation": (
        "select r.sha256, e.rubric_id, e.rubric_version, e.score, e.grade, e.fatal, e.outcome,"
        " e.asr_confidence, e.is_current, e.project, e.agent_id, e.phase, e.called_at,"
        " e.duration, e.sample_rank, e.reviewed_score, e.reviewed_grade, e.reviewed_fatal,"
        " e.needs_rereview from evaluation e join recording r on r.id = e.recording_id"
        " order by r.sha256, e.rubric_id, e.rubric_version"
    ),
    "finding": (
        "select r.sha256, e.rubric_id, e.rubric_version, f.rule_id, f.category, f.status,"
        " f.deduction, f.name, f.severity, f.detail, f.evidence, f.reviewed_status,"
        " f.reviewed_deduction, f.source, f.review_id from finding f"
        " join evaluation e on e.id = f.evaluation_id join recording r on r.id = e.recording_id"
        " order by r.sha256, e.rubric_id, e.rubric_version, f.id"
    ),
    "highlight": (
        'select r.sha256, e.rubric_id, e.rubric_version, h.role, h.start, h."end", h.text,'
        " h.reason from highlight h join evaluation e on e.id = h.evaluation_id"
        " join recording r on r.id = e.recording_id"
        " order by r.sha256, e.rubric_id, e.rubric_version, h.id"
    ),
    "costly_rule": (
        "select r.sha256, e.rubric_id, e.rubric_version, c.rule_id,"
        " c.recording_id = e.recording_id, c.project, c.agent_id, c.called_at, c.grade,"
        " c.reviewed_grade, c.fatal,"
        " c.reviewed_fatal, c.asr_confidence from costly_rule c"
        " join evaluation e on e.id = c.evaluation_id join recording r on r.id = c.recording_id"
        " order by r.sha256, e.rubric_id, e.rubric_version, c.rule_id"
    ),
    **{table: f"select * from {table}" for table in ROLLUPS},
}
# With one process the rows are written in a fixed order: their ids are compared too.
ID_QUERY = (
    "select r.sha256, e.rubric_id, e.rubric_version, e.id from evaluation e"
    " join recording r on r.id = e.recording_id order by e.id"
)


def stored_rows(url: str, workers: int) -> list[str]:
    """Every kept transcript stored once per rubric's project, rescored, the rows read back."""
    store = database(url)
    embedder = get_embedder()
    called = datetime(2026, 11, 20, 9, 0)
    count, projects = 0, []
    for name, rubric_paths, calls in transcript_sets():
        for path in rubric_paths:
            project = f"{name}|{path.name}"
            for cid, (utts, duration) in calls.items():
                rec = store.recordings.save_transcript(
                    hashlib.sha256(f"{project}|{cid}".encode()).hexdigest(),
                    f"{project}/{cid}.wav",
                    CallMetadata(agent_id=f"A{count % 7}", project=project, call_time=called),
                    duration,
                    2,
                    "stereo",
                    "embedded",
                    utts,
                )
                vectors = embed_utterances(embedder, [u.text for u in utts])
                store.recordings.save_vectors({rec.id: vectors})
                count += 1
            settings = Settings(database_url=url, rescore_workers=workers)
            QAService(store, settings).rescore(load_rubric(path), project=project)
            projects.append((project, path))
    for project, path in projects:  # again: every evaluation is replaced
        settings = Settings(database_url=url, rescore_workers=workers)
        QAService(store, settings).rescore(load_rubric(path), project=project)
    lines = []
    queries = {**ROW_QUERIES, **({"evaluation_id": ID_QUERY} if workers == 1 else {})}
    with store.engine.connect() as conn:
        for table, query in queries.items():
            rows = [
                f"{table}\t{json.dumps(list(row), ensure_ascii=False, default=str)}"
                for row in conn.execute(text(query))
            ]
            # a rollup's cells in the order of all their columns (its key leaves ties)
            lines += sorted(rows) if table in ROLLUPS else rows
    store.engine.dispose()
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="JSON lines, one per result")
    ap.add_argument("--db", help="also store, rescore and read back the rows in this database")
    ap.add_argument("--workers", type=int, default=1, help="processes a rescore evaluates with")
    ap.add_argument("--no-results", action="store_true", help="only the rows of --db")
    args = ap.parse_args()
    embedder = get_embedder()
    started, count, lines = time.process_time(), 0, []
    for name, rubric_paths, calls in [] if args.no_results else transcript_sets():
        vectors = {
            k: embed_utterances(embedder, [u.text for u in u_]) for k, (u_, _) in calls.items()
        }
        stored = {k: unpack_vectors(**pack_vectors(v)) for k, v in vectors.items()}
        for path in rubric_paths:
            scorer = Scorer(load_rubric(path))
            for kind, vecs in (("embedded", vectors), ("stored", stored)):
                for cid, (utts, duration) in calls.items():
                    call = Call(list(utts), duration, vectors=vecs[cid])
                    first = result_json(scorer.evaluate(call, cid))
                    call.reset()
                    again = result_json(scorer.evaluate(call, cid))
                    fresh = result_json(
                        scorer.evaluate(Call(list(utts), duration, vectors=vecs[cid]), cid)
                    )
                    if not first == again == fresh:
                        sys.exit(f"{name} {path.name} {kind} {cid}: a second evaluation differs")
                    key = f"{name}|{path.relative_to(ROOT.parent)}|{kind}|{cid}"
                    lines.append(f"{key}\t{first}")
                    count += 1
    if args.db:
        rows = stored_rows(args.db, args.workers)
        print(f"{len(rows)} stored rows read back from {make_url(args.db).database}")
        lines += rows
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"code: {Path(qa_service.__file__).parent}")
    print(f"{count} results written to {args.out} ({time.process_time() - started:.1f} CPU s)")


if __name__ == "__main__":
    main()
