"""Job functions run by rq workers (and, with no Redis, in-process by the same code): the
worker side of the queue (dispatch.py is the submitting side and names these functions by
their dotted path).

Jobs carry references, never audio: a path the worker can read and a rubric by id and
version (the rubric's text is in the database). The request's row in the job table follows
the job: started, finished, or failed with the error.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path

from faster_whisper.vad import get_vad_model
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    RedisError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.worker_registration import unregister

from qa_service.app.dispatch import TRANSCRIBE_QUEUE, worker_died
from qa_service.app.scoring import QAService
from qa_service.config import PUBSUB_POLL_S, SCHEDULER_CHECK_S, SLOT_TTL, Settings, get_settings
from qa_service.domain.enums import Grade, JobState
from qa_service.domain.metadata import read_metadata
from qa_service.exceptions import JobFailed, MetadataError, RubricNotFound, SlotTaken
from qa_service.i18n import message
from qa_service.rules.rubric import Rubric
from qa_service.rules.scoring import forget_call_texts
from qa_service.rules.semantic import get_embedder
from qa_service.storage.store import Store

log = logging.getLogger(__name__)


_service: QAService | None = None


def configure(settings: Settings) -> QAService:
    """Point this process's jobs at a database (the API's embedded mode, tests)."""
    global _service
    _service = QAService(Store(settings.database_url), settings)
    return _service


def service() -> QAService:
    """One service per worker process: the model is loaded by the first job, then kept."""
    return _service or configure(get_settings())


def warm_up(queues: list[str]) -> None:
    """Load what a transcription job needs (Whisper, Silero, the sentence model) before the
    worker takes its first job, then move everything built so far out of the collector's full
    passes: a worker's heap is mostly these models' Python objects, and every full pass (the
    audio decoder asks for one per call) walked all of them again. A worker that serves no
    transcription queue loads no model, as before. A model that cannot load is logged here
    and reported by the first job that needs it, as it was without warming up."""
    if TRANSCRIBE_QUEUE in queues:
        try:
            ready = service()
            ready.recognizer  # noqa: B018  (the property loads the model)
            get_vad_model()
            get_embedder(ready.settings.similar_model)
        except Exception as exc:  # the job that needs the model reports it, with its file
            log.warning("worker warm-up: not ready before the first job (%s)", exc)
        if _service is not None:  # no pooled connection outlives this into rq's forked scheduler
            _service.store.engine.dispose()
    gc.collect()
    gc.freeze()


def stored_rubric(rubric_id: str, version: int, project: str | None = None) -> Rubric:
    """The stored rubric version, with the knowledge-base version `project` runs (三统一)."""
    try:
        return service().store.rubrics.load(rubric_id, version, project=project)
    except RubricNotFound as exc:
        raise JobFailed(str(exc)) from None  # a missing rubric does not come back on retry


def _project_of(path: str) -> str | None:
    """The project a recording's metadata names (none when it cannot be read: scoring reports
    that itself)."""
    try:
        return read_metadata(Path(path)).project
    except (MetadataError, OSError):
        return None


def score_recording(
    path: str,
    rubric_id: str,
    version: int,
    agent_channel: str | None = None,
    request_id: str | None = None,
) -> dict:
    """Transcribe (once) and score one recording; returns a summary of the evaluation.
    The request's row in the database (`request_id`, the job key) follows along: started,
    finished, or failed with the error, here and nowhere else."""
    store = service().store

    def record(status: JobState, error: str = "", **links) -> None:
        if request_id:
            store.jobs.set_status(request_id, status, error, **links)

    record(JobState.STARTED)
    try:
        outcome = service().score_file(
            path, stored_rubric(rubric_id, version, _project_of(path)), agent_channel=agent_channel
        )
        if outcome.error:
            raise JobFailed(outcome.error)
    except Exception as exc:
        record(JobState.FAILED, str(exc))
        raise
    r = outcome.result
    record(JobState.FINISHED, recording_id=r.recording_id, evaluation_id=r.evaluation_id)
    return {
        "recording_id": r.recording_id,
        "evaluation_id": r.evaluation_id,
        "score": None if r.grade == Grade.NO_SPEECH else r.score,  # not graded: no score
        "grade": str(r.grade),
        "transcribed": outcome.transcribed,
    }


def rescore_project(
    rubric_id: str, version: int, project: str | None = None, request_id: str | None = None
) -> dict:
    """Rescore stored transcripts; the request's row (`request_id`) follows along like a
    scoring job's: started, finished, or failed with the error."""
    store = service().store

    def record(status: JobState, error: str = "") -> None:
        if request_id:
            store.jobs.set_status(request_id, status, error)

    record(JobState.STARTED)
    try:
        outcomes = service().rescore(stored_rubric(rubric_id, version, project), project)
    except Exception as exc:
        record(JobState.FAILED, str(exc))
        raise
    record(JobState.FINISHED)
    return {"rescored": len(outcomes)}


