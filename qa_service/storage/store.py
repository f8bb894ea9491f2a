"""The storage layer: the one way to the database. Recordings, transcripts, rubrics,
evaluations and scoring requests (jobs) are read and written here; the rest of the service
calls these methods instead of writing its own queries."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Callable, Iterable, Optional, TypeVar

from sqlalchemy import delete, exists, func, insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from qa_service.storage.tables import (
    ActiveRubric, ApiKey, Evaluation, FindingRow, HighlightRow, JobRecord, Recording, RubricRow,
    TranscriptVectors, UtteranceRow, utcnow,
)
from qa_service.config import get_settings, to_utc
from qa_service.domain.enums import COSTLY, Grade, JobState
from qa_service.storage.queries import filters
from qa_service.domain.metadata import CallMetadata
from qa_service.storage.migrate import require_head, upgrade
from qa_service.domain.results import DOUBTFUL_CONFIDENCE, CallResult, Utterance
from qa_service.review.reviews import apply_reviews
from qa_service.storage.rollups import rebuild, tracked
from qa_service.rules.rubric import Rubric, parse_rubric
from qa_service.rules.semantic import CallVectors, pack_vectors, unpack_vectors

T = TypeVar("T")


class RubricNotFound(LookupError):
    """No rubric stored under this id and version."""


class RubricVersionConflict(ValueError):
    """The same rubric id and version stored already, with other content."""

_engines: dict[str, Engine] = {}


def get_engine(url: str) -> Engine:
    """One engine per URL and process; SQLite gets a busy timeout so workers can share it."""
    if url not in _engines:
        kwargs = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        _engines[url] = create_engine(url, **kwargs)
    return _engines[url]


class Store:
    """Opening a store checks the schema: at head, or refused (SchemaNotCurrent) with what to
    run. `migrate=True` upgrades first (Alembic, never create_all): for `qa-service migrate`
    and the one-process commands; None follows QA_AUTO_MIGRATE (development, tests)."""

    def __init__(self, url: str, migrate: Optional[bool] = None):
        self.url = url
        self.engine = get_engine(url)
        if migrate if migrate is not None else get_settings().auto_migrate:
            upgrade(self.engine)
        require_head(self.engine)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def read(self, query: Callable[..., T], *args, **kwargs) -> T:
        """Run a query of the metrics modules (kpis.py, reports.py: functions of a session)
        in a session of its own."""
        with self.session() as s:
            return query(s, *args, **kwargs)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("select 1"))

    # Recordings and transcripts ---------------------------------------------------------
    def recording_by_sha(self, sha256: str) -> Optional[Recording]:
        with self.session() as s:
            return s.exec(select(Recording).where(Recording.sha256 == sha256)).first()

    def save_transcript(self, sha256: str, source_path: str, meta: CallMetadata,
                        duration: float, channels: int, separation: str, asr_model: str,
                        utterances: list[Utterance], warnings: Iterable[str] = ()) -> Recording:
        """Store a recording with its utterances and recognition warnings, or update the
        metadata of a known one."""
        with self.session() as s:
            rec = s.exec(select(Recording).where(Recording.sha256 == sha256)).first()
            if rec is None:
                rec = Recording(sha256=sha256, source_path=source_path, duration=duration,
                                channels=channels, separation=separation, asr_model=asr_model,
                                asr_warnings=list(warnings))
                _apply_metadata(rec, meta)
                s.add(rec)
                s.flush()
            else:
                _change_metadata(s, rec, meta)
                if utterances:  # registered at upload, transcribed now
                    rec.duration, rec.channels, rec.separation, rec.asr_model = (
                        duration, channels, separation, asr_model)
                    rec.asr_warnings = list(warnings)
                    s.add(rec)
            if utterances:
                s.exec(delete(UtteranceRow).where(UtteranceRow.recording_id == rec.id))
                # vectors belong to the utterances they were computed from
                s.exec(delete(TranscriptVectors).where(TranscriptVectors.recording_id == rec.id))
                s.add_all(UtteranceRow(recording_id=rec.id, seq=i, role=u.role, start=u.start,
                                       end=u.end, text=u.text, confidence=u.confidence)
                          for i, u in enumerate(utterances))
            s.commit()
            s.refresh(rec)
            return rec

    def register_recording(self, sha256: str, source_path: str, meta: CallMetadata,
                           duration: float, channels: int) -> Recording:
        """The recording's row as soon as it is uploaded (its id is in the upload's answer);
        the worker adds the transcript. A known recording is returned as it is."""
        known = self.recording_by_sha(sha256)
        if known is not None:
            return known
        try:
            return self.save_transcript(sha256, source_path, meta, duration, channels,
                                        "stereo" if channels == 2 else "mono", "", [])
        except IntegrityError:  # the same audio uploaded twice at once: the other one won
            return self.recording_by_sha(sha256)

    def save_vectors(self, vectors: dict[int, CallVectors]) -> None:
        """Sentence vectors of stored transcripts (replacing those of another model)."""
        with self.session() as s:
            for recording_id, cv in vectors.items():
                s.merge(TranscriptVectors(recording_id=recording_id, **pack_vectors(cv)))
            s.commit()

    def vectors_of(self, recording_ids: list[int]) -> dict[int, CallVectors]:
        """Stored sentence vectors of these recordings (those that have them)."""
        v = TranscriptVectors
        with self.session() as s:
            rows = s.exec(select(v.recording_id, v.model, v.dim, v.owners, v.spans, v.vectors)
                          .where(v.recording_id.in_(recording_ids))).all()
        return {rid: unpack_vectors(model, dim, owners, spans, vectors)
                for rid, model, dim, owners, spans, vectors in rows}

    def update_metadata(self, recording_id: int, meta: CallMetadata) -> None:
        with self.session() as s:
            _change_metadata(s, s.get(Recording, recording_id), meta)
            s.commit()

    def utterances(self, recording_id: int) -> list[Utterance]:
        with self.session() as s:
            rows = s.exec(select(UtteranceRow).where(UtteranceRow.recording_id == recording_id)
                          .order_by(UtteranceRow.seq)).all()
        return [Utterance(r.role, r.start, r.end, r.text, r.confidence) for r in rows]

    def utterances_of(self, recording_ids: list[int]) -> dict[int, list[Utterance]]:
        """Utterances of many recordings in one query (rescoring reads thousands)."""
        with self.session() as s:
            return utterances_by_recording(s, recording_ids)

    def recording(self, recording_id: int) -> Optional[Recording]:
        with self.session() as s:
            return s.get(Recording, recording_id)

    def has_transcript(self, recording_id: int) -> bool:
        with self.session() as s:
            return s.exec(select(UtteranceRow.id).where(
                UtteranceRow.recording_id == recording_id).limit(1)).first() is not None

    def rescore_scope(self, rubric_id: str, project: Optional[str] = None) -> tuple[list[Recording], str]:
        """What a rescore with this rubric covers, and a sentence saying so: the project's
        recordings when one is given; else only the recordings already evaluated with this
        rubric id and those of the projects where it is active (never every campaign's calls)."""
        if project:
            chosen = self.recordings(project=project)
            return chosen, f"{len(chosen)} recording(s) of project {project}"
        with self.session() as s:
            projects = sorted(s.exec(select(ActiveRubric.project)
                                     .where(ActiveRubric.rubric_id == rubric_id)).all())
            evaluated = select(Evaluation.recording_id).where(Evaluation.rubric_id == rubric_id)
            q = select(Recording).where(Recording.id.in_(evaluated))
            if projects:
                q = select(Recording).where(Recording.id.in_(evaluated) |
                                            Recording.project.in_(projects))
            chosen = list(s.exec(q.order_by(Recording.id)).all())
        where = f" and the recordings of project(s) {', '.join(projects)} where it is active" \
            if projects else ""
        return chosen, (f"{len(chosen)} recording(s): those already evaluated with rubric "
                        f"{rubric_id}{where} (give a project to rescore another)")

    def recordings(self, project: Optional[str] = None,
                   phase: Optional[str] = None) -> list[Recording]:
        with self.session() as s:
            q = select(Recording).order_by(Recording.id)
            if project:
                q = q.where(Recording.project == project)
            if phase:
                q = q.where(Recording.phase == phase)
            return list(s.exec(q).all())

    # Rubrics ---------------------------------------------------------------------------
    def save_rubric(self, rubric: Rubric, yaml_text: str) -> RubricRow:
        """Versions are never overwritten: the same id and version with other text is refused."""
        digest = hashlib.sha256(yaml_text.encode("utf-8")).hexdigest()
        with self.session() as s:
            row = s.exec(select(RubricRow).where(RubricRow.rubric_id == rubric.id,
                                                 RubricRow.version == rubric.version)).first()
            if row is not None:
                if row.sha256 != digest:
                    raise RubricVersionConflict(
                        f"rubric {rubric.id} version {rubric.version} is already stored with "
                        "other content; raise `version` to store a change"
                    )
                return row
            row = RubricRow(rubric_id=rubric.id, version=rubric.version, name=rubric.name,
                            project_type=rubric.project_type, yaml_text=yaml_text, sha256=digest)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def rubric(self, rubric_id: str, version: int) -> Optional[RubricRow]:
        with self.session() as s:
            return s.exec(select(RubricRow).where(RubricRow.rubric_id == rubric_id,
                                                  RubricRow.version == version)).first()

    def load_rubric(self, rubric_id: str, version: int) -> Rubric:
        """The stored rubric version, parsed (jobs and reports name rubrics by id and version)."""
        row = self.rubric(rubric_id, version)
        if row is None:
            raise RubricNotFound(f"rubric {rubric_id} version {version} is not stored")
        return parse_rubric(row.yaml_text, f"{rubric_id} v{version}")

    def rubrics(self) -> list[RubricRow]:
        """Every stored rubric version, by id then version."""
        with self.session() as s:
            return list(s.exec(select(RubricRow).order_by(RubricRow.rubric_id, RubricRow.version)).all())

    def active_rubrics(self) -> list[ActiveRubric]:
        with self.session() as s:
            return list(s.exec(select(ActiveRubric).order_by(ActiveRubric.project)).all())

    def activate_rubric(self, project: str, rubric_id: str, version: int) -> None:
        with self.session() as s:
            row = s.get(ActiveRubric, project) or ActiveRubric(project=project, rubric_id=rubric_id,
                                                              version=version)
            row.rubric_id, row.version, row.activated_at = rubric_id, version, utcnow()
            s.add(row)
            s.commit()

    def active_rubric(self, project: str) -> Optional[ActiveRubric]:
        with self.session() as s:
            return s.get(ActiveRubric, project)

    # Evaluations -----------------------------------------------------------------------
    def save_evaluation(self, recording_id: int, result: CallResult) -> Evaluation:
        """One evaluation per recording and rubric version: scoring again replaces it."""
        return self.save_evaluations([(recording_id, result)])[0]

    def save_evaluations(self, items: list[tuple[int, CallResult]]) -> list[Evaluation]:
        """Store many results in one transaction, replacing earlier ones of the same rubric
        version (the evaluation row keeps its id, so reviews can point at it). The newest
        result of each recording becomes its current evaluation; the rollups follow."""
        if not items:
            return []
        with self.session() as s:
            rids = {rid for rid, _ in items}
            recordings = {r.id: r for r in s.exec(select(Recording).where(Recording.id.in_(rids))).all()}
            with tracked(s, rids):
                evaluations = self._write_evaluations(s, items, recordings)
                apply_reviews(s, evaluations)  # reviews belong to the call: laid over the new result
            s.commit()
            return evaluations

    @staticmethod
    def _write_evaluations(s: Session, items: list[tuple[int, CallResult]],
                           recordings: dict[int, Recording]) -> list[Evaluation]:
        keys = {(rid, r.rubric_id, r.rubric_version) for rid, r in items}
        old = {(e.recording_id, e.rubric_id, e.rubric_version): e for e in s.exec(
            select(Evaluation).where(Evaluation.recording_id.in_({k[0] for k in keys}),
                                     Evaluation.rubric_id.in_({k[1] for k in keys}))).all()}
        stale = [e.id for k, e in old.items() if k in keys]
        if stale:
            s.exec(delete(FindingRow).where(FindingRow.evaluation_id.in_(stale)))
            s.exec(delete(HighlightRow).where(HighlightRow.evaluation_id.in_(stale)))
        evaluations = []
        for rid, result in items:
            ev = old.get((rid, result.rubric_id, result.rubric_version))
            if ev is None:
                ev = Evaluation(recording_id=rid, rubric_id=result.rubric_id,
                                rubric_version=result.rubric_version, score=0, grade=Grade.FAIL)
            else:
                ev.created_at = utcnow()
            ev.score, ev.grade, ev.fatal, ev.outcome = (
                result.score, result.grade, result.fatal, result.outcome)
            ev.asr_confidence = speech_confidence(result.utterances)
            if recordings[rid].asr_warnings:  # words may be missing: flag the call
                ev.asr_confidence = min(ev.asr_confidence, DOUBTFUL_CONFIDENCE)
            ev.duration = recordings[rid].duration
            _copy_metadata(ev, recordings[rid])
            s.add(ev)
            evaluations.append(ev)
        s.flush()
        newest = {rid: ev.id for (rid, _), ev in zip(items, evaluations)}
        # Current is the project's active rubric version where one is set and this call has
        # been scored with it: scoring with another (an older version, another rubric) adds
        # that evaluation without moving "current" away from the active one.
        active = {a.project: (a.rubric_id, a.version) for a in s.exec(select(ActiveRubric).where(
            ActiveRubric.project.in_({r.project for r in recordings.values() if r.project}))).all()}
        wanted = {rid: active[recordings[rid].project] for rid in newest
                  if recordings[rid].project in active}
        if wanted:
            for ev in s.exec(select(Evaluation).where(Evaluation.recording_id.in_(wanted))).all():
                if (ev.rubric_id, ev.rubric_version) == wanted[ev.recording_id]:
                    newest[ev.recording_id] = ev.id
        s.exec(update(Evaluation).where(Evaluation.recording_id.in_(newest),
                                        Evaluation.id.notin_(newest.values()))
               .values(is_current=False))
        for ev in evaluations:
            ev.is_current = ev.id == newest[ev.recording_id]
            s.add(ev)
        # Findings and highlights go in as plain rows, one executemany each: building ORM
        # objects for them was most of a rescore's write time (nothing reads them back from
        # this session; apply_reviews queries them).
        findings = [row for ev, (_, result) in zip(evaluations, items)
                    for row in _finding_rows(ev.id, result)]
        if findings:
            s.execute(insert(FindingRow), findings)
        highlights = [{"evaluation_id": ev.id, **asdict(h)}
                      for ev, (_, result) in zip(evaluations, items) for h in result.highlights]
        if highlights:
            s.execute(insert(HighlightRow), highlights)
        return evaluations

    def evaluations(self, rubric_id: Optional[str] = None) -> list[Evaluation]:
        with self.session() as s:
            q = select(Evaluation).order_by(Evaluation.id)
            if rubric_id:
                q = q.where(Evaluation.rubric_id == rubric_id)
            return list(s.exec(q).all())

    def evaluations_of(self, recording_id: int) -> list[Evaluation]:
        """A recording's evaluations, one per rubric version it was scored with."""
        with self.session() as s:
            return list(s.exec(select(Evaluation).where(Evaluation.recording_id == recording_id)
                               .order_by(Evaluation.id)).all())

    def evaluations_created_since(self, since: datetime) -> list[Evaluation]:
        with self.session() as s:
            return list(s.exec(select(Evaluation).where(Evaluation.created_at >= since)
                               .order_by(Evaluation.id)).all())

    def is_scored(self, sha256: str, rubric_id: str, version: int) -> bool:
        """Whether this audio has an evaluation under this rubric version."""
        with self.session() as s:
            return s.exec(select(Evaluation.id).join(Recording, Recording.id == Evaluation.recording_id)
                          .where(Recording.sha256 == sha256, Evaluation.rubric_id == rubric_id,
                                 Evaluation.rubric_version == version).limit(1)).first() is not None

    def flagged(self, low_confidence: float, count_limit: int, page: int = 1, page_size: int = 50,
                rule: Optional[str] = None, **where) -> tuple[int, list[Evaluation]]:
        """Current evaluations to listen to (Evaluation.flagged_sql), newest call first: a page
        of them and how many there are, counted up to `count_limit` + 1 (an exact count of
        half a million costs more than the page). `where`: kpis.filters' project, agent,
        since, until."""
        conds = [filters(**where), Evaluation.flagged_sql(low_confidence)]
        if rule:
            conds.append(exists().where(
                FindingRow.evaluation_id == Evaluation.id, FindingRow.rule_id == rule,
                FindingRow.effective_status_sql().in_(COSTLY)))
        with self.session() as s:
            total = s.exec(select(func.count()).select_from(
                select(Evaluation.id).where(*conds).limit(count_limit + 1).subquery())).one()
            rows = s.exec(select(Evaluation).where(*conds)
                          .order_by(Evaluation.called_at.desc(), Evaluation.id.desc())
                          .offset((page - 1) * page_size).limit(page_size)).all()
        return total, list(rows)

    def rebuild_rollups(self) -> int:
        """Recompute the rollups from the evaluations; returns how many were counted."""
        with self.session() as s:
            counted = rebuild(s)
            s.commit()
        return counted

    def findings(self, evaluation_id: int) -> list[FindingRow]:
        with self.session() as s:
            return list(s.exec(select(FindingRow).where(
                FindingRow.evaluation_id == evaluation_id).order_by(FindingRow.id)).all())

    # Scoring requests (jobs) ----------------------------------------------------------
    def record_job(self, job_id: str, path: str, sha256: str, rubric: Rubric,
                   agent_channel: Optional[str] = None,
                   recording_id: Optional[int] = None) -> tuple[JobRecord, bool]:
        """The request's row (created `pending` if new); True when it was new."""
        with self.session() as s:
            row = s.get(JobRecord, job_id)
            if row is not None:
                return row, False
            row = JobRecord(id=job_id, path=path, sha256=sha256, rubric_id=rubric.id,
                            rubric_version=rubric.version, agent_channel=agent_channel,
                            recording_id=recording_id)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row, True

    def record_rescore(self, rubric: Rubric, project: Optional[str]) -> JobRecord:
        """A rescore request's row (`pending`, kind `rescore`): kept like an upload, so that it
        survives Redis being away and answers at /jobs/{id}."""
        with self.session() as s:
            row = JobRecord(id=f"rescore_{uuid.uuid4().hex}", kind="rescore", path="", sha256="",
                            rubric_id=rubric.id, rubric_version=rubric.version, project=project)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def lost_jobs(self, on_queue: Callable[[str], bool]) -> list[JobRecord]:
        """Requests the database has as `queued` but the queue no longer has (a Redis that
        restarted empty): `on_queue(job_id)` says whether the queue still knows a job."""
        with self.session() as s:
            rows = list(s.exec(select(JobRecord).where(JobRecord.status == JobState.QUEUED.value)
                               .order_by(JobRecord.created_at)).all())
        return [r for r in rows if not on_queue(r.id)]

    def set_job_status(self, job_id: str, status: JobState, error: str = "",
                       recording_id: Optional[int] = None, evaluation_id: Optional[int] = None) -> None:
        """Move a request to `status` (counting attempts as it starts), keeping its last error
        and the recording and evaluation it produced."""
        with self.session() as s:
            row = s.get(JobRecord, job_id)
            if row is not None:
                row.status, row.updated_at = JobState(status).value, utcnow()
                if error:
                    row.error = error
                row.recording_id = recording_id or row.recording_id
                row.evaluation_id = evaluation_id or row.evaluation_id
                if status == JobState.STARTED:
                    row.attempts += 1
                s.add(row)
                s.commit()

    def job(self, job_id: str) -> Optional[JobRecord]:
        with self.session() as s:
            return s.get(JobRecord, job_id)

    def jobs(self, status: Optional[JobState] = None, limit: int = 100) -> list[JobRecord]:
        """Requests, most recently changed first; of one status when given."""
        with self.session() as s:
            q = select(JobRecord).order_by(JobRecord.updated_at.desc()).limit(limit)
            if status:
                q = q.where(JobRecord.status == JobState(status).value)
            return list(s.exec(q).all())

    def unfinished_jobs(self) -> list[JobRecord]:
        """Requests accepted and not finished (pending, queued or started), oldest first."""
        states = [JobState.PENDING.value, JobState.QUEUED.value, JobState.STARTED.value]
        with self.session() as s:
            return list(s.exec(select(JobRecord).where(JobRecord.status.in_(states))
                               .order_by(JobRecord.created_at)).all())

    def pending_jobs(self) -> list[JobRecord]:
        """Requests stored while the queue was away, oldest first."""
        with self.session() as s:
            return list(s.exec(select(JobRecord).where(JobRecord.status == JobState.PENDING.value)
                               .order_by(JobRecord.created_at)).all())

    # API keys ---------------------------------------------------------------------------
    def add_api_key(self, key: ApiKey) -> ApiKey:
        with self.session() as s:
            s.add(key)
            s.commit()
            s.refresh(key)
            return key

    def api_keys(self) -> list[ApiKey]:
        with self.session() as s:
            return list(s.exec(select(ApiKey).order_by(ApiKey.id)).all())

    def revoke_api_key(self, key_id: int) -> Optional[ApiKey]:
        with self.session() as s:
            key = s.get(ApiKey, key_id)
            if key is not None:
                key.revoked = True
                s.add(key)
                s.commit()
                s.refresh(key)
            return key

    def api_key_by_hash(self, key_hash: str) -> Optional[ApiKey]:
        with self.session() as s:
            return s.exec(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()

    def count(self, model: type[SQLModel]) -> int:
        with self.session() as s:
            return s.exec(select(func.count()).select_from(model)).one()


def utterances_by_recording(s: Session, recording_ids: list[int]) -> dict[int, list[Utterance]]:
    out: dict[int, list[Utterance]] = {rid: [] for rid in recording_ids}
    # Columns, not ORM objects: rescoring reads a few hundred thousand of these rows.
    u = UtteranceRow
    rows = s.exec(select(u.recording_id, u.role, u.start, u.end, u.text, u.confidence)
                  .where(u.recording_id.in_(recording_ids)).order_by(u.recording_id, u.seq)).all()
    for rid, role, start, end, text_, confidence in rows:
        out[rid].append(Utterance(role, start, end, text_, confidence))
    return out


def speech_confidence(utterances: list[Utterance]) -> float:
    seconds = sum(u.duration for u in utterances)
    if not seconds:
        return 1.0
    return sum(u.confidence * u.duration for u in utterances) / seconds


def _change_metadata(s: Session, rec: Recording, meta: CallMetadata) -> None:
    """New metadata for a stored call: its evaluations' copies and the rollups follow."""
    with tracked(s, [rec.id]):
        _apply_metadata(rec, meta)
        s.add(rec)
        s.flush()
        for ev in s.exec(select(Evaluation).where(Evaluation.recording_id == rec.id)).all():
            _copy_metadata(ev, rec)
            s.add(ev)


def _copy_metadata(ev: Evaluation, rec: Recording) -> None:
    ev.project, ev.agent_id, ev.phase = rec.project or "", rec.agent_id or "", rec.phase
    # One clock: UTC. A call without a call time counts when it was stored.
    ev.called_at = rec.call_time or rec.created_at


def _apply_metadata(rec: Recording, meta: CallMetadata) -> None:
    """What the newest sidecar or file name says wins; what it leaves out stays."""
    rec.agent_id = meta.agent_id or rec.agent_id
    rec.project = meta.project or rec.project
    # stored in UTC: a call time without an offset is the call center's (QA_TIMEZONE)
    rec.call_time = to_utc(meta.call_time) if meta.call_time else rec.call_time
    rec.phase = meta.phase


def _finding_rows(evaluation_id: int, result: CallResult) -> Iterable[dict]:
    """Column values of a result's finding rows (every row the same keys, for executemany)."""
    for f in result.findings:
        # Evidence holds plain values only: vars() is asdict() without its deep copy.
        evidence = [{k: v for k, v in vars(e).items() if v is not None} for e in f.evidence]
        yield {"evaluation_id": evaluation_id, "rule_id": f.rule_id, "category": str(f.category),
               "status": str(f.status), "deduction": f.deduction, "name": f.name,
               "severity": f.severity, "detail": f.detail, "evidence": evidence,
               "source": "machine"}
