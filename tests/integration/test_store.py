"""Storage on SQLite and on PostgreSQL: the same behaviour on both."""

import pytest

from qa_service.app.evaluations import record_evaluation
from qa_service.domain.metadata import CallMetadata, read_metadata
from qa_service.domain.results import Utterance as U
from qa_service.exceptions import RubricVersionConflict
from qa_service.rules.rubric import parse_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation, FindingRow, Recording, UtteranceRow
from tests.support import said

RUBRIC_TEXT = """
id: store-test
version: 1
mandatory_points:
  - {id: fee, any: [每月九十六元], weight: 10}
"""
UTTS = [U("agent", 0.5, 2.0, "您好，每月96元"), U("customer", 2.5, 3.0, "好的")]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request):
    url = request.getfixturevalue(f"{request.param}_url")
    return Store(url)


def test_transcript_evaluation_roundtrip(store):
    meta = CallMetadata(agent_id="A1", project="p", phase="trial")
    rec = store.recordings.save_transcript(
        "ab" * 32, "x.wav", meta, 3.5, 2, "stereo", "embedded", UTTS
    )
    assert store.recordings.utterances(rec.id) == UTTS
    rubric = parse_rubric(RUBRIC_TEXT)
    result = evaluate("x.wav", store.recordings.utterances(rec.id), 3.5, Scorer(rubric))
    ev = record_evaluation(store, rec.id, result)
    assert ev.score == 100 and ev.grade == "excellent"
    (finding,) = store.evaluations.findings(ev.id)
    assert (
        finding.evidence[0]["text"] == "您好，每月96元" and finding.evidence[0]["similarity"] == 1.0
    )
    # scoring again with the same rubric version replaces, never duplicates
    record_evaluation(store, rec.id, result)
    assert store.count(Evaluation) == 1 and store.count(FindingRow) == 1
    # the same audio again keeps one recording
    store.recordings.save_transcript(
        "ab" * 32, "copy.wav", meta, 3.5, 2, "stereo", "embedded", UTTS
    )
    assert store.count(Recording) == 1 and store.count(UtteranceRow) == 2


def test_rubric_versions_are_never_overwritten(store):
    rubric = parse_rubric(RUBRIC_TEXT)
    store.rubrics.save(rubric, RUBRIC_TEXT)
    store.rubrics.save(rubric, RUBRIC_TEXT)  # same content: fine
    with pytest.raises(
        RubricVersionConflict,
        match=said(
            "rubric {rubric} version {version} is already stored with other content; "
            "raise {field} to store a change"
        ),
    ):
        store.rubrics.save(rubric, RUBRIC_TEXT + "\n# changed\n")


def test_metadata_from_name_and_sidecar(tmp_path):
    audio = tmp_path / "telecom-upgrade_A017_20261121-143005_trial.wav"
    audio.write_bytes(b"")
    meta = read_metadata(audio)
    assert (meta.project, meta.agent_id, meta.phase) == ("telecom-upgrade", "A017", "trial")
    assert meta.call_time.isoformat() == "2026-11-21T14:30:05"
    (tmp_path / "telecom-upgrade_A017_20261121-143005_trial.json").write_text(
        '{"agent_id": "B2", "phase": "production", "call_time": "2026-11-22T08:00:00"}'
    )
    meta = read_metadata(audio)
    assert (meta.project, meta.agent_id, meta.phase) == ("telecom-upgrade", "B2", "production")
    assert meta.call_time.hour == 8
