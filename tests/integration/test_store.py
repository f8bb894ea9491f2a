"""Storage on SQLite and on PostgreSQL: the same behaviour on both."""

import pytest
from sqlalchemy import update

from qa_service.app.evaluations import record_evaluation, record_evaluations
from qa_service.domain.metadata import CallMetadata, read_metadata
from qa_service.domain.results import Utterance as U
from qa_service.domain.sampling import DEFAULT_SEED, sample_rank
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


def test_rescoring_replaces_rows_in_place_and_takes_no_new_ids(store):
    """Evaluations.write stores rows with one upsert (on PostgreSQL from arrays): a replaced
    row keeps its id, sample rank and metadata copy, gets a new creation time and loses a
    stale reviewed result; a new row takes the next id and its column default's rank."""
    rubric = parse_rubric(RUBRIC_TEXT)
    good = evaluate("x.wav", UTTS, 3.5, Scorer(rubric))
    missed = [U("agent", 0.5, 2.0, "您好，这里是客服中心，请问有什么可以帮您"), UTTS[1]]
    bad = evaluate("y.wav", missed, 3.5, Scorer(rubric))
    assert bad.score < good.score
    recs = [
        store.recordings.save_transcript(
            f"{i:064x}",
            f"{i}.wav",
            CallMetadata(agent_id=f"A{i}", project="p"),
            3.5,
            2,
            "stereo",
            "embedded",
            UTTS,
        )
        for i in range(3)
    ]
    first = record_evaluations(store, [(recs[0].id, good), (recs[1].id, good)])
    with store.session() as s:
        s.exec(
            update(Evaluation)
            .where(Evaluation.id == first[0].id)
            .values(reviewed_grade="fail", reviewed_score=0.0, reviewed_fatal=True)
        )
        s.commit()
    # the same call twice in one batch: its last result is stored, once
    again = record_evaluations(store, [(recs[1].id, good), (recs[0].id, good), (recs[1].id, bad)])
    assert [ev.id for ev in again] == [first[1].id, first[0].id, first[1].id]
    assert (again[0].score, again[0].grade) == (bad.score, bad.grade)
    assert again[1].created_at > first[0].created_at
    assert (again[1].reviewed_grade, again[1].reviewed_score, again[1].reviewed_fatal) == (
        None,
        None,
        None,
    )
    (new,) = record_evaluations(store, [(recs[2].id, good)])
    assert new.id == max(ev.id for ev in first) + 1  # no id went to the rows replaced
    for ev in store.evaluations.all():
        rec = next(r for r in recs if r.id == ev.recording_id)
        assert ev.sample_rank == sample_rank(DEFAULT_SEED, rec.id)
        assert (ev.project, ev.agent_id, ev.called_at) == ("p", rec.agent_id, rec.created_at)
        assert ev.is_current and ev.asr_confidence == 1.0 and ev.duration == 3.5
    assert store.count(Evaluation) == 3 and store.count(FindingRow) == len(bad.findings) + 2 * len(
        good.findings
    )


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


def test_many_ids_read_as_one_parameter_on_postgresql(store):
    """A read of a thousand recordings' utterances sends PostgreSQL one array parameter (the
    driver parses a thousand placeholders in Python), and reads the same rows as an IN list."""
    from sqlalchemy import event

    from qa_service.storage.repositories.recordings import utterances_by_recording

    ids = []
    for i in range(3):
        utts = [U("agent", 0.0, 1.0, f"第{i}句"), U("customer", 1.0, 2.0, "好的")]
        rec = store.recordings.save_transcript(
            f"{i:064x}", f"c{i}", CallMetadata(project="p"), 2.0, 2, "stereo", "x", utts
        )
        ids.append(rec.id)
    asked = ids + list(range(10_000, 11_000))  # ids of no recording read as nothing
    sent: list = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: sent.append(a[3]))
    with store.session() as s:
        got = utterances_by_recording(s, asked, role="customer")
    assert {rid: [u.text for u in us] for rid, us in got.items() if us} == {
        rid: ["好的"] for rid in ids
    }
    one_array = store.engine.dialect.name == "postgresql"
    assert len(sent[-1]) == (2 if one_array else 1 + len(asked))  # the ids and the role
