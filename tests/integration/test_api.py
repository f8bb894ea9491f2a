"""The HTTP API with a real database (SQLite and PostgreSQL), real Redis and real rq workers."""

import os
import shutil
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.i18n import message
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from tests.support import GOOD_CALL, REDIS_URL, ROOT, RUBRICS, RUDE_CALL, SAMPLES, wait_for

TELECOM = SAMPLES / "telecom-data-upgrade"
MODEL_CALL = TELECOM / "telecom-upgrade_A017_20261120-091403.wav"
FATAL_CALL = TELECOM / "telecom-upgrade_A021_20261120-102211.mp3"
RUBRIC_YAML = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")


def make_api(tmp_path, url, redis_url=REDIS_URL, **extra):
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    settings = Settings(
        database_url=url,
        redis_url=redis_url,
        storage_dir=tmp_path / "storage",
        import_roots=[inbox],
        **extra,
    )
    store = Store(url)
    secrets = {
        role: create_key(store, role, f"test-{role}")[1] for role in ("admin", "reviewer", "viewer")
    }
    return settings, secrets


def hdr(secret):
    return {"X-API-Key": secret}


def upload(client, secret, path, **form):
    with open(path, "rb") as f:
        return client.post(
            "/recordings",
            headers=hdr(secret),
            files={"file": (Path(path).name, f, "application/octet-stream")},
            data=form,
        )


