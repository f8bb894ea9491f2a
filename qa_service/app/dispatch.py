"""Getting scoring requests to a worker: rq on Redis, or in-process with no Redis.

The queue side of the jobs: job ids, queue names, enqueueing, and the dispatchers the API and
`qa-service nightly` submit through. It names the job functions (jobs.py, the worker side) by
their dotted path, as rq stores them, and never imports them: the API process loads no
recognition. Imports run one way: api -> dispatch -> store; jobs -> dispatch.

Every request is first written to the database (JobRecord, status `pending`), then put on
a queue. If Redis is away the request stays pending and the caller hears so (503); a
background loop puts pending requests on the queue once Redis answers again.

Job ids are the idempotency keys: `score_<audio sha256>_<rubric id>_v<version>`, so the same
recording under the same rubric is queued and recognized once, however often it is submitted.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.utils import import_attribute

from qa_service.config import (
    FAILURE_TTL_S,
    JOB_TIMEOUT,
    RESULT_TTL_S,
    RETRY_MAX,
    Settings,
    get_settings,
)
from qa_service.domain.enums import JobState
from qa_service.exceptions import QueueUnavailable, RubricNotFound
from qa_service.files import sha256_of
from qa_service.i18n import message
from qa_service.rules.rubric import Rubric
from qa_service.storage.store import Store
from qa_service.storage.tables import JobRecord

log = logging.getLogger(__name__)

TRANSCRIBE_QUEUE = "qa-transcribe"  # hours of audio at night
RESCORE_QUEUE = "qa-rescore"  # seconds of CPU per thousand calls: never behind the audio
QUEUES = (TRANSCRIBE_QUEUE, RESCORE_QUEUE)  # a worker's default, in priority order
JOBS = (
    "qa_service.worker.jobs"  # where the job functions live (worker side), by name as rq keeps it
)
SCORE_JOB = f"{JOBS}.score_recording"
RESCORE_JOB = f"{JOBS}.rescore_project"
# rq's states, as the job table keeps them.
RQ_STATES = {
    "queued": JobState.QUEUED,
    "scheduled": JobState.SCHEDULED,  # a retry (or a nightly run) booked for later
    "deferred": JobState.QUEUED,
    "started": JobState.STARTED,
    "finished": JobState.FINISHED,
    "failed": JobState.FAILED,
    "stopped": JobState.FAILED,
    "canceled": JobState.FAILED,
}


def retry_policy(settings: Settings | None = None) -> Retry:
    """Retries with backoff for transient failures (database, disk): QA_RETRY_INTERVALS,
    kept by rq with each job as it is queued."""
    return Retry(max=RETRY_MAX, interval=list((settings or get_settings()).retry_intervals))


def score_job_id(sha256: str, rubric: Rubric) -> str:
    """The idempotency key of scoring this audio with this rubric version: injective, since
    the exact rubric id is hashed in (rq allows only letters, digits, '_' and '-', so
    `care_call` and `care-call`, or two Chinese ids, would otherwise read the same); the
    readable part is only for people looking at rq."""
    readable = re.sub(r"[^A-Za-z0-9-]", "-", rubric.id)[:40]
    exact = hashlib.sha256(rubric.id.encode("utf-8")).hexdigest()[:16]
    return f"score_{sha256}_{readable}-{exact}_v{rubric.version}"


def enqueue_score(
    redis: Redis,
    path: str,
    rubric: Rubric,
    agent_channel: str | None = None,
    sha256: str | None = None,
    retry: Retry | None = None,
) -> Job:
    """Queue a recording once per rubric version. A queued, running or finished job with the
    same key is returned as it is; a failed one is queued again. `path` may be relative to
    QA_STORAGE_DIR (an upload); then its `sha256` comes from the request's row."""
    job_id = score_job_id(sha256 or sha256_of(path), rubric)
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
    return queue.enqueue(
        SCORE_JOB,
        path,
        rubric.id,
        rubric.version,
        agent_channel,
        job_id,
        job_id=job_id,
        retry=retry or retry_policy(),
        job_timeout=JOB_TIMEOUT,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        description=f"score {path} with {rubric.id} v{rubric.version}",
    )