# Kept in a job's rq meta: how many times a worker died running it (recover_abandoned).
DEATHS_META = "qa_worker_deaths"


class QAWorker(SimpleWorker):
    """rq's SimpleWorker: jobs run in the worker process itself, so the Whisper model is
    loaded once per process (a forked work horse per job would load it per job, and
    CTranslate2's thread pools do not survive fork reliably).

    Worker names are stable per host and slot. A worker that was killed (kill -9, OOM, a
    lost machine) left its job in the started registry under that name; when the slot
    starts again, the job is put back on its queue at once instead of waiting for rq's
    abandoned-job timeout.

    rq's scheduler (the process that queues retries and nightly runs at their time) dies on a
    lost Redis connection, and rq's worker looks for a dead one only every 10 minutes: a retry
    booked across a Redis restart ran 6½ minutes late, and the dead process stayed a zombie.
    This worker looks every SCHEDULER_CHECK_S (keep_scheduler): it reaps a dead scheduler and
    starts another as soon as Redis answers and the scheduler lock is free or its own."""

    _keeps_scheduler = False
    _scheduler_look_at = 0.0

    @property
    def dequeue_timeout(self) -> int:
        # rq waits on the queues up to worker_ttl - 15 s (6¾ min) at a time: an idle worker
        # then looks after its scheduler only that often
        return min(super().dequeue_timeout, SCHEDULER_CHECK_S)

    @property
    def connection_timeout(self) -> int:
        return super().dequeue_timeout + 10  # rq's socket timeout, as before

    def subscribe(self) -> None:
        """rq's subscribe, polling its command channel every PUBSUB_POLL_S: with rq's 60 s a
        worker told to stop waited up to a minute for that thread (redis-py joins it), longer
        than a container's stop grace before it is killed."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_POLL_S,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def work(self, burst: bool = False, *args, **kwargs) -> bool:
        # in burst mode rq's scheduler runs once, in the worker: no process to keep
        self._keeps_scheduler = not burst
        return super().work(burst, *args, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)
        finally:
            forget_call_texts()
            return_free_memory()

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        super().heartbeat(timeout, pipeline)  # Redis away: raises, and rq's loop waits
        if pipeline is None:
            self.keep_scheduler()

    def keep_scheduler(self) -> None:
        """Reap a scheduler process that died and start another (rq's own election: only where
        the scheduler lock is free or still ours). Runs on every heartbeat of the worker loop,
        at most every SCHEDULER_CHECK_S; a worker that lost the election tries again as often,
        so it takes over once the elected worker is gone and its lock has expired."""
        scheduler = self.scheduler
        if scheduler is None or not self._keeps_scheduler or self._stop_requested:
            return
        process = scheduler._process
        if process is not None and process.is_alive():  # is_alive() reaps one that exited
            return
        if time.monotonic() < self._scheduler_look_at:
            return
        self._scheduler_look_at = time.monotonic() + SCHEDULER_CHECK_S
        if process is not None:
            log.warning(
                "worker %s: rq's scheduler (pid %s) exited with %s; starting another",
                self.name,
                process.pid,
                process.exitcode,
            )
            scheduler._process = None
        try:
            scheduler.acquire_locks(auto_start=True)  # starts one where the lock is ours
        except RedisError as exc:  # the next look tries again
            log.warning("worker %s: could not start rq's scheduler (%s)", self.name, exc)

    def handle_job_failure(  # type: ignore[override]  # passes rq's other arguments on as given
        self, job: Job, queue: Queue, started_job_registry=None, exc_string: str = "", **kwargs
    ):
        # Bad input fails for good: retrying an unreadable file only delays its report.
        if (
            f"{JobFailed.__module__}.{JobFailed.__name__}" in exc_string
            or f"{JobFailed.__name__}:" in exc_string
        ):
            job.retries_left = 0
        answer = super().handle_job_failure(job, queue, started_job_registry, exc_string, **kwargs)
        if job.get_status(refresh=False) == JobStatus.SCHEDULED:  # a retry booked for later
            try:
                service().store.jobs.set_status(job.id, JobState.SCHEDULED)
            except Exception:  # GET /jobs/{id} asks rq anyway
                log.warning("could not record job %s as scheduled", job.id, exc_info=True)
        return answer

    def recover_abandoned(self) -> list[str]:
        """Put back on its queue, at once, a job a previous run of this slot died running. A
        worker's death counts as a failure: it spends one of the retries the job was queued
        with (rq's `retries_left`, as a failure handled by rq would; no backoff, since the
        restart itself took a while and the job goes behind those queued), so a job that
        kills its worker (out of memory, a crashing decoder) runs at most 1 + retries times.
        With none left it fails for good, in rq and in its request's row, with
        `worker_died`. Returns the ids of the jobs put back."""
        recovered = []
        for queue in self.queues:
            registry = StartedJobRegistry(queue.name, connection=self.connection)
            for job_id in registry.get_job_ids():
                try:
                    job = Job.fetch(job_id, connection=self.connection)
                except Exception:  # NoSuchJobError: nothing left to run
                    continue
                if job.worker_name != self.name:
                    continue
                if job.get_status(refresh=False) != JobStatus.STARTED:
                    registry.remove_executions(job)  # a leftover entry (rq's cleanup's test)
                    continue
                deaths = int(job.meta.get(DEATHS_META, 0)) + 1
                job.meta[DEATHS_META] = deaths
                if job.should_retry:
                    registry.remove_executions(job)
                    job.retries_left = (job.retries_left or 1) - 1
                    queue.enqueue_job(job)  # saves retries_left and meta with the job
                    recovered.append(job_id)
                else:
                    self.fail_abandoned(job, queue, registry, worker_died(deaths))
        return recovered

    def fail_abandoned(
        self, job: Job, queue: Queue, registry: StartedJobRegistry, error: str
    ) -> None:
        """rq's failure of a job (status, failed registry, a result holding `error`, its
        dependents) and its request's row marked failed with `error`."""
        job.retries_left = 0
        job.save_meta()
        log.error("job %s failed for good: %s", job.id, error)
        self.handle_job_failure(job, queue, started_job_registry=registry, exc_string=error)
        registry.remove_executions(job)
        try:  # the row's id is the job's (dispatch: score and rescore jobs alike)
            service().store.jobs.set_status(job.id, JobState.FAILED, error)
        except Exception:  # GET /jobs/{id} reads rq's failure anyway
            log.warning("could not record job %s as failed", job.id, exc_info=True)

    def claim_slot(self) -> None:
        """One live process per worker name. The slot is a key of ours (not rq's) that a live
        worker keeps alive every few seconds; a second process with the same --slot is
        refused. A killed one stops refreshing it, so its restart waits at most SLOT_TTL."""
        key, token = f"qa-service:slot:{self.name}", f"pid {os.getpid()} on {socket.gethostname()}"
        deadline = time.monotonic() + SLOT_TTL + 2
        while not self.connection.set(key, token, nx=True, ex=SLOT_TTL):
            if self.connection.get(key) == token.encode():  # ours, from before a reconnection
                break
            if time.monotonic() > deadline:
                holder = self.connection.get(key)
                raise SlotTaken(
                    message(
                        "worker slot {name} is in use by a live worker ({holder}); start this "
                        "one with another {option}",
                        name=self.name,
                        holder=holder.decode() if holder else message("unknown"),
                        option="--slot",
                    )
                )
            time.sleep(0.5)
        stop = threading.Event()

        def keep_alive():
            while not stop.wait(SLOT_TTL / 3):
                try:
                    self.connection.set(key, token, ex=SLOT_TTL)
                except Exception:  # Redis away: the worker's own loop waits and reconnects
                    pass

        threading.Thread(target=keep_alive, daemon=True, name="qa-slot").start()
        self._slot = (key, token, stop)

    def release_slot(self) -> None:
        if getattr(self, "_slot", None):
            key, token, stop = self._slot
            stop.set()
            try:
                if self.connection.get(key) == token.encode():
                    self.connection.delete(key)
            except Exception:
                pass

    def register_birth(self, *args, **kwargs):
        self.claim_slot()  # SlotTaken: another live process has this name
        if self.connection.exists(self.key):
            # The previous process of this slot died without saying so: clear its record
            # (rq's own unregister: no key names of rq's written here).
            self.connection.delete(self.key)
            unregister(self)
        super().register_birth(*args, **kwargs)
        for job_id in self.recover_abandoned():
            log.warning("requeued %s, abandoned by a previous run of %s", job_id, self.name)

    def register_death(self, *args, **kwargs):
        super().register_death(*args, **kwargs)
        self.release_slot()


