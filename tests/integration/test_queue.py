"""rq on the real Redis with real worker processes: idempotent jobs, a worker killed mid-job."""

import os
import signal
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from rq import Queue
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from qa_service.api import create_app
from qa_service.app.dispatch import TRANSCRIBE_QUEUE, enqueue_score, retry_policy
from qa_service.app.keys import create_key
from qa_service.config import RETRY_MAX, Settings
from qa_service.domain.enums import JobState
from qa_service.i18n import message
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation, Recording
from tests.support import REDIS_URL, ROOT, RUBRICS, SAMPLES, wait_for

SAMPLE = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"


@pytest.fixture
def setup(tmp_path, redis):
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    rubric_path = RUBRICS / "telecom-data-upgrade.yaml"
    rubric = load_rubric(rubric_path)
    Store(url).rubrics.save(rubric, rubric_path.read_text(encoding="utf-8"))
    env = dict(os.environ, QA_DATABASE_URL=url, QA_REDIS_URL=REDIS_URL)
    return url, rubric, env


def start_worker(env, burst=True):
    args = [sys.executable, "-m", "qa_service.cli", "worker", "--slot", "7"]
    return subprocess.Popen(
        args + (["--burst"] if burst else []),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_worker_scores_once_however_often_enqueued(setup, redis):
    url, rubric, env = setup
    job = enqueue_score(redis, str(SAMPLE), rubric)
    again = enqueue_score(redis, str(SAMPLE), rubric)
    assert again.id == job.id and len(redis.lrange(f"rq:queue:{TRANSCRIBE_QUEUE}", 0, -1)) == 1
    worker = start_worker(env)
    out, _ = worker.communicate(timeout=300)
    assert worker.returncode == 0, out
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED, out
    result = job.return_value()
    assert result["grade"] == "excellent" and result["transcribed"] is True
    # the finished job is the answer to the same request later: nothing new is queued
    third = enqueue_score(redis, str(SAMPLE), rubric)
    assert third.id == job.id and third.get_status() == JobStatus.FINISHED
    assert redis.llen(f"rq:queue:{TRANSCRIBE_QUEUE}") == 0
    store = Store(url)
    assert store.count(Recording) == 1 and store.count(Evaluation) == 1


def test_bad_recording_fails_visibly(setup, redis, tmp_path):
    _, rubric, env = setup
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    job = enqueue_score(redis, str(bad), rubric)
    worker = start_worker(env)
    worker.communicate(timeout=300)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED  # bad input: no retries
    result = job.latest_result()
    unreadable = message(
        "{path}: not a readable audio file ({reason})",
        path=bad,
        reason=message(
            "its content is not audio in a format we read: {formats}", formats="wav, mp3, flac"
        ),
    )
    assert result is not None and unreadable in result.exc_string
    assert str(bad) in result.exc_string


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_worker_killed_mid_job_loses_nothing(setup, redis):
    url, rubric, env = setup
    job = enqueue_score(redis, str(SAMPLE), rubric)
    worker = start_worker(env, burst=False)
    try:
        assert wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED)
        forked = children(worker.pid)  # rq's scheduler process
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    # The scheduler the worker forked does not outlive it (it did, heartbeating for good).
    assert forked and wait_for(lambda: not any(running(pid) for pid in forked), timeout=30), [
        open(f"/proc/{pid}/cmdline").read() for pid in forked if running(pid)
    ]
    assert job.id in StartedJobRegistry(TRANSCRIBE_QUEUE, connection=redis).get_job_ids()
    restarted = start_worker(env)  # the same slot: it finds its abandoned job at once
    out, _ = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, out
    assert "abandoned by a previous run" in out
    assert job.get_status(refresh=True) == JobStatus.FINISHED, out
    store = Store(url)
    assert store.count(Recording) == 1 and store.count(Evaluation) == 1


def test_job_that_kills_its_worker_fails_after_its_retries(setup, redis, tmp_path):
    """A job that kills its worker each time (SIGKILL, as the OOM killer does) is put back by
    the restarted slot once per retry it was queued with (dispatch's policy), then fails for
    good with an error that says why: in rq, at GET /jobs/{id}, in `GET /jobs?status=failed`
    and in its row. (It was put back on every restart, for ever.)"""
    url, rubric, env = setup
    store = Store(url)
    job_id = "score_kills-its-worker"
    store.jobs.record(job_id, str(SAMPLE), "0" * 64, rubric)
    store.jobs.set_status(job_id, JobState.QUEUED)
    job = Queue(TRANSCRIBE_QUEUE, connection=redis).enqueue(
        "tests.support.kill_own_worker", job_id, job_id=job_id, retry=retry_policy()
    )
    assert job.retries_left == RETRY_MAX
    runs, outputs = 0, []
    for _ in range(RETRY_MAX + 3):  # bounded: the old code put it back on every restart
        worker = start_worker(env)  # the same slot each time, as supervisord restarts it
        out, _ = worker.communicate(timeout=300)
        outputs.append(out[-1500:])
        if worker.returncode != -signal.SIGKILL:
            break
        runs += 1
    assert worker.returncode == 0, outputs
    assert runs == 1 + RETRY_MAX, outputs  # the first run and one per retry
    error = message(
        "the worker processing this job died {n} times while running it (killed, or out of "
        "memory); it is not retried again",
        n=1 + RETRY_MAX,
    )
    job.refresh()
    assert job.get_status() == JobStatus.FAILED and job.retries_left == 0
    assert job.latest_result().exc_string == error
    assert job_id in FailedJobRegistry(TRANSCRIBE_QUEUE, connection=redis).get_job_ids()
    assert job_id not in StartedJobRegistry(TRANSCRIBE_QUEUE, connection=redis).get_job_ids()
    assert redis.llen(f"rq:queue:{TRANSCRIBE_QUEUE}") == 0
    row = store.jobs.get(job_id)
    assert row.status == JobState.FAILED and row.error == error
    settings = Settings(database_url=url, redis_url=env["QA_REDIS_URL"], storage_dir=tmp_path)
    admin = {"X-API-Key": create_key(store, "admin")[1]}
    with TestClient(create_app(settings)) as client:
        r = client.get(f"/jobs/{job_id}", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "failed", r.text
        assert r.json()["error"] == error
        failed = client.get("/jobs?status=failed", headers=admin).json()
        assert [(j["id"], j["error"]) for j in failed] == [(job_id, error)]
