"""Job functions run by rq workers (and, with no Redis, in-process by the same code): the
worker side of the queue (dispatch.py is the submitting side and names these functions by
their dotted path).

Jobs carry references, never audio: a path the worker can read and a rubric by id and
version (the rubric's text is in the database). The request's row in the job table follows
the job: started, finished, or failed with the error.
"""
from __future__ import annotations

import logging
import socket
from typing import Optional

from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import StartedJobRegistry

from qa_service.config import Settings, get_settings
from qa_service.enums import JobState
from qa_service.rubric import Rubric
from qa_service.service import QAService
from qa_service.store import RubricNotFound, Store

log = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """A job whose input is bad: retrying will not help (the error names file and problem)."""


_service: Optional[QAService] = None


def configure(settings: Settings) -> QAService:
    """Point this process's jobs at a database (the API's embedded mode, tests)."""
    global _service
    _service = QAService(Store(settings.database_url), settings)
    return _service


def service() -> QAService:
    """One service per worker process: the model is loaded by the first job, then kept."""
    return _service or configure(get_settings())


def stored_rubric(rubric_id: str, version: int) -> Rubric:
    try:
        return service().store.load_rubric(rubric_id, version)
    except RubricNotFound as exc:
        raise JobFailed(str(exc)) from None  # a missing rubric does not come back on retry


def score_recording(path: str, rubric_id: str, version: int,
                    agent_channel: Optional[str] = None, request_id: Optional[str] = None) -> dict:
    """Transcribe (once) and score one recording; returns a summary of the evaluation.
    The request's row in the database (`request_id`, the job key) follows along: started,
    finished, or failed with the error, here and nowhere else."""
    store = service().store

    def record(status: JobState, error: str = "", **links) -> None:
        if request_id:
            store.set_job_status(request_id, status, error, **links)

    record(JobState.STARTED)
    try:
        outcome = service().score_file(path, stored_rubric(rubric_id, version),
                                       agent_channel=agent_channel)
        if outcome.error:
            raise JobFailed(outcome.error)
    except Exception as exc:
        record(JobState.FAILED, str(exc))
        raise
    r = outcome.result
    record(JobState.FINISHED, recording_id=r.recording_id, evaluation_id=r.evaluation_id)
    return {"recording_id": r.recording_id, "evaluation_id": r.evaluation_id, "score": r.score,
            "grade": str(r.grade), "transcribed": outcome.transcribed}


def rescore_project(rubric_id: str, version: int, project: Optional[str] = None) -> dict:
    outcomes = service().rescore(stored_rubric(rubric_id, version), project)
    return {"rescored": len(outcomes)}


class QAWorker(SimpleWorker):
    """rq's SimpleWorker: jobs run in the worker process itself, so the Whisper model is
    loaded once per process (a forked work horse per job would load it per job, and
    CTranslate2's thread pools do not survive fork reliably).

    Worker names are stable per host and slot. A worker that was killed (kill -9, OOM, a
    lost machine) left its job in the started registry under that name; when the slot
    starts again, the job is put back on its queue at once instead of waiting for rq's
    abandoned-job timeout."""

    def handle_job_failure(self, job: Job, queue: Queue, started_job_registry=None,
                           exc_string: str = "", **kwargs):
        # Bad input fails for good: retrying an unreadable file only delays its report.
        if f"{JobFailed.__module__}.{JobFailed.__name__}" in exc_string or \
                f"{JobFailed.__name__}:" in exc_string:
            job.retries_left = 0
        return super().handle_job_failure(job, queue, started_job_registry, exc_string, **kwargs)

    def recover_abandoned(self) -> list[str]:
        recovered = []
        for queue in self.queues:
            registry = StartedJobRegistry(queue.name, connection=self.connection)
            for job_id in registry.get_job_ids():
                try:
                    job = Job.fetch(job_id, connection=self.connection)
                except Exception:  # NoSuchJobError: nothing left to run
                    continue
                if job.worker_name == self.name:
                    registry.remove_executions(job)
                    queue.enqueue_job(job)
                    recovered.append(job_id)
        return recovered

    def register_birth(self, *args, **kwargs):
        stale = self.connection.exists(self.key)
        if stale:
            # The previous process of this slot died without saying so: clear its record.
            self.connection.delete(self.key)
            self.connection.srem("rq:workers", self.key)
            for queue in self.queues:
                self.connection.srem(f"rq:workers:{queue.name}", self.key)
        super().register_birth(*args, **kwargs)
        for job_id in self.recover_abandoned():
            log.warning("requeued %s, abandoned by a previous run of %s", job_id, self.name)


def worker_name(slot: int) -> str:
    return f"qa-worker.{socket.gethostname()}.{slot}"
