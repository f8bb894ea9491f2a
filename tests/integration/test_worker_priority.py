"""Recognition workers run their jobs below the API's CPU priority (QA_WORKER_NICE, decision
0027): two workers transcribing on a 2-core machine otherwise slow every web app request."""

import os
import subprocess
import sys

import pytest
from rq import Queue

from qa_service.config import Settings
from tests.support import REDIS_URL, ROOT, need

QUEUE = "qa-test-priority"


def niceness_in_a_job(tmp_path, redis, **env) -> int:
    """What os.nice(0) answers inside a job run by `qa-service worker --burst`."""
    job = Queue(QUEUE, connection=redis).enqueue(os.nice, 0)
    out = subprocess.run(
        [sys.executable, "-m", "qa_service.cli", "worker", "--queues", QUEUE, "--burst"],
        env={
            **{k: v for k, v in os.environ.items() if k != "QA_WORKER_NICE"},
            "QA_DATABASE_URL": f"sqlite:///{tmp_path / 'qa.db'}",
            "QA_REDIS_URL": REDIS_URL,
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    job.refresh()
    assert job.is_finished, out.stdout[-2000:] + out.stderr[-2000:]
    return job.return_value()


@pytest.fixture
def own_niceness() -> int:
    now = os.nice(0)
    need(now < 19, f"the tests run at niceness {now}: a worker can go no lower")
    return now


def test_worker_runs_jobs_at_lower_priority_by_default(tmp_path, redis, own_niceness):
    expected = min(19, own_niceness + Settings().worker_nice)
    assert Settings().worker_nice > 0
    assert niceness_in_a_job(tmp_path, redis) == expected


def test_worker_nice_setting(tmp_path, redis, own_niceness):
    assert niceness_in_a_job(tmp_path, redis, QA_WORKER_NICE="0") == own_niceness
    assert niceness_in_a_job(tmp_path, redis, QA_WORKER_NICE="3") == min(19, own_niceness + 3)
