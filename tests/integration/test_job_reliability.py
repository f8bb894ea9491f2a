"""Jobs with real rq workers on the real Redis: nothing lost, nothing stuck, nothing twice."""
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from rq import Queue
from rq.job import Job, JobStatus

from qa_service.api import create_app
from qa_service.config import Settings
from qa_service.keys import create_key
from qa_service.store import Store
from tests.support import REDIS_URL as SHARED_REDIS_URL, ROOT, RUBRICS, SAMPLES, need, wait_for

# Redis database 2: this helper's own (the `redis` fixture's 13 is flushed by other suites'
# tests; these tests run workers for many seconds and must not lose their jobs to that)
REDIS_URL = SHARED_REDIS_URL.rsplit("/", 1)[0] + "/2"

CALL = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"
RUBRIC_YAML = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")


@pytest.fixture
def redis():
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    conn = Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except RedisConnectionError as exc:
        need(False, f"Redis not reachable at {REDIS_URL}: {exc}")
    conn.flushdb()
    yield conn
    conn.flushdb()


def worker(settings, *args, burst=True):
    env = dict(os.environ, QA_DATABASE_URL=settings.database_url, QA_REDIS_URL=settings.redis_url,
               QA_STORAGE_DIR=str(settings.storage_dir))
    return subprocess.Popen([sys.executable, "-m", "qa_service.cli", "worker", *args,
                             *(["--burst"] if burst else [])], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def api(tmp_path, url, redis_url=REDIS_URL):
    store = Store(url)
    settings = Settings(database_url=url, redis_url=redis_url, storage_dir=tmp_path / "storage")
    return settings, store, {"X-API-Key": create_key(store, "admin")[1]}


def test_chinese_rubric_ids_end_to_end(postgres_url, tmp_path, redis):
    """Two rubrics whose ids differ only in Chinese characters of the same length are two
    jobs, both scored (the old ids read `score_<sha>_----_v1` for both). (tests/unit/
    test_job_ids.py checks the ids themselves; the job rows are the same on SQLite.)"""
    settings, store, admin = api(tmp_path, postgres_url)
    with TestClient(create_app(settings)) as client:
        jobs = []
        for rubric_id in ("关怀回访", "营销外呼"):
            yaml = RUBRIC_YAML.replace("id: telecom-data-upgrade", f"id: {rubric_id}", 1)
            r = client.post("/rubrics", headers={**admin, "Content-Type": "application/yaml"},
                            content=yaml.encode("utf-8"))
            assert r.status_code == 201, r.text
            with open(CALL, "rb") as f:
                r = client.post("/recordings", headers=admin, files={"file": (CALL.name, f)},
                                data={"rubric_id": rubric_id, "rubric_version": "1"})
            assert r.status_code == 202 and not r.json().get("duplicate"), r.text
            jobs.append(r.json()["job_id"])
        assert jobs[0] != jobs[1]
        out, _ = worker(settings, "--slot", "21").communicate(timeout=300)
        for job_id, rubric_id in zip(jobs, ("关怀回访", "营销外呼")):
            r = client.get(f"/jobs/{job_id}", headers=admin)
            assert r.status_code == 200 and r.json()["status"] == "finished", (r.text, out[-3000:])
        rec = client.get("/recordings/1", headers=admin).json()
        assert sorted(e["rubric"]["id"] for e in rec["evaluations"]) == ["关怀回访", "营销外呼"]


def test_every_worker_runs_the_scheduler(tmp_path, redis):
    """A retry with backoff is a scheduled job: a plain worker (no --nightly-at) must run it."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qa.db'}", redis_url=REDIS_URL,
                        storage_dir=tmp_path)
    Store(settings.database_url)
    job = Queue("qa-rescore", connection=redis).enqueue_in(timedelta(seconds=1), "os.getpid")
    assert job.get_status() == JobStatus.SCHEDULED
    proc = worker(settings, "--slot", "22", burst=False)
    try:
        assert wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert "Traceback" not in out, out[-2000:]


def test_second_worker_on_a_live_slot_is_refused(tmp_path, redis):
    """The same --slot twice: the second process is refused with a clear message and the live
    worker keeps its registration (before, the second deleted it and requeued its job)."""
    from rq import Worker
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qa.db'}", redis_url=REDIS_URL,
                        storage_dir=tmp_path)
    Store(settings.database_url)
    first = worker(settings, "--slot", "23", burst=False)
    try:
        assert wait_for(lambda: any(w.name.endswith(".23") for w in Worker.all(connection=redis)),
                        timeout=60)
        second = worker(settings, "--slot", "23", burst=False)
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 2 and "in use by a live worker" in out, out[-2000:]
        assert "Traceback" not in out
        assert first.poll() is None
        assert any(w.name.endswith(".23") for w in Worker.all(connection=redis))
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
