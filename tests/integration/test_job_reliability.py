"""Jobs with real rq workers on the real Redis: nothing lost, nothing stuck, nothing twice."""

import os
import re
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
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.i18n import message
from qa_service.storage.store import Store
from tests.support import (
    REDIS_URL as SHARED_REDIS_URL,
)
from tests.support import (
    ROOT,
    RUBRICS,
    SAMPLES,
    emptied_redis,
    said,
    wait_for,
    worker_redis,
)

# Redis database 2 (plus the xdist worker's number): this file's own (the `redis` fixture's is
# flushed by other tests; these tests run workers for many seconds and must not lose their jobs)
REDIS_URL = worker_redis(SHARED_REDIS_URL.rsplit("/", 1)[0] + "/2")

CALL = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"
RUBRIC_YAML = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")


@pytest.fixture
def redis():
    yield from emptied_redis(REDIS_URL)


def worker(settings, *args, burst=True):
    env = dict(
        os.environ,
        QA_DATABASE_URL=settings.database_url,
        QA_REDIS_URL=settings.redis_url,
        QA_STORAGE_DIR=str(settings.storage_dir),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", "worker", *args, *(["--burst"] if burst else [])],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


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
            r = client.post(
                "/rubrics",
                headers={**admin, "Content-Type": "application/yaml"},
                content=yaml.encode("utf-8"),
            )
            assert r.status_code == 201, r.text
            with open(CALL, "rb") as f:
                r = client.post(
                    "/recordings",
                    headers=admin,
                    files={"file": (CALL.name, f)},
                    data={"rubric_id": rubric_id, "rubric_version": "1"},
                )
            assert r.status_code == 202 and not r.json().get("duplicate"), r.text
            jobs.append(r.json()["job_id"])
        assert jobs[0] != jobs[1]
        out, _ = worker(settings, "--slot", "21").communicate(timeout=300)
        for job_id, _rubric_id in zip(jobs, ("关怀回访", "营销外呼")):
            r = client.get(f"/jobs/{job_id}", headers=admin)
            assert r.status_code == 200 and r.json()["status"] == "finished", (r.text, out[-3000:])
        rec = client.get("/recordings/1", headers=admin).json()
        assert sorted(e["rubric"]["id"] for e in rec["evaluations"]) == ["关怀回访", "营销外呼"]


def test_every_worker_runs_the_scheduler(tmp_path, redis):
    """A retry with backoff is a scheduled job: a plain worker (no --nightly-at) must run it."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'qa.db'}", redis_url=REDIS_URL, storage_dir=tmp_path
    )
    Store(settings.database_url)
    job = Queue("qa-rescore", connection=redis).enqueue_in(timedelta(seconds=1), "os.getpid")
    assert job.get_status() == JobStatus.SCHEDULED
    proc = worker(settings, "--slot", "22", burst=False)
    try:
        assert wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        out, _ = proc.communicate(timeout=60)
    assert "Traceback" not in out, out[-2000:]
    # An idle worker told to stop exits in seconds: rq's command-channel thread waited up to
    # 60 s for a message before it looked (QAWorker.subscribe), past a container's stop grace.
    assert time.monotonic() - stopping < 20, out[-2000:]


def test_second_worker_on_a_live_slot_is_refused(tmp_path, redis):
    """The same --slot twice: the second process is refused with a clear message and the live
    worker keeps its registration (before, the second deleted it and requeued its job)."""
    from rq import Worker

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'qa.db'}", redis_url=REDIS_URL, storage_dir=tmp_path
    )
    Store(settings.database_url)
    first = worker(settings, "--slot", "23", burst=False)
    try:
        assert wait_for(
            lambda: any(w.name.endswith(".23") for w in Worker.all(connection=redis)), timeout=60
        )
        second = worker(settings, "--slot", "23", burst=False)
        out, _ = second.communicate(timeout=120)
        taken = said(
            "worker slot {name} is in use by a live worker ({holder}); start this one with "
            "another {option}",
            option="--slot",
        )
        assert second.returncode == 2 and re.search(taken, out), out[-2000:]
        assert "Traceback" not in out
        assert first.poll() is None
        assert any(w.name.endswith(".23") for w in Worker.all(connection=redis))
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


def _post_rubric(client, admin, yaml=RUBRIC_YAML):
    r = client.post(
        "/rubrics",
        headers={**admin, "Content-Type": "application/yaml"},
        content=yaml.encode("utf-8"),
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_jobs_lost_by_redis_are_queued_again(request, tmp_path, redis, backend):
    """A Redis that restarts empty: rows `queued` in the database whose rq job is gone are
    sent again by the reconcile loop (before, only `pending` rows were)."""
    settings, store, admin = api(tmp_path, request.getfixturevalue(f"{backend}_url"))
    with TestClient(create_app(settings)) as client:
        _post_rubric(client, admin)
        with open(CALL, "rb") as f:
            r = client.post(
                "/recordings",
                headers=admin,
                files={"file": (CALL.name, f)},
                data={"rubric_id": "telecom-data-upgrade", "rubric_version": "1"},
            )
        job_id = r.json()["job_id"]
        assert Job.exists(job_id, connection=redis)
        redis.flushdb()  # Redis restarted with nothing
        assert wait_for(lambda: Job.exists(job_id, connection=redis), timeout=20)
        assert client.get(f"/jobs/{job_id}", headers=admin).json()["status"] == "queued"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rescore_kept_while_redis_is_down_and_found_at_jobs(request, tmp_path, redis, backend):
    """A rescore while Redis is down is kept (503 with its job id, `pending`), queued when
    Redis is back, run by a worker, and `/jobs/{id}` follows it; a failing rescore is listed
    at /jobs?status=failed."""
    url = request.getfixturevalue(f"{backend}_url")
    down = Settings(database_url=url, redis_url="redis://127.0.0.1:1/2", storage_dir=tmp_path)
    store = Store(url)
    admin = {"X-API-Key": create_key(store, "admin")[1]}
    with TestClient(create_app(down)) as client:
        _post_rubric(client, admin)
        _post_rubric(client, admin, RUBRIC_YAML.replace("version: 1", "version: 2", 1))
        kept = client.post("/rubrics/telecom-data-upgrade/1/rescore?project=telecom", headers=admin)
        assert kept.status_code == 503 and kept.json()["status"] == "pending", kept.text
        doomed = client.post(
            "/rubrics/telecom-data-upgrade/2/rescore?project=telecom", headers=admin
        )
        ok_id, doomed_id = kept.json()["job_id"], doomed.json()["job_id"]
        assert client.get(f"/jobs/{ok_id}", headers=admin).json()["status"] == "pending"
    with store.session() as s:  # version 2 disappears before it runs: its rescore must fail
        from sqlmodel import select

        from qa_service.storage.tables import RubricRow

        s.delete(s.exec(select(RubricRow).where(RubricRow.version == 2)).one())
        s.commit()
    up = Settings(database_url=url, redis_url=REDIS_URL, storage_dir=tmp_path)
    with TestClient(create_app(up)) as client:  # Redis is back: the reconcile loop queues them
        assert wait_for(
            lambda: client.get(f"/jobs/{ok_id}", headers=admin).json()["status"] == "queued",
            timeout=20,
        )
        out, _ = worker(up, "--slot", "24", "--queues", "qa-rescore").communicate(timeout=300)
        assert client.get(f"/jobs/{ok_id}", headers=admin).json()["status"] == "finished", out[
            -3000:
        ]
        failed = client.get("/jobs?status=failed", headers=admin).json()
        gone = message(
            "rubric {rubric} version {version} is not stored",
            rubric="telecom-data-upgrade",
            version=2,
        )
        assert [j["id"] for j in failed] == [doomed_id] and gone in failed[0]["error"], failed


def test_embedded_serve_killed_mid_job_runs_it_on_restart(tmp_path):
    """Embedded mode (no Redis): kill -9 of `serve` while a job runs left it `started` (and the
    next `queued`) forever; on start, serve runs again what it accepted and did not finish."""
    import httpx

    url = f"sqlite:///{tmp_path / 'qa.db'}"
    store = Store(url)
    admin = {"X-API-Key": create_key(store, "admin")[1]}
    env = dict(os.environ, QA_DATABASE_URL=url, QA_STORAGE_DIR=str(tmp_path / "storage"))
    env.pop("QA_REDIS_URL", None)
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"

    def serve():
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa_service.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert wait_for(lambda: _up(base), timeout=120), proc
        return proc

    first = serve()
    try:
        r = httpx.post(
            f"{base}/rubrics",
            headers={**admin, "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode("utf-8"),
        )
        assert r.status_code == 201, r.text
        jobs = []
        for path in (
            CALL,
            SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A021_20261120-102211.mp3",
        ):
            with open(path, "rb") as f:
                r = httpx.post(
                    f"{base}/recordings",
                    headers=admin,
                    files={"file": (path.name, f)},
                    data={"rubric_id": "telecom-data-upgrade", "rubric_version": "1"},
                )
            assert r.status_code == 202, r.text
            jobs.append(r.json()["job_id"])
        assert wait_for(lambda: store.jobs.get(jobs[0]).status == "started", timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert [store.jobs.get(j).status for j in jobs] == ["started", "queued"]
    second = serve()
    try:
        assert wait_for(
            lambda: all(store.jobs.get(j).status == "finished" for j in jobs), timeout=400
        ), [store.jobs.get(j) for j in jobs]
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)


def _up(base):
    import httpx

    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_worker_survives_redis_dying_mid_job(tmp_path):
    """Redis killed while the worker scores a call: the worker waits (saying so), reconnects
    when Redis is back, and goes on working; the call's result is in the database."""
    import socket as sockets

    from redis import Redis

    from qa_service.rules.rubric import load_rubric

    probe = sockets.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    def redis_server():
        return subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    server = redis_server()
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    settings = Settings(
        database_url=url, redis_url=f"redis://127.0.0.1:{port}/0", storage_dir=tmp_path
    )
    conn = Redis.from_url(settings.redis_url)
    assert wait_for(lambda: _pings(conn), timeout=20)
    store = Store(url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    store.rubrics.save(rubric, (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8"))
    row, _ = store.jobs.record("j1", str(CALL), "x", rubric)
    Queue("qa-transcribe", connection=conn).enqueue(
        "qa_service.worker.jobs.score_recording", str(CALL), rubric.id, 1, None, "j1", job_id="j1"
    )
    log = open(tmp_path / "worker.log", "w")
    env = dict(
        os.environ,
        QA_DATABASE_URL=url,
        QA_REDIS_URL=settings.redis_url,
        QA_STORAGE_DIR=str(tmp_path),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", "worker", "--slot", "25"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: store.jobs.get("j1").status == "started", timeout=120)
        server.kill()  # Redis dies mid-job
        server.wait()
        assert wait_for(lambda: store.jobs.get("j1").status == "finished", timeout=300)
        assert wait_for(
            lambda: "waiting for it to come back" in (tmp_path / "worker.log").read_text(),
            timeout=60,
        ), (tmp_path / "worker.log").read_text()[-3000:]
        time.sleep(2)
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]  # still alive
        server = redis_server()  # back, empty
        assert wait_for(lambda: _pings(conn), timeout=20)
        assert wait_for(
            lambda: "Redis is back; reconnecting" in (tmp_path / "worker.log").read_text(),
            timeout=90,
        ), (tmp_path / "worker.log").read_text()[-3000:]
        after = Queue("qa-rescore", connection=conn).enqueue("os.getpid")
        assert wait_for(lambda: after.get_status(refresh=True) == "finished", timeout=60), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.kill()
        log.close()


def _pings(conn):
    try:
        return conn.ping()
    except Exception:
        return False


def test_embedded_job_that_kills_the_process_fails_after_its_retries(tmp_path):
    """Embedded mode: a job `started` when the process died is run again at the next start,
    spending a retry each time; one that has already been started 1 + RETRY_MAX times is failed
    with the worker's death as its error instead of killing every start for ever. (resume()
    put every unfinished job back, however often it had been started.)"""
    from qa_service.app.dispatch import InlineDispatcher, worker_died
    from qa_service.config import RETRY_MAX
    from qa_service.domain.enums import JobState
    from qa_service.rules.rubric import parse_rubric

    store = Store(f"sqlite:///{tmp_path / 'qa.db'}", migrate=True)
    rubric = parse_rubric(RUBRIC_YAML)
    store.rubrics.save(rubric, RUBRIC_YAML)
    missing = str(tmp_path / "gone.wav")  # run again, it fails on its own: no such file
    for job_id, starts in (("killer", RETRY_MAX + 1), ("once", 1)):
        store.jobs.record(job_id, missing, "0" * 64, rubric)
        for _ in range(starts):
            store.jobs.set_status(job_id, JobState.STARTED)
    assert store.jobs.get("killer").attempts == RETRY_MAX + 1
    dispatcher = InlineDispatcher(store, Settings(database_url=store.url))
    try:
        killer = store.jobs.get("killer")
        assert (killer.status, killer.error) == ("failed", worker_died(RETRY_MAX + 1))
        assert wait_for(lambda: store.jobs.get("once").attempts == 2, timeout=60)
        assert "died" not in store.jobs.get("once").error
    finally:
        dispatcher.close()