def enqueue_rescore(
    redis: Redis,
    rubric: Rubric,
    project: str | None = None,
    job_id: str | None = None,
    retry: Retry | None = None,
) -> Job:
    """Queue a rescore; `job_id` is its request's row (the worker records its status there)."""
    return Queue(RESCORE_QUEUE, connection=redis).enqueue(
        RESCORE_JOB,
        rubric.id,
        rubric.version,
        project,
        job_id,
        job_id=job_id,
        retry=retry or retry_policy(),
        job_timeout=JOB_TIMEOUT,
        result_ttl=RESULT_TTL_S,
        failure_ttl=FAILURE_TTL_S,
        description=f"rescore {project or 'the evaluated recordings'} with {rubric.id} "
        f"v{rubric.version}",
    )


def redis_from_settings(settings: Settings | None = None) -> Redis:
    return Redis.from_url((settings or get_settings()).redis_url or "redis://127.0.0.1:6379/0")


def make_dispatcher(settings: Settings, store: Store) -> Dispatcher:
    """rq on Redis when QA_REDIS_URL is set; else this process runs the jobs (embedded mode)."""
    if settings.redis_url:
        return RqDispatcher(
            store,
            Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2),
            settings=settings,
        )
    return InlineDispatcher(store, settings)


class Dispatcher:
    mode = "abstract"

    def __init__(self, store: Store):
        self.store = store

    def submit(self, row: JobRecord, rubric: Rubric) -> str:
        raise NotImplementedError

    def status(self, row: JobRecord) -> JobRecord:
        return row

    def booked_for(self, row: JobRecord) -> datetime | None:
        """When a request `scheduled` (a retry waiting out its backoff) is due to be queued."""
        return None

    def close(self) -> None:
        pass


class RqDispatcher(Dispatcher):
    mode = "rq"

    def __init__(
        self,
        store: Store,
        redis: Redis,
        retry_seconds: float = 5.0,
        settings: Settings | None = None,
    ):
        super().__init__(store)
        self.redis = redis
        self.retry = retry_policy(settings)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._flush_pending_loop,
            args=(retry_seconds,),
            daemon=True,
            name="qa-pending-flush",
        )
        self._thread.start()

    def submit(self, row: JobRecord, rubric: Rubric) -> str:
        try:
            if row.kind == "rescore":
                job = enqueue_rescore(
                    self.redis, rubric, row.project, job_id=row.id, retry=self.retry
                )
            else:
                job = enqueue_score(
                    self.redis,
                    row.path,
                    rubric,
                    row.agent_channel,
                    sha256=row.sha256,
                    retry=self.retry,
                )
        except RedisError as exc:
            raise QueueUnavailable(
                message(
                    "the job queue ({queue}) is unavailable ({reason}); the request is kept as "
                    "job {job} and will be queued when {queue} is back",
                    queue="Redis",
                    reason=exc.__class__.__name__,
                    job=row.id,
                )
            ) from None
        if row.status == JobState.PENDING:
            self.store.jobs.set_status(row.id, JobState.QUEUED)
        return job.id

    def status(self, row: JobRecord) -> JobRecord:
        """Refresh the row from rq (status, error) when the queue is reachable."""
        if row.status == JobState.PENDING:
            return row
        try:
            job = Job.fetch(row.id, connection=self.redis)
            status = job.get_status(refresh=True)
        except Exception:  # gone from Redis (expired) or Redis away: the row is what we know
            return row
        mapped = RQ_STATES.get(str(status.value), row.status)
        error = ""
        if mapped == JobState.FAILED:
            result = job.latest_result()
            error = (result.exc_string or "").strip().splitlines()[-1] if result else ""
        if mapped != row.status or error:
            self.store.jobs.set_status(row.id, mapped, error)
            row.status, row.error = mapped, error or row.error
        return row

    def booked_for(self, row: JobRecord) -> datetime | None:
        if row.status != JobState.SCHEDULED:
            return None
        try:
            job = Job.fetch(row.id, connection=self.redis)
            return ScheduledJobRegistry(job.origin, connection=self.redis).get_scheduled_time(job)
        except Exception:  # queued meanwhile (NoSuchJobError), or Redis away: not known
            return None

    def _on_queue(self, job_id: str) -> bool:
        return Job.exists(job_id, connection=self.redis)

    def flush_pending(self) -> int:
        """Queue what was kept while Redis was away, and again what Redis lost (rows `queued`
        whose rq job is gone: a Redis that restarted empty)."""
        sent = 0
        lost = self.store.jobs.lost(self._on_queue)
        if lost:
            log.warning(
                "re-queueing %d request(s) the queue lost: %s",
                len(lost),
                ", ".join(r.id for r in lost[:5]),
            )
        for row in self.store.jobs.pending() + lost:
            try:
                rubric = self.store.rubrics.load(row.rubric_id, row.rubric_version)
            except RubricNotFound as exc:  # can never run: a failure to list, not a blocker
                self.store.jobs.set_status(row.id, JobState.FAILED, str(exc))
                continue
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


