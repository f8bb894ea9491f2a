"""Uploads are stored relative to QA_STORAGE_DIR: a server or worker started in another
working directory (or with the storage mounted elsewhere) still finds them."""

import shutil

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from qa_service.api import create_app
from qa_service.app.keys import create_key
from qa_service.app.scoring import QAService
from qa_service.config import Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store
from qa_service.storage.tables import JobRecord
from tests.support import RUBRICS, SAMPLES

CALL = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"
RUBRIC = RUBRICS / "telecom-data-upgrade.yaml"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upload_found_from_another_directory(request, tmp_path, monkeypatch, redis, backend):
    from tests.support import REDIS_URL

    url = request.getfixturevalue(f"{backend}_url")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    store = Store(url)
    rubric = load_rubric(RUBRIC)
    store.rubrics.save(rubric, RUBRIC.read_text(encoding="utf-8"))
    admin = {"X-API-Key": create_key(store, "admin")[1]}
    monkeypatch.chdir(first)  # the server runs here with a relative storage folder
    settings = Settings(database_url=url, redis_url=REDIS_URL, storage_dir="data")
    with TestClient(create_app(settings)) as client, open(CALL, "rb") as f:
        r = client.post(
            "/recordings",
            headers=admin,
            files={"file": (CALL.name, f)},
            data={"rubric_id": rubric.id, "rubric_version": "1"},
        )
        assert r.status_code == 202, r.text
    with store.session() as s:
        job = s.exec(select(JobRecord)).one()
    assert job.path == f"recordings/{job.sha256}.wav"  # relative to QA_STORAGE_DIR

    # the storage moves (another mount point) and the server and worker start elsewhere
    moved = tmp_path / "mnt" / "qa"
    shutil.move(first / "data", moved)
    monkeypatch.chdir(second)
    elsewhere = Settings(database_url=url, redis_url=REDIS_URL, storage_dir=moved)
    # what a worker stored earlier: the transcript (so this test needs no recognition)
    store.recordings.save_transcript(
        job.sha256,
        job.path,
        CallMetadata(project="telecom"),
        12.0,
        2,
        "stereo",
        "test",
        [Utterance("agent", 0.0, 2.0, "您好，这里是电信客服", 0.9)],
    )
    outcome = QAService(store, elsewhere).score_file(job.path, rubric)
    assert outcome.error is None and outcome.result.evaluation_id
    with TestClient(create_app(elsewhere)) as client:
        audio = client.get(f"/recordings/{outcome.result.recording_id}/audio", headers=admin)
        assert audio.status_code == 200 and audio.content == CALL.read_bytes()
