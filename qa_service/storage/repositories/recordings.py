"""Recordings with their transcripts (utterances), sentence vectors and call metadata."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from qa_service.config import to_utc
from qa_service.domain.enums import Role
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance
from qa_service.rules import text_forms
from qa_service.rules.matching import PreparedText
from qa_service.rules.semantic import CallVectors, pack_vectors, unpack_vectors
from qa_service.storage.queries import among
from qa_service.storage.rollups import tracked
from qa_service.storage.tables import (
    Evaluation,
    Recording,
    TranscriptTexts,
    TranscriptVectors,
    UtteranceRow,
)


class RescoreTarget(NamedTuple):
    """What a rescore reads of a recording: its row's columns, not the ORM object (a rescore
    of a project lists a hundred thousand of them)."""

    id: int
    source_path: str
    duration: float
    asr_warnings: list
    agent_id: str | None
    project: str | None


class EvaluatedRecording(NamedTuple):
    """What storing an evaluation reads of its recording (app/evaluations.py): its row's
    columns, not the ORM object (a rescore stores hundreds of calls a transaction)."""

    id: int
    duration: float
    asr_warnings: list
    agent_id: str | None
    project: str | None
    phase: str
    call_time: datetime | None
    created_at: datetime


class Recordings:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def by_sha(self, sha256: str) -> Recording | None:
        with self.session() as s:
            return s.exec(select(Recording).where(Recording.sha256 == sha256)).first()

    def get(self, recording_id: int) -> Recording | None:
        with self.session() as s:
            return s.get(Recording, recording_id)

    def evaluated(self, s: Session, recording_ids: Iterable[int]) -> dict[int, EvaluatedRecording]:
        """What storing an evaluation reads of these recordings, in the caller's transaction."""
        r = Recording
        q = select(
            r.id,
            r.duration,
            r.asr_warnings,
            r.agent_id,
            r.project,
            r.phase,
            r.call_time,
            r.created_at,
        ).where(among(r.id, recording_ids, s))
        return {row[0]: EvaluatedRecording(*row) for row in s.execute(q)}

    def all(self, project: str | None = None, phase: str | None = None) -> list[Recording]:
        with self.session() as s:
            q = select(Recording).order_by(Recording.id)
            if project:
                q = q.where(Recording.project == project)
            if phase:
                q = q.where(Recording.phase == phase)
            return list(s.exec(q).all())

    def evaluated_with(self, rubric_id: str, projects: Iterable[str] = ()) -> list[Recording]:
        """Recordings with an evaluation under this rubric id, and those of these projects."""
        evaluated = Recording.id.in_(
            select(Evaluation.recording_id).where(Evaluation.rubric_id == rubric_id)
        )
        projects = list(projects)
        with self.session() as s:
            q = select(Recording).where(
                (evaluated | Recording.project.in_(projects)) if projects else evaluated
            )
            return list(s.exec(q.order_by(Recording.id)).all())

    def rescore_targets(
        self,
        project: str | None = None,
        evaluated_with: str | None = None,
        projects: Iterable[str] = (),
    ) -> list[RescoreTarget]:
        """The recordings of a project (as `all`), or those with an evaluation under the rubric
        id `evaluated_with` and those of `projects` (as `evaluated_with`), in id order."""
        r = Recording
        q = select(r.id, r.source_path, r.duration, r.asr_warnings, r.agent_id, r.project)
        if project:
            q = q.where(r.project == project)
        elif evaluated_with is not None:
            evaluated = r.id.in_(
                select(Evaluation.recording_id).where(Evaluation.rubric_id == evaluated_with)
            )
            projects = list(projects)
            q = q.where((evaluated | r.project.in_(projects)) if projects else evaluated)
        with self.session() as s:
            return [RescoreTarget(*row) for row in s.exec(q.order_by(r.id)).all()]

    def save_transcript(
        self,
        sha256: str,
        source_path: str,
        meta: CallMetadata,
        duration: float,
        channels: int,
        separation: str,
        asr_model: str,
        utterances: list[Utterance],
        warnings: Iterable[str] = (),
    ) -> Recording:
        """Store a recording with its utterances and recognition warnings, or update the
        metadata of a known one."""
        with self.session() as s:
            rec = s.exec(select(Recording).where(Recording.sha256 == sha256)).first()
            if rec is None:
                rec = Recording(
                    sha256=sha256,
                    source_path=source_path,
                    duration=duration,
                    channels=channels,
                    separation=separation,
                    asr_model=asr_model,
                    asr_warnings=list(warnings),
                )
                _apply_metadata(rec, meta)
                s.add(rec)
                s.flush()
            else:
                _change_metadata(s, rec, meta)
                if utterances:  # registered at upload, transcribed now
                    rec.duration, rec.channels, rec.separation, rec.asr_model = (
                        duration,
                        channels,
                        separation,
                        asr_model,
                    )
                    rec.asr_warnings = list(warnings)
                    s.add(rec)
            if utterances:
                s.exec(delete(UtteranceRow).where(UtteranceRow.recording_id == rec.id))
                # vectors belong to the utterances they were computed from
                s.exec(delete(TranscriptVectors).where(TranscriptVectors.recording_id == rec.id))
                s.exec(delete(TranscriptTexts).where(TranscriptTexts.recording_id == rec.id))
                s.add_all(
                    UtteranceRow(
                        recording_id=rec.id,
                        seq=i,
                        role=u.role,
                        start=u.start,
                        end=u.end,
                        text=u.text,
                        confidence=u.confidence,
                    )
                    for i, u in enumerate(utterances)
                )
            s.commit()
            s.refresh(rec)
            return rec

    def register(
        self, sha256: str, source_path: str, meta: CallMetadata, duration: float, channels: int
    ) -> Recording:
        """The recording's row as soon as it is uploaded (its id is in the upload's answer);
        the worker adds the transcript. A known recording is returned as it is."""
        known = self.by_sha(sha256)
        if known is not None:
            return known
        try:
            return self.save_transcript(
                sha256,
                source_path,
                meta,
                duration,
                channels,
                "stereo" if channels == 2 else "mono",
                "",
                [],
            )
        except IntegrityError:  # the same audio uploaded twice at once: the other one won
            return self.by_sha(sha256)

    def update_metadata(self, recording_id: int, meta: CallMetadata) -> None:
        with self.session() as s:
            _change_metadata(s, s.get(Recording, recording_id), meta)
            s.commit()

    def utterances(self, recording_id: int) -> list[Utterance]:
        with self.session() as s:
            rows = s.exec(
                select(UtteranceRow)
                .where(UtteranceRow.recording_id == recording_id)
                .order_by(UtteranceRow.seq)
            ).all()
        return [Utterance(r.role, r.start, r.end, r.text, r.confidence) for r in rows]

    def utterances_of(self, recording_ids: list[int]) -> dict[int, list[Utterance]]:
        """Utterances of many recordings in one query (rescoring reads thousands)."""
        with self.session() as s:
            return utterances_by_recording(s, recording_ids)

    def has_transcript(self, recording_id: int) -> bool:
        with self.session() as s:
            return (
                s.exec(
                    select(UtteranceRow.id)
                    .where(UtteranceRow.recording_id == recording_id)
                    .limit(1)
                ).first()
                is not None
            )

    def save_vectors(self, vectors: dict[int, CallVectors]) -> None:
        """Sentence vectors of stored transcripts (replacing those of another model)."""
        with self.session() as s:
            for recording_id, cv in vectors.items():
                s.merge(TranscriptVectors(recording_id=recording_id, **pack_vectors(cv)))
            s.commit()

    def save_texts(self, texts: dict[int, list[PreparedText]]) -> None:
        """Prepared texts of stored transcripts, in their utterances' order (replacing those of
        another form); a transcript text_forms cannot pack is left without."""
        with self.session() as s:
            for recording_id, prepared in texts.items():
                packed = text_forms.pack(prepared)
                if packed is not None:
                    s.merge(
                        TranscriptTexts(
                            recording_id=recording_id, form=text_forms.FORM, texts=packed
                        )
                    )
            s.commit()

    def texts_of(self, recording_ids: list[int]) -> dict[int, list[PreparedText]]:
        """Stored prepared texts of these recordings, of today's form only (none where the
        stored data is damaged: those are prepared again)."""
        t = TranscriptTexts
        with self.session() as s:
            rows = s.exec(
                select(t.recording_id, t.texts).where(
                    among(t.recording_id, recording_ids, s), t.form == text_forms.FORM
                )
            ).all()
        unpacked = {rid: text_forms.unpack(texts) for rid, texts in rows}
        return {rid: texts for rid, texts in unpacked.items() if texts is not None}

    def vectors_of(self, recording_ids: list[int]) -> dict[int, CallVectors]:
        """Stored sentence vectors of these recordings (those that have them)."""
        v = TranscriptVectors
        with self.session() as s:
            rows = s.exec(
                select(v.recording_id, v.model, v.dim, v.owners, v.spans, v.vectors).where(
                    among(v.recording_id, recording_ids, s)
                )
            ).all()
        return {
            rid: unpack_vectors(model, dim, owners, spans, vectors)
            for rid, model, dim, owners, spans, vectors in rows
        }