PR_SET_PDEATHSIG = 1  # linux/prctl.h
_forked_by: int | None = None  # the worker's pid, as seen just before it forks


def _remember_parent() -> None:
    global _forked_by
    _forked_by = os.getpid()


# The C library this process runs on (prctl, malloc_trim); None where there is none to load.
_libc = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None


def _die_with_parent() -> None:
    """In a process the worker forks (rq's scheduler): have the kernel send SIGTERM when the
    worker dies, which rq's scheduler takes as a request to stop (releasing its locks). A
    worker killed with SIGKILL never stops its scheduler itself, and the scheduler does not
    look for its parent: one outlived its worker, killed mid-job by the test suite, and was
    still heartbeating 13 minutes later."""
    if _libc is None:
        return
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except AttributeError:  # not Linux: the scheduler keeps rq's behaviour
        return
    if os.getppid() != _forked_by:  # the worker died before the request was in place
        os._exit(0)  # its locks expire with their TTL


def return_free_memory() -> None:
    """Hand the heap's free pages back to the system after a job (glibc's malloc_trim). A
    call's audio, features and results are freed when it ends, but glibc keeps the pages,
    spread over one arena per thread that allocated, and they sat under the next job's peak
    (decision 0034)."""
    if _libc is None:
        return
    try:
        _libc.malloc_trim(0)
    except AttributeError:  # not glibc (musl, macOS): its allocator does its own returning
        pass


