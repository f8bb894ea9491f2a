"""Recording evaluations: one transaction stores scoring results, decides which evaluation of
each call is current, lays the call's reviews over the new results and keeps the rollups in
step."""

from __future__ import annotations

from sqlmodel import Session

from qa_service.config import DOUBTFUL_CONFIDENCE
from qa_service.domain.enums import Grade
from qa_service.domain.results import CallResult, Utterance
from qa_service.review.reviews import apply_written
from qa_service.storage.repositories.evaluations import Written
from qa_service.storage.repositories.recordings import EvaluatedRecording, RescoreTarget
from qa_service.storage.rollups import tracked
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation, Recording


def record_evaluation(store: Store, recording_id: int, result: CallResult) -> Evaluation:
    """One evaluation per recording and rubric version: scoring again replaces it."""
    return record_evaluations(store, [(recording_id, result)])[0]


def record_evaluations(store: Store, items: list[tuple[int, CallResult]]) -> list[Evaluation]:
    """record_evaluation_ids, the stored evaluations read back as objects."""
    if not items:
        return []
    with store.session() as s:
        written = _record(store, s, items)
        evaluations = store.evaluations.by_ids(s, (w.id for w in written))
        s.commit()
    return [evaluations[w.id] for w in written]


def record_evaluation_ids(store: Store, items: list[tuple[int, CallResult]]) -> list[int]:
    """Store many results in one transaction, replacing earlier ones of the same rubric
    version (the evaluation row keeps its id, so reviews can point at it). The newest
    result of each recording becomes its current evaluation; the rollups follow. The ids of
    the evaluations stored, in order."""
    if not items:
        return []
    with store.session() as s:
        written = _record(store, s, items)
        s.commit()
    return [w.id for w in written]


def _record(store: Store, s: Session, items: list[tuple[int, CallResult]]) -> list[Written]:
    rids = {rid for rid, _ in items}
    recordings = store.recordings.evaluated(s, rids)
    with tracked(s, rids):
        written = store.evaluations.write(
            s,
            [
                (recordings[rid], result, call_confidence(result, recordings[rid]))
                for rid, result in items
            ],
        )
        current = current_evaluations(store, s, written, recordings)
        store.evaluations.make_current(s, current, (w.id for w in written))
        apply_written(s, written)  # reviews belong to the call: laid over the new result
    return written


def stored(
    result: CallResult, recording: Recording | RescoreTarget, evaluation_id: int
) -> CallResult:
    """The result with the ids and metadata of the rows it was stored as."""
    result.recording_id, result.evaluation_id = recording.id, evaluation_id
    result.agent_id, result.project = recording.agent_id, recording.project
    return result


def current_evaluations(
    store: Store,
    s: Session,
    written: list[Written],
    recordings: dict[int, EvaluatedRecording],
) -> dict[int, int]:
    """Each written recording's current evaluation id: the newest written one, unless the
    call's project has an active rubric version and the call has been scored with it."""
    current = {w.recording_id: w.id for w in written}
    # Scoring with another version (an older one, another rubric) adds that evaluation
    # without moving "current" away from the active one.
    active = store.rubrics.active_versions(s, {r.project for r in recordings.values() if r.project})
    wanted = {
        rid: active[recordings[rid].project] for rid in current if recordings[rid].project in active
    }
    if wanted:
        for ev_id, rid, rubric_id, version in store.evaluations.versions_of(s, wanted):
            if (rubric_id, version) == wanted[rid]:
                current[rid] = ev_id
    return current


def call_confidence(result: CallResult, recording: EvaluatedRecording) -> float:
    """The confidence stored with an evaluation: none (0) where no speech was recognized
    (Grade.NO_SPEECH), else the recognition's (asr_confidence)."""
    if result.grade == Grade.NO_SPEECH:
        return 0.0
    return asr_confidence(result.utterances, recording)


def asr_confidence(utterances: list[Utterance], recording: EvaluatedRecording) -> float:
    """The call's speech confidence, no higher than doubtful when recognition warned that
    words may be missing (so the call is flagged to listen to)."""
    confidence = speech_confidence(utterances)
    if recording.asr_warnings:
        confidence = min(confidence, DOUBTFUL_CONFIDENCE)
    return confidence


def speech_confidence(utterances: list[Utterance]) -> float:
    """Recognition confidence of the call's speech, weighted by each utterance's duration."""
    seconds = sum(u.duration for u in utterances)
    if not seconds:
        return 1.0
    return sum(u.confidence * u.duration for u in utterances) / seconds
