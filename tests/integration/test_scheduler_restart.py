"""rq's scheduler across a Redis restart, with a real worker on a Redis of the test's own (the
shared one is never restarted): a retry booked before the restart runs at its time, the dead
scheduler process is reaped, and GET /jobs/{id} says the job is booked, and for when."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from qa_service.api import create_app
from qa_service.app.dispatch import RESCORE_QUEUE, retry_policy
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.domain.enums import JobState
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store
from tests.support import ROOT, RUBRICS, need, wait_for

# The retry's backoff (QA_RETRY_INTERVALS): time enough to restart Redis before it is due.
BOOKED_IN_S = 25
# How late the retry may run. Before, rq's worker started a dead scheduler again only on its
# maintenance round, every 10 minutes: a retry booked for 22:42:56 ran at 22:49:31.
LATE_S = 30
DOWN_S = 3  # Redis stays down this long: rq's scheduler, which looks every second, notices


class PrivateRedis:
    """A redis-server of the test's own that keeps its data across a restart (dump.rdb)."""

    def __init__(self, folder):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.conn = Redis.from_url(self.url)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--dbfilename",
                "dump.rdb",
                "--save",
                "",  # no snapshots of its own: `shutdown save` writes the one that matters
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(self.answers, timeout=20), f"redis-server on {self.port} did not start"

    def answers(self):
        try:
            return bool(self.conn.ping())
        except Exception:
            return False

    def restart(self, down_s):
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "save"],
            capture_output=True,
            timeout=30,
        )
        self.proc.wait(timeout=30)
        assert (self.folder / "dump.rdb").exists()
        time.sleep(down_s)
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def children(pid):
    """(pid, state) of the processes whose parent is `pid` (state Z: a zombie, not reaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == pid:
                found.append((int(entry), fields[0]))
    return found


@pytest.fixture
def private_redis(tmp_path):
    need(shutil.which("redis-server") and shutil.which("redis-cli"), "redis-server not installed")
    folder = tmp_path / "redis"
    folder.mkdir()
    server = PrivateRedis(folder)
    server.start()
    yield server
    server.stop()


def test_retry_booked_before_a_redis_restart_runs_on_time(tmp_path, private_redis, monkeypatch):
    monkeypatch.setenv("QA_RETRY_INTERVALS", str(BOOKED_IN_S))
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    settings = Settings(database_url=url, redis_url=private_redis.url, storage_dir=tmp_path)
    assert settings.retry_intervals == (BOOKED_IN_S,)
    store = Store(url)
    viewer = {"X-API-Key": create_key(store, "viewer")[1]}
    row = store.jobs.record_rescore(load_rubric(RUBRICS / "telecom-data-upgrade.yaml"), None)
    store.jobs.set_status(row.id, JobState.QUEUED)
    conn = private_redis.conn
    log_path = tmp_path / "worker.log"
    log = open(log_path, "w")
    env = dict(
        os.environ,
        QA_DATABASE_URL=url,
        QA_REDIS_URL=private_redis.url,
        QA_STORAGE_DIR=str(tmp_path),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", "worker", "--slot", "26"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def worker_log():
        return log_path.read_text()[-4000:]

    try:
        job = Queue(RESCORE_QUEUE, connection=conn).enqueue(
            "tests.support.fail_once",
            str(tmp_path / "failed-once"),
            job_id=row.id,
            retry=retry_policy(settings),
        )
        assert wait_for(lambda: job.get_status(refresh=True) == JobStatus.SCHEDULED, 120), (
            worker_log()
        )
        booked = ScheduledJobRegistry(RESCORE_QUEUE, connection=conn).get_scheduled_time(job)
        # the worker records it too (it had the job `queued`, or `failed` once a score failed)
        assert wait_for(lambda: store.jobs.get(row.id).status == JobState.SCHEDULED, 10)
        with TestClient(create_app(settings)) as client:
            answer = client.get(f"/jobs/{row.id}", headers=viewer).json()
        assert answer["status"] == "scheduled", answer  # was "queued"
        assert abs(datetime.fromisoformat(answer["scheduled_for"]) - booked).total_seconds() < 1
        assert wait_for(lambda: any(s != "Z" for _, s in children(proc.pid)), 30), worker_log()

        private_redis.restart(DOWN_S)  # with its data: the booking is still there
        assert time.time() < booked.timestamp(), "Redis took until the retry was due to restart"
        assert Job.fetch(row.id, connection=conn).get_status() == JobStatus.SCHEDULED

        due_in = booked.timestamp() - time.time()
        assert wait_for(
            lambda: job.get_status(refresh=True) == JobStatus.FINISHED, due_in + LATE_S
        ), f"the retry booked for {booked} had not run {LATE_S} s later\n{worker_log()}"
        late = job.return_value(refresh=True) - booked.timestamp()
        assert late < LATE_S, late
        assert "scheduler" in worker_log() and "starting another" in worker_log()
        assert not [c for c in children(proc.pid) if c[1] == "Z"], children(proc.pid)
        with TestClient(create_app(settings)) as client:
            answer = client.get(f"/jobs/{row.id}", headers=viewer).json()
        assert answer["status"] == "finished" and answer["scheduled_for"] is None, answer
        assert proc.poll() is None, worker_log()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