def run_worker(settings):
    env = dict(
        os.environ,
        QA_DATABASE_URL=settings.database_url,
        QA_REDIS_URL=settings.redis_url,
        QA_STORAGE_DIR=str(settings.storage_dir),
    )  # uploads are stored relative to it
    proc = subprocess.run(
        [sys.executable, "-m", "qa_service.cli", "worker", "--burst", "--slot", "3"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upload_worker_evaluation_kpis(request, tmp_path, redis, backend):  # noqa: F811
    url = request.getfixturevalue(f"{backend}_url")
    settings, key = make_api(tmp_path, url)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["redis"] == "ok"
        r = client.post(
            "/rubrics",
            headers={**hdr(key["admin"]), "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode("utf-8"),
        )
        assert r.status_code == 201, r.text
        r = client.post(
            "/rubrics/telecom-data-upgrade/1/activate",
            params={"project": "telecom"},
            headers=hdr(key["admin"]),
        )
        assert r.status_code == 200
        jobs = []
        for path, agent, when in (
            (MODEL_CALL, "A017", "2026-11-20T09:14:03"),
            (FATAL_CALL, "A021", "2026-11-20T10:22:11"),
        ):
            r = upload(
                client,
                key["reviewer"],
                path,
                agent_id=agent,
                project="telecom",
                call_time=when,
                phase="production",
            )
            assert r.status_code == 202, r.text
            jobs.append(r.json()["job_id"])
        # the same audio again is the same job: nothing new is queued
        again = upload(client, key["reviewer"], MODEL_CALL, agent_id="A017", project="telecom")
        assert (
            again.status_code == 200
            and again.json()["duplicate"]
            and again.json()["job_id"] == jobs[0]
        )
        assert Redis.from_url(REDIS_URL).llen("rq:queue:qa-transcribe") == 2

        run_worker(settings)
        for job_id in jobs:
            job = client.get(f"/jobs/{job_id}", headers=hdr(key["viewer"])).json()
            assert job["status"] == "finished", job

        flagged = client.get(
            "/flagged", params={"project": "telecom"}, headers=hdr(key["viewer"])
        ).json()
        assert flagged["total"] == 1
        (item,) = flagged["items"]
        assert item["agent_id"] == "A021" and "fatal" in item["reasons"]
        ev = client.get(f"/evaluations/{item['evaluation_id']}", headers=hdr(key["viewer"])).json()
        rules = {f["rule_id"]: f for f in ev["findings"]}
        assert (
            rules["false_promise"]["status"] == "violation" and rules["false_promise"]["evidence"]
        )
        assert ev["recording"] is None  # paths are for admins

        by_agent = {
            row["agent"]: row
            for row in client.get(
                "/kpis", params={"group_by": "agent"}, headers=hdr(key["viewer"])
            ).json()
        }
        assert by_agent["A017"]["pass_rate"] == 1.0 and by_agent["A017"]["excellent_rate"] == 1.0
        assert by_agent["A021"]["pass_rate"] == 0.0 and by_agent["A021"]["fatal"] == 1
        project = client.get(
            "/kpis", params={"group_by": "project"}, headers=hdr(key["viewer"])
        ).json()
        assert project[0]["evaluated"] == 2 and project[0]["pass_rate"] == 0.5
        assert project[0]["success_rate"] == 0.5  # A017 signs up, A021 refuses
        hours = {
            row["hour"]
            for row in client.get(
                "/kpis", params={"group_by": "hour"}, headers=hdr(key["viewer"])
            ).json()
        }
        assert hours == {9, 10}

        # a reviewer overrides the machine's grade: the original stays, KPIs follow the review
        r = client.post(
            f"/evaluations/{item['evaluation_id']}/reviews",
            headers=hdr(key["reviewer"]),
            json={
                "target": "grade",
                "action": "override",
                "value": "pass",
                "comment": "promise was retracted later",
            },
        )
        assert r.status_code == 201 and r.json()["old_value"] == "fail"
        ev = client.get(f"/evaluations/{item['evaluation_id']}", headers=hdr(key["viewer"])).json()
        assert ev["grade"] == "pass" and ev["machine_grade"] == "fail" and len(ev["reviews"]) == 1
        project = client.get(
            "/kpis", params={"group_by": "project"}, headers=hdr(key["viewer"])
        ).json()
        assert project[0]["pass_rate"] == 1.0
        rude = next(f for f in ev["findings"] if f["rule_id"] == "rude")
        r = client.post(
            f"/evaluations/{item['evaluation_id']}/reviews",
            headers=hdr(key["reviewer"]),
            json={
                "target": "finding",
                "finding_id": rude["id"],
                "action": "override",
                "value": "dismissed",
                "comment": "customer was joking",
            },
        )
        assert r.status_code == 201
        r = client.post(
            f"/evaluations/{item['evaluation_id']}/reviews",
            headers=hdr(key["viewer"]),
            json={"target": "grade", "action": "confirm"},
        )
        assert r.status_code == 403  # viewers read only
        ev = client.get(f"/evaluations/{item['evaluation_id']}", headers=hdr(key["viewer"])).json()
        rude = next(f for f in ev["findings"] if f["rule_id"] == "rude")
        assert rude["status"] == "dismissed" and rude["machine_status"] == "violation"
        assert [x["target"] for x in ev["reviews"]] == ["grade", "finding"]

        errors = client.get("/kpis/errors", headers=hdr(key["viewer"])).json()
        assert errors and {"rule_id", "count", "share", "example_recordings"} <= set(errors[0])

        # the audio, with a range request as a player seeking to a finding would send
        r = client.get(
            f"/recordings/{ev['recording_id']}/audio",
            headers={**hdr(key["viewer"]), "Range": "bytes=0-99"},
        )
        assert r.status_code == 206 and len(r.content) == 100


BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])


@BACKENDS
def test_auth(request, tmp_path, redis, backend):  # noqa: F811
    settings, key = make_api(tmp_path, request.getfixturevalue(f"{backend}_url"))
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200  # no key needed
        assert client.get("/rubrics").status_code == 401
        assert client.get("/rubrics", headers=hdr("qa_wrong")).status_code == 401
        assert (
            client.get("/rubrics", headers={"Authorization": f"Bearer {key['viewer']}"}).status_code
            == 200
        )
        r = client.post(
            "/rubrics",
            headers={**hdr(key["viewer"]), "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode("utf-8"),
        )
        assert r.status_code == 403 and message("Administrator") in r.json()["detail"]
        assert upload(client, key["viewer"], MODEL_CALL).status_code == 403


@BACKENDS
def test_bad_rubrics_and_uploads(request, tmp_path, redis, backend):  # noqa: F811
    settings, key = make_api(tmp_path, request.getfixturevalue(f"{backend}_url"), max_upload_mb=0.5)
    with TestClient(create_app(settings)) as client:
        bad = "id: x\nforbidden_phrases:\n  - {id: f, regex: ['(赚'], deduct: 5}\n"
        r = client.post(
            "/rubrics",
            headers={**hdr(key["admin"]), "Content-Type": "application/yaml"},
            content=bad.encode("utf-8"),
        )
        assert r.status_code == 422 and r.json()["problems"][0]["line"] == 3
        client.post(
            "/rubrics",
            headers={**hdr(key["admin"]), "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode("utf-8"),
        )
        changed = RUBRIC_YAML.replace("pass_score: 80", "pass_score: 70")
        r = client.post(
            "/rubrics",
            headers={**hdr(key["admin"]), "Content-Type": "application/yaml"},
            content=changed.encode("utf-8"),
        )
        assert r.status_code == 409  # never overwritten
        form = {"rubric_id": "telecom-data-upgrade", "rubric_version": "1"}
        text = tmp_path / "notes.wav"
        text.write_text("not audio")
        r = upload(client, key["reviewer"], text, **form)
        assert r.status_code == 422 and "notes.wav" in r.json()["detail"]
        empty = tmp_path / "empty.wav"
        empty.write_bytes(b"")
        assert upload(client, key["reviewer"], empty, **form).status_code == 422
        assert upload(client, key["reviewer"], MODEL_CALL, **form).status_code == 413
        doc = tmp_path / "call.txt"
        doc.write_text("x")
        assert upload(client, key["reviewer"], doc, **form).status_code == 415
        r = upload(client, key["reviewer"], FATAL_CALL)  # no rubric, no project
        assert r.status_code == 422 and r.json()["detail"].startswith("项目：请指定项目")
        outside = tmp_path / "elsewhere.wav"
        shutil.copy(MODEL_CALL, outside)
        r = client.post(
            "/recordings/import",
            headers=hdr(key["admin"]),
            json={
                "path": str(outside),
                **{"rubric_id": "telecom-data-upgrade", "rubric_version": 1},
            },
        )
        assert r.status_code == 403
        assert r.json()["detail"] == message("{path}: outside the import roots", path=str(outside))
        inside = tmp_path / "inbox" / "telecom_A017_20261120-091403.wav"
        shutil.copy(MODEL_CALL, inside)
        r = client.post(
            "/recordings/import",
            headers=hdr(key["admin"]),
            json={"path": str(inside), "rubric_id": "telecom-data-upgrade", "rubric_version": 1},
        )
        assert r.status_code == 202, r.text
        assert client.get("/jobs", params={"status": "queued"}, headers=hdr(key["viewer"])).json()


@BACKENDS
def test_redis_down_then_back(request, tmp_path, backend):
    """A Redis of our own on another port, stopped while the API runs, then started again."""
    url = request.getfixturevalue(f"{backend}_url")
    with socket.socket() as probe:  # a free port: another test may run a Redis of its own
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = [
        "redis-server",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "no",
    ]
    proc = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = Redis(port=port)
    assert wait_for(lambda: _pings(conn), timeout=10)
    settings, key = make_api(tmp_path, url, redis_url=f"redis://127.0.0.1:{port}/0")
    try:
        with TestClient(create_app(settings)) as client:
            client.post(
                "/rubrics",
                headers={**hdr(key["admin"]), "Content-Type": "application/yaml"},
                content=RUBRIC_YAML.encode("utf-8"),
            )
            proc.terminate()
            proc.wait(timeout=10)
            r = upload(
                client,
                key["reviewer"],
                MODEL_CALL,
                rubric_id="telecom-data-upgrade",
                rubric_version="1",
            )
            assert r.status_code == 503 and "Redis" in r.json()["detail"]
            job_id = r.json()["job_id"]
            assert (
                client.get(f"/jobs/{job_id}", headers=hdr(key["viewer"])).json()["status"]
                == "pending"
            )
            proc = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert wait_for(lambda: _pings(conn), timeout=10)
            # the API's own loop queues what waited, without anyone asking again
            assert wait_for(lambda: conn.llen("rq:queue:qa-transcribe") == 1, timeout=30)
            assert (
                client.get(f"/jobs/{job_id}", headers=hdr(key["viewer"])).json()["status"]
                == "queued"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _pings(conn):
    try:
        return conn.ping()
    except Exception:
        return False


@BACKENDS
def test_embedded_mode_runs_jobs_in_process(request, tmp_path, recognizer, backend):
    settings, key = make_api(tmp_path, request.getfixturevalue(f"{backend}_url"), redis_url=None)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["queue"] == "embedded"
        client.post(
            "/rubrics",
            headers={**hdr(key["admin"]), "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode("utf-8"),
        )
        r = upload(
            client,
            key["reviewer"],
            MODEL_CALL,
            rubric_id="telecom-data-upgrade",
            rubric_version="1",
            agent_id="A017",
            project="telecom",
        )
        assert r.status_code == 202
        job_id = r.json()["job_id"]
        assert wait_for(
            lambda: (
                client.get(f"/jobs/{job_id}", headers=hdr(key["viewer"])).json()["status"]
                in ("finished", "failed")
            ),
            timeout=300,
        )
        assert (
            client.get(f"/jobs/{job_id}", headers=hdr(key["viewer"])).json()["status"] == "finished"
        )
        rows = client.get("/kpis", params={"group_by": "agent"}, headers=hdr(key["viewer"])).json()
        assert rows == [{**rows[0], "agent": "A017", "evaluated": 1, "excellent": 1}]


@BACKENDS
def test_transcripts_masked_unless_admin(request, tmp_path, redis, backend):  # noqa: F811
    url = request.getfixturevalue(f"{backend}_url")
    settings, key = make_api(tmp_path, url)
    store = Store(url)
    rec = store.recordings.save_transcript(
        "cd" * 32,
        "x.wav",
        CallMetadata(project="p"),
        5.0,
        2,
        "stereo",
        "embedded",
        [U("customer", 0.5, 3.0, "我的手机是13812345678"), U("agent", 3.5, 4.5, "每月96元")],
    )
    with TestClient(create_app(settings)) as client:
        viewer = client.get(f"/recordings/{rec.id}/transcript", headers=hdr(key["viewer"])).json()
        admin = client.get(f"/recordings/{rec.id}/transcript", headers=hdr(key["admin"])).json()
    assert viewer[0]["text"] == "我的手机是138****5678" and viewer[1]["text"] == "每月96元"
    assert admin[0]["text"] == "我的手机是13812345678"


@BACKENDS
def test_kpi_arithmetic(request, backend):
    """Hand-computed KPIs on a fixture set: 5 calls, 2 agents, 2 days, 3 hours."""
    store = Store(request.getfixturevalue(f"{backend}_url"))
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    scorer = Scorer(rubric)
    good, rude = GOOD_CALL, RUDE_CALL
    calls = [
        ("A1", "2026-11-20T09:10:00", good, 60.0),
        ("A1", "2026-11-20T09:40:00", rude, 30.0),
        ("A1", "2026-11-21T10:05:00", good, 90.0),
        ("A2", "2026-11-21T10:30:00", rude, 45.0),
        ("A2", "2026-11-21T14:00:00", good, 75.0),
    ]
    for i, (agent, when, utts, duration) in enumerate(calls):
        meta = CallMetadata(agent_id=agent, project="p", call_time=datetime.fromisoformat(when))
        rec = store.recordings.save_transcript(
            f"{i:064x}", f"c{i}.wav", meta, duration, 2, "stereo", "x", utts
        )
        record_evaluation(store, rec.id, evaluate(f"c{i}.wav", utts, duration, scorer))
    from qa_service.metrics.kpis import kpi_rows

    with store.session() as s:
        agents = {r.agent: r for r in kpi_rows(s, "agent")}
        days = {r.day: r for r in kpi_rows(s, "day")}
        hours = {r.hour: r for r in kpi_rows(s, "hour")}
    assert agents["A1"].evaluated == 3 and agents["A1"].pass_rate == round(2 / 3, 4)
    assert agents["A1"].excellent_rate == round(2 / 3, 4) and agents["A1"].fatal == 1
    assert agents["A1"].success_rate == round(2 / 3, 4)
    assert agents["A1"].average_talk_seconds == 60.0  # (60 + 30 + 90) / 3
    assert agents["A2"].pass_rate == 0.5 and agents["A2"].average_talk_seconds == 60.0
    assert days["2026-11-20"].evaluated == 2 and days["2026-11-21"].pass_rate == round(2 / 3, 4)
    assert {h: r.evaluated for h, r in hours.items()} == {9: 2, 10: 2, 14: 1}


@BACKENDS
def test_recognition_warnings_are_kept_shown_and_flag_the_call(request, tmp_path, backend):
    """A transcript that recognition may have lost words in: its warnings are stored with the
    recording, carried into the result (the CLI's JSON, the API's evaluation and recording,
    after a rescore too), and the call is flagged however sure the words it kept were."""
    from qa_service.app.scoring import QAService
    from qa_service.domain.evaluation import CallEvaluation

    url = request.getfixturevalue(f"{backend}_url")
    settings, key = make_api(tmp_path, url, redis_url=None)
    store = Store(url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    store.rubrics.save(rubric, RUBRIC_YAML)
    warning = "channel 2: far fewer utterances than speech chunks (1 of 9); listen to this call"
    utts = [U("agent", 0.5, 3.0, "您好，我是客服", 0.95), U("customer", 3.5, 4.5, "好的", 0.9)]
    rec = store.recordings.save_transcript(
        "ef" * 32, "w.wav", CallMetadata(project="p"), 6.0, 2, "stereo", "embedded", utts, [warning]
    )
    quiet = store.recordings.save_transcript(
        "fe" * 32, "q.wav", CallMetadata(project="p"), 6.0, 2, "stereo", "embedded", utts
    )
    for r, warnings in ((rec, [warning]), (quiet, [])):
        result = evaluate("x.wav", utts, 6.0, Scorer(rubric), warnings=warnings)
        assert CallEvaluation.of_result(result).to_json()["warnings"] == warnings
        record_evaluation(store, r.id, result)
    QAService(store, settings).rescore(rubric, "p")
    with TestClient(create_app(settings)) as client:
        flagged = client.get("/flagged", params={"project": "p"}, headers=hdr(key["viewer"])).json()
        flagged_ids = {item["recording_id"]: item for item in flagged["items"]}
        assert rec.id in flagged_ids and "low_confidence" in flagged_ids[rec.id]["reasons"]
        ev = client.get(
            f"/evaluations/{flagged_ids[rec.id]['evaluation_id']}", headers=hdr(key["viewer"])
        ).json()
        assert ev["warnings"] == [warning] and ev["asr_confidence"] <= 0.3
        assert client.get(f"/recordings/{rec.id}", headers=hdr(key["viewer"])).json()[
            "asr_warnings"
        ] == [warning]
        other = [e for e in store.evaluations.of_recording(quiet.id) if e.is_current]
        assert other and other[0].asr_confidence > 0.6
        assert (
            client.get(f"/evaluations/{other[0].id}", headers=hdr(key["viewer"])).json()["warnings"]
            == []
        )