def utterances_by_recording(
    s: Session, recording_ids: list[int], role: Role | None = None
) -> dict[int, list[Utterance]]:
    """Each recording's utterances in order (only `role`'s, if given)."""
    out: dict[int, list[Utterance]] = {rid: [] for rid in recording_ids}
    # Columns, not ORM objects: rescoring reads a few hundred thousand of these rows.
    u = UtteranceRow
    q = select(u.recording_id, u.role, u.start, u.end, u.text, u.confidence).where(
        among(u.recording_id, recording_ids, s)
    )
    if role is not None:
        q = q.where(u.role == role)
    rows = s.exec(q.order_by(u.recording_id, u.seq)).all()
    for rid, role, start, end, text_, confidence in rows:
        out[rid].append(Utterance(role, start, end, text_, confidence))
    return out


def copy_metadata(ev: Evaluation, rec: Recording) -> None:
    """An evaluation keeps a copy of its call's metadata (the KPI queries filter on it)."""
    for name, value in metadata_columns(rec).items():
        setattr(ev, name, value)


def metadata_columns(rec: Recording | EvaluatedRecording) -> dict:
    """The evaluation's columns that copy its call's metadata, by name."""
    return {
        "project": rec.project or "",
        "agent_id": rec.agent_id or "",
        "phase": rec.phase,
        # One clock: UTC. A call without a call time counts when it was stored.
        "called_at": rec.call_time or rec.created_at,
    }


def _change_metadata(s: Session, rec: Recording, meta: CallMetadata) -> None:
    """New metadata for a stored call: its evaluations' copies and the rollups follow."""
    with tracked(s, [rec.id]):
        _apply_metadata(rec, meta)
        s.add(rec)
        s.flush()
        for ev in s.exec(select(Evaluation).where(Evaluation.recording_id == rec.id)).all():
            copy_metadata(ev, rec)
            s.add(ev)


def _apply_metadata(rec: Recording, meta: CallMetadata) -> None:
    """What the newest sidecar or file name says wins; what it leaves out stays."""
    rec.agent_id = meta.agent_id or rec.agent_id
    rec.project = meta.project or rec.project
    # stored in UTC: a call time without an offset is the call center's (QA_TIMEZONE)
    rec.call_time = to_utc(meta.call_time) if meta.call_time else rec.call_time
    rec.phase = meta.phase
