"""A rescore evaluated by a pool of processes (app/batches.py) stores what one process stores,
findings and highlights written in bulk (storage/bulk.py: COPY on PostgreSQL, one executemany
on SQLite): the same results, rows and rollups as one process writing to SQLite."""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy import text

from qa_service.app.batches import pool_size
from qa_service.app.scoring import QAService
from qa_service.config import RESCORE_POOL_MIN_CALLS, Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance
from qa_service.rules.rubric import load_rubric
from qa_service.rules.semantic import embed_utterances, get_embedder
from qa_service.storage.store import Store
from tests.support import ROOT

RUBRIC = ROOT / "rubrics" / "telecom-data-upgrade.yaml"
CALLED = datetime(2026, 11, 20, 9, 30)
# Every column a rescore writes but ids and creation times, by natural key.
ROWS = (
    "select r.sha256, e.rubric_id, e.rubric_version, e.score, e.grade, e.fatal, e.outcome,"
    " e.asr_confidence, e.is_current, e.project, e.agent_id, e.called_at, e.duration,"
    " e.sample_rank from evaluation e join recording r on r.id = e.recording_id"
    " order by r.sha256",
    "select r.sha256, f.rule_id, f.category, f.status, f.deduction, f.name, f.severity,"
    " f.detail, f.evidence, f.source, f.reviewed_status from finding f"
    " join evaluation e on e.id = f.evaluation_id join recording r on r.id = e.recording_id"
    " order by r.sha256, f.id",
    'select r.sha256, h.role, h.start, h."end", h.text, h.reason from highlight h'
    " join evaluation e on e.id = h.evaluation_id join recording r on r.id = e.recording_id"
    " order by r.sha256, h.id",
    "select * from kpi_rollup",
    "select * from error_rollup",
)


def stored_calls(store: Store) -> None:
    """The dev corpus's ASR transcripts, two copies each, with their sentence vectors."""
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text("utf-8"))
    embedder = get_embedder()
    for copy in range(2):
        for i, (cid, t) in enumerate(sorted(data.items())):
            utts = [Utterance(**u) for u in t["utterances"]]
            rec = store.recordings.save_transcript(
                f"{copy}{cid}".ljust(64, "0"),
                f"{cid}-{copy}.wav",
                CallMetadata(agent_id=f"A{i % 3}", project="p", call_time=CALLED),
                t["duration"],
                2,
                "stereo",
                "embedded",
                utts,
            )
            store.recordings.save_vectors(
                {rec.id: embed_utterances(embedder, [u.text for u in utts])}
            )


def plain(value: object) -> object:
    """A column value as both databases give it back: SQLite returns JSON and times as text,
    booleans as integers."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            pass  # text that only begins like JSON
    elif isinstance(value, str) and DATETIME.fullmatch(value):
        value = datetime.fromisoformat(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, datetime):
        return value.isoformat(" ")
    if isinstance(value, float):
        # rollup sums added in another order (workers writing at once) differ in the last bit
        return round(value, 6)
    return int(value) if isinstance(value, bool) else value


DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?")


def rows(store: Store) -> list[list[tuple]]:
    with store.engine.connect() as conn:
        # rollup cells in a fixed order whatever the database's order of equal keys
        return [
            sorted((tuple(map(plain, r)) for r in conn.execute(text(q))), key=repr) for q in ROWS
        ]


def test_a_pool_stores_what_one_process_stores(tmp_path, postgres_url):
    rubric = load_rubric(RUBRIC)
    alone = Store(f"sqlite:///{tmp_path / 'alone.db'}")
    pooled = Store(postgres_url)
    for store in (alone, pooled):
        stored_calls(store)
    one = QAService(alone, Settings(rescore_workers=1)).rescore(rubric, "p", batch=10)
    two = QAService(pooled, Settings(rescore_workers=2)).rescore(rubric, "p", batch=10)
    assert len(one) == len(two) == 32
    ids = {"id": 0, "recording_id": 0, "evaluation_id": 0}  # each database's own
    assert [o.to_dict() | ids for o in one] == [o.to_dict() | ids for o in two]
    # findings and rollups as one process writes them (on SQLite, one executemany)
    assert rows(pooled) == rows(alone)
    assert sum(len(o.result.findings) for o in two) == len(rows(pooled)[1])
    # the same rubric version again replaces the rows: nothing more, nothing else
    again = QAService(pooled, Settings(rescore_workers=2)).rescore(rubric, "p", batch=10)
    assert [o.result.findings for o in again] == [o.result.findings for o in two]
    assert rows(pooled) == rows(alone)


def test_pool_size():
    auto = Settings(rescore_workers=0)
    assert pool_size(auto, "sqlite:///qa.db", RESCORE_POOL_MIN_CALLS - 1) == 1
    assert pool_size(auto, "sqlite:///qa.db", RESCORE_POOL_MIN_CALLS) >= 1
    assert pool_size(Settings(rescore_workers=3), "sqlite:///qa.db", 10) == 3
    # a database in memory has no second process to read it
    assert pool_size(Settings(rescore_workers=3), "sqlite://", 10) == 1
    assert pool_size(Settings(rescore_workers=3), "sqlite:///:memory:", 10) == 1