_fork_hooks = threading.Lock()
_fork_hooks_installed = False


def install_fork_hooks() -> None:
    """Once per process, before a worker starts its scheduler."""
    global _fork_hooks_installed
    with _fork_hooks:
        if not _fork_hooks_installed:
            os.register_at_fork(before=_remember_parent, after_in_child=_die_with_parent)
            _fork_hooks_installed = True


def serve_queues(queues: list[str], name: str, redis, burst: bool = False) -> None:
    """Run a QAWorker until it is told to stop (or, with burst, the queues are empty). When
    Redis goes away (rq's worker quits on a lost connection, even after the job itself was
    done and recorded in the database), wait for it and start again under the same name:
    the process never dies for a Redis restart. rq's scheduler, a process the worker forks,
    dies with the worker however the worker dies (install_fork_hooks)."""
    install_fork_hooks()
    while True:
        worker = QAWorker(queues, name=name, connection=redis)
        try:
            worker.work(burst=burst, with_scheduler=True)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("worker %s: lost Redis (%s)", name, exc)
        finally:
            worker.release_slot()
        if getattr(worker, "_stop_requested", False) or _redis_answers(redis):
            return  # asked to stop, or burst done: not a lost connection
        wait = 1.0
        log.warning("worker %s: Redis is unreachable; waiting for it to come back", name)
        while not _redis_answers(redis):
            time.sleep(wait)
            wait = min(wait * 2, 30.0)
        log.warning("worker %s: Redis is back; reconnecting", name)
        _release_scheduler_locks(worker)


def _release_scheduler_locks(worker: QAWorker) -> None:
    """The scheduler of a worker that quit on a lost connection is stopped, but its locks may
    have outlived it in a Redis that restarted with its data: free them for the next worker's
    scheduler now, rather than when they expire (rq's scheduler lock lasts a minute)."""
    if worker.scheduler is not None:
        try:
            worker.scheduler.release_locks()  # only those still held under its name
        except RedisError:
            pass


def _redis_answers(redis) -> bool:
    try:
        return bool(redis.ping())
    except (RedisConnectionError, RedisTimeoutError, OSError):
        return False


def worker_name(slot: int) -> str:
    return f"qa-worker.{socket.gethostname()}.{slot}"
