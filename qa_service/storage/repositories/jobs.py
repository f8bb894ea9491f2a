"""Scoring requests (jobs): kept in the database as well as on the queue, so that a request
survives Redis being away and answers at /jobs/{id}."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlmodel import Session, select

from qa_service.domain.enums import JobState
from qa_service.rules.rubric import Rubric
from qa_service.storage.tables import JobRecord, utcnow


class Jobs:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def record(
        self,
        job_id: str,
        path: str,
        sha256: str,
        rubric: Rubric,
        agent_channel: str | None = None,
        recording_id: int | None = None,
    ) -> tuple[JobRecord, bool]:
        """The request's row (created `pending` if new); True when it was new."""
        with self.session() as s:
            row = s.get(JobRecord, job_id)
            if row is not None:
                return row, False
            row = JobRecord(
                id=job_id,
                path=path,
                sha256=sha256,
                rubric_id=rubric.id,
                rubric_version=rubric.version,
                agent_channel=agent_channel,
                recording_id=recording_id,
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return row, True

    def record_rescore(self, rubric: Rubric, project: str | None) -> JobRecord:
        """A rescore request's row (`pending`, kind `rescore`): kept like an upload, so that it
        survives Redis being away and answers at /jobs/{id}."""
        with self.session() as s:
            row = JobRecord(
                id=f"rescore_{uuid.uuid4().hex}",
                kind="rescore",
                path="",
                sha256="",
                rubric_id=rubric.id,
                rubric_version=rubric.version,
                project=project,
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def set_status(
        self,
        job_id: str,
        status: JobState,
        error: str = "",
        recording_id: int | None = None,
        evaluation_id: int | None = None,
    ) -> None:
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

    def get(self, job_id: str) -> JobRecord | None:
        with self.session() as s:
            return s.get(JobRecord, job_id)

    def recent(self, status: JobState | None = None, limit: int = 100) -> list[JobRecord]:
        """Requests, most recently changed first; of one status when given."""
        with self.session() as s:
            q = select(JobRecord).order_by(JobRecord.updated_at.desc()).limit(limit)
            if status:
                q = q.where(JobRecord.status == JobState(status).value)
            return list(s.exec(q).all())

    def unfinished(self) -> list[JobRecord]:
        """Requests accepted and not finished (pending, queued, scheduled for a retry or
        started), oldest first."""
        states = [
            JobState.PENDING.value,
            JobState.QUEUED.value,
            JobState.SCHEDULED.value,
            JobState.STARTED.value,
        ]
        with self.session() as s:
            return list(
                s.exec(
                    select(JobRecord)
                    .where(JobRecord.status.in_(states))
                    .order_by(JobRecord.created_at)
                ).all()
            )

    def pending(self) -> list[JobRecord]:
        """Requests stored while the queue was away, oldest first."""
        with self.session() as s:
            return list(
                s.exec(
                    select(JobRecord)
                    .where(JobRecord.status == JobState.PENDING.value)
                    .order_by(JobRecord.created_at)
                ).all()
            )

    def lost(self, on_queue: Callable[[str], bool]) -> list[JobRecord]:
        """Requests the database has as `queued` (or `scheduled` for a retry) but the queue no
        longer has (a Redis that restarted empty): `on_queue(job_id)` says whether the queue
        still knows a job."""
        with self.session() as s:
            rows = list(
                s.exec(
                    select(JobRecord)
                    .where(JobRecord.status.in_([JobState.QUEUED.value, JobState.SCHEDULED.value]))
                    .order_by(JobRecord.created_at)
                ).all()
            )
        return [r for r in rows if not on_queue(r.id)]