def worker_died(deaths: int) -> str:
    """The error of a job given up on because its worker kept dying while running it."""
    if deaths == 1:
        return message(
            "the worker processing this job died once while running it (killed, or out of "
            "memory); it is not retried again"
        )
    return message(
        "the worker processing this job died {n} times while running it (killed, or out of "
        "memory); it is not retried again",
        n=deaths,
    )


class InlineDispatcher(Dispatcher):
    """No Redis: the same job functions in a background thread of this process. They are
    looked up by name on the first job (as an rq worker would), so the model loads then.

    This process is the only one running jobs on its database, so what the database has as
    accepted and not finished (pending, queued, or started when the process was killed) is
    run again when it starts: nothing accepted is lost to a crash. A job the process died
    running (started, never finished) spends a retry each time, as on an rq worker: after
    1 + RETRY_MAX starts it fails with `worker_died`, so a call that kills the process (out of
    memory, a crashing decoder) cannot bring it down at every start for ever."""

    mode = "embedded"

    def __init__(self, store: Store, settings: Settings | None = None):
        super().__init__(store)
        self.settings = settings or get_settings()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-job")
        self._configured = False
        self.resume()

    def resume(self) -> int:
        rows = self.store.jobs.unfinished()
        for row in rows:
            if row.status == JobState.STARTED and row.attempts > RETRY_MAX:
                self.store.jobs.set_status(row.id, JobState.FAILED, worker_died(row.attempts))
                continue
            try:
                rubric = self.store.rubrics.load(row.rubric_id, row.rubric_version)
            except RubricNotFound as exc:
                self.store.jobs.set_status(row.id, JobState.FAILED, str(exc))
                continue
            row.status = JobState.PENDING  # as if just accepted: submit runs it
            self.submit(row, rubric)
        if rows:
            log.warning(
                "running again %d request(s) accepted and not finished before this process started",
                len(rows),
            )
        return len(rows)

    def submit(self, row: JobRecord, rubric: Rubric) -> str:
        if row.status in (JobState.PENDING, JobState.FAILED):
            self.store.jobs.set_status(row.id, JobState.QUEUED)
            if row.kind == "rescore":
                self.pool.submit(
                    self._run, RESCORE_JOB, row.rubric_id, row.rubric_version, row.project, row.id
                )
            else:
                self.pool.submit(
                    self._run,
                    SCORE_JOB,
                    row.path,
                    row.rubric_id,
                    row.rubric_version,
                    row.agent_channel,
                    row.id,
                )
        return row.id

    def _run(self, function: str, *args) -> None:
        if not self._configured:  # this process's jobs use this dispatcher's database
            import_attribute(f"{JOBS}.configure")(self.settings)
            self._configured = True
        try:  # score_recording records started, finished or failed on the row itself
            import_attribute(function)(*args)
        except Exception:
            log.warning("job %s%s failed", function, args, exc_info=True)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=False)
