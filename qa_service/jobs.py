"""Job functions run by rq workers (and, with no Redis, in-process by the same code).

Jobs carry references, never audio: a path the worker can read and a rubric by id and
version (the rubric's text is in the database). Job ids are the idempotency keys:
`score_<audio sha256>_<rubric id>_v<version>`, so the same recording under the same rubric
is queued and recognized once, however often it is submitted.
"""
from __future__ import annotations

import logging
import re
import socket
from typing import Optional

from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from qa_service.config import get_settings
from qa_service.model_store import sha256_of
from qa_service.rubric import Rubric, parse_rubric
from qa_service.service import QAService
from qa_service.store import Store

log = logging.getLogger(__name__)

TRANSCRIBE_QUEUE = "qa-transcribe"  # hours of audio at night
RESCORE_QUEUE = "qa-rescore"  # seconds of CPU per thousand calls: never behind the audio
QUEUES = (TRANSCRIBE_QUEUE, RESCORE_QUEUE)
RETRY = Retry(max=3, interval=[10, 60, 300])  # backoff for transient failures (database, disk)
JOB_TIMEOUT = 30 * 60


class JobFailed(RuntimeError):
    """A job whose input is bad: retrying will not help (the error names file and problem)."""


_service: Optional[QAService] = None


def configure(settings) -> QAService:
    """Point this process's jobs at a database (the API's embedded mode, tests)."""
    global _service
    _service = QAService(Store(settings.database_url), settings)
    return _service


def service() -> QAService:
    """One service per worker process: the model is loaded by the first job, then kept."""
    return _service or configure(get_settings())


def rubric_from_store(store: Store, rubric_id: str, version: int) -> Rubric:
    row = store.rubric(rubric_id, version)
    if row is None:
        raise JobFailed(f"rubric {rubric_id} version {version} is not stored")
    return parse_rubric(row.yaml_text, f"{rubric_id} v{version}")


def stored_rubric(rubric_id: str, version: int) -> Rubric:
    return rubric_from_store(service().store, rubric_id, version)


def score_recording(path: str, rubric_id: str, version: int,
                    agent_channel: Optional[str] = None, request_id: Optional[str] = None) -> dict:
    """Transcribe (once) and score one recording; returns a summary of the evaluation.
    The request's row in the database (`request_id`, the job key) follows along: started,
    finished, or failed with the error, here and nowhere else."""
    from qa_service.dispatch import set_status  # dispatch imports this module
    store = service().store

    def record(status: str, error: str = "", **links) -> None:
        if request_id:
            set_status(store, request_id, status, error, **links)

    record("started")
    try:
        outcome = service().score_file(path, stored_rubric(rubric_id, version),
                                       agent_channel=agent_channel)
        if outcome.error:
            raise JobFailed(outcome.error)
    except Exception as exc:
        record("failed", str(exc))
        raise
    r = outcome.result
    record("finished", recording_id=r.recording_id, evaluation_id=r.evaluation_id)
    return {"recording_id": r.recording_id, "evaluation_id": r.evaluation_id, "score": r.score,
            "grade": r.grade, "transcribed": outcome.transcribed}


def rescore_project(rubric_id: str, version: int, project: Optional[str] = None) -> dict:
    outcomes = service().rescore(stored_rubric(rubric_id, version), project)
    return {"rescored": len(outcomes)}


def score_job_id(sha256: str, rubric: Rubric) -> str:
    # rq allows letters, digits, '_' and '-' in job ids
    return f"score_{sha256}_{re.sub(r'[^A-Za-z0-9-]', '-', rubric.id)}_v{rubric.version}"


def enqueue_score(redis: Redis, path: str, rubric: Rubric,
                  agent_channel: Optional[str] = None) -> Job:
    """Queue a recording once per rubric version. A queued, running or finished job with the
    same key is returned as it is; a failed one is queued again."""
    job_id = score_job_id(sha256_of(path), rubric)
    queue = Queue(TRANSCRIBE_QUEUE, connection=redis)
    try:
        job = Job.fetch(job_id, connection=redis)
    except Exception:  # NoSuchJobError, or a result that expired
        job = None
    if job is not None:
        status = job.get_status(refresh=True)
        if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            job.requeue()
        return job
    return queue.enqueue(score_recording, path, rubric.id, rubric.version, agent_channel, job_id,
                         job_id=job_id, retry=RETRY, job_timeout=JOB_TIMEOUT,
                         result_ttl=7 * 86400, failure_ttl=30 * 86400,
                         description=f"score {path} with {rubric.id} v{rubric.version}")


def enqueue_rescore(redis: Redis, rubric: Rubric, project: Optional[str] = None) -> Job:
    return Queue(RESCORE_QUEUE, connection=redis).enqueue(
        rescore_project, rubric.id, rubric.version, project, retry=RETRY,
        job_timeout=JOB_TIMEOUT, description=f"rescore {project or 'all'} with {rubric.id} "
                                              f"v{rubric.version}")


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


def redis_from_settings() -> Redis:
    return Redis.from_url(get_settings().redis_url or "redis://127.0.0.1:6379/0")
