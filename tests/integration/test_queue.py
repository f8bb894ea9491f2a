"""rq on the real Redis with real worker processes: idempotent jobs, a worker killed mid-job."""

import os
import signal
import subprocess
import sys

import pytest
from rq.job import JobStatus
from rq.registry import StartedJobRegistry

from qa_service.app.dispatch import TRANSCRIBE_QUEUE, enqueue_score
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
    assert result is not None and "not a readable audio file" in result.exc_string
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
