"""Getting scoring requests to a worker: rq on Redis, or in-process with no Redis.

Every request is first written to the database (JobRecord, status `pending`), then put on
a queue. If Redis is away the request stays pending and the caller hears so (503); a
background loop puts pending requests on the queue once Redis answers again.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job
from sqlmodel import select

from qa_service import jobs
from qa_service.db import JobRecord, utcnow
from qa_service.rubric import Rubric
from qa_service.store import Store

log = logging.getLogger(__name__)


class QueueUnavailable(RuntimeError):
    pass


def record_job(store: Store, path: str, sha256: str, rubric: Rubric,
               agent_channel: Optional[str] = None,
               recording_id: Optional[int] = None) -> tuple[JobRecord, bool]:
    """The request's row (created if new); True when it was new."""
    job_id = jobs.score_job_id(sha256, rubric)
    with store.session() as s:
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


def set_status(store: Store, job_id: str, status: str, error: str = "",
               recording_id: Optional[int] = None, evaluation_id: Optional[int] = None) -> None:
    with store.session() as s:
        row = s.get(JobRecord, job_id)
        if row is not None:
            row.status, row.updated_at = status, utcnow()
            if error:
                row.error = error
            row.recording_id = recording_id or row.recording_id
            row.evaluation_id = evaluation_id or row.evaluation_id
            if status == "started":
                row.attempts += 1
            s.add(row)
            s.commit()


class Dispatcher:
    mode = "abstract"

    def __init__(self, store: Store):
        self.store = store

    def submit(self, row: JobRecord, rubric: Rubric) -> str:
        raise NotImplementedError

    def status(self, row: JobRecord) -> JobRecord:
        return row

    def submit_rescore(self, rubric: Rubric, project: Optional[str]) -> str:
        raise NotImplementedError

    def close(self) -> None:
        pass


class RqDispatcher(Dispatcher):
    mode = "rq"

    def __init__(self, store: Store, redis: Redis, retry_seconds: float = 5.0):
        super().__init__(store)
        self.redis = redis
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_pending_loop, args=(retry_seconds,),
                                        daemon=True, name="qa-pending-flush")
        self._thread.start()

    def submit(self, row: JobRecord, rubric: Rubric) -> str:
        try:
            job = jobs.enqueue_score(self.redis, row.path, rubric, row.agent_channel)
        except RedisError as exc:
            raise QueueUnavailable(
                f"the job queue (Redis) is unavailable ({exc.__class__.__name__}); the upload "
                f"is kept as job {row.id} and will be queued when Redis is back") from None
        set_status(self.store, row.id, "queued" if row.status == "pending" else row.status)
        return job.id

    def status(self, row: JobRecord) -> JobRecord:
        """Refresh the row from rq (status, error) when the queue is reachable."""
        if row.status in ("pending",):
            return row
        try:
            job = Job.fetch(row.id, connection=self.redis)
            status = job.get_status(refresh=True)
        except Exception:  # gone from Redis (expired) or Redis away: the row is what we know
            return row
        mapped = {"queued": "queued", "scheduled": "queued", "deferred": "queued",
                  "started": "started", "finished": "finished", "failed": "failed",
                  "stopped": "failed", "canceled": "failed"}.get(str(status.value), row.status)
        error = ""
        if mapped == "failed":
            result = job.latest_result()
            error = (result.exc_string or "").strip().splitlines()[-1] if result else ""
        if mapped != row.status or error:
            set_status(self.store, row.id, mapped, error)
            row.status, row.error = mapped, error or row.error
        return row

    def submit_rescore(self, rubric: Rubric, project: Optional[str]) -> str:
        try:
            return jobs.enqueue_rescore(self.redis, rubric, project).id
        except RedisError as exc:
            raise QueueUnavailable(f"the job queue (Redis) is unavailable ({exc})") from None

    def flush_pending(self) -> int:
        with self.store.session() as s:
            pending = list(s.exec(select(JobRecord).where(JobRecord.status == "pending")).all())
        sent = 0
        for row in pending:
            rubric = jobs.rubric_from_store(self.store, row.rubric_id, row.rubric_version)
            try:
                self.submit(row, rubric)
                sent += 1
            except QueueUnavailable:
                break
        return sent

    def _flush_pending_loop(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                sent = self.flush_pending()
                if sent:
                    log.info("queued %d pending request(s) now that Redis answers", sent)
            except Exception:  # never let the loop die: the next turn tries again
                log.exception("flushing pending jobs failed")

    def close(self) -> None:
        self._stop.set()


class InlineDispatcher(Dispatcher):
    """No Redis: the same job functions in a background thread of this process."""

    mode = "embedded"

    def __init__(self, store: Store):
        super().__init__(store)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-job")

    def submit(self, row: JobRecord, rubric: Rubric) -> str:
        if row.status in ("pending", "failed"):
            set_status(self.store, row.id, "queued")
            self.pool.submit(self._run, row)
        return row.id

    def _run(self, row: JobRecord) -> None:
        try:  # score_recording records started, finished or failed on the row itself
            jobs.score_recording(row.path, row.rubric_id, row.rubric_version, row.agent_channel,
                                 row.id)
        except Exception:
            log.warning("job %s failed", row.id, exc_info=True)

    def submit_rescore(self, rubric: Rubric, project: Optional[str]) -> str:
        self.pool.submit(jobs.rescore_project, rubric.id, rubric.version, project)
        return f"rescore-inline-{rubric.id}-v{rubric.version}"

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=False)
