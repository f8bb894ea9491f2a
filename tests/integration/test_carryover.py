"""A new project starts from an earlier project's wrap-up (SQLite and PostgreSQL)."""

import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.app.keys import create_key
from qa_service.config import Settings
from tests.integration.test_knowledge import PROJECT, seed_project

NEW = "畅享升级-十二月"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_new_project_starts_from_a_wrapup(request, tmp_path, backend):
    url = request.getfixturevalue(f"{backend}_url")
    store = seed_project(url)
    manager = {"X-API-Key": create_key(store, "manager", "m")[1]}
    viewer = {"X-API-Key": create_key(store, "viewer", "v")[1]}
    settings = Settings(database_url=url, redis_url=None, storage_dir=tmp_path / "s")
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/projects/{NEW}/carried-over", headers=viewer).status_code == 404
        wrapup = client.get(f"/projects/{PROJECT}/wrapup", headers=viewer).json()
        r = client.post(f"/projects/{NEW}/from-wrapup/{PROJECT}", headers=manager)
        assert r.status_code == 201, r.text
        carried = r.json()
        assert carried["source_project"] == PROJECT and carried["project"] == NEW
        assert carried["source_rubric"] == {"id": "telecom-data-upgrade", "version": 1}
        for key in ("highlights", "common_errors", "refusal_reasons", "product_fact_violations"):
            assert carried[key] == wrapup[key], key
        assert carried["highlights"] and carried["common_errors"]
        assert [v["values_said"] for v in carried["product_fact_violations"]] == [{"99元": 3}]
        # Kept with the new project: its trial page reads it back.
        assert client.get(f"/projects/{NEW}/carried-over", headers=viewer).json() == carried
        # Bad requests: clear 4xx.
        assert (
            client.post(f"/projects/{NEW}/from-wrapup/{PROJECT}", headers=viewer).status_code == 403
        )
        assert (
            client.post(f"/projects/{NEW}/from-wrapup/无此项目", headers=manager).status_code == 404
        )
        assert (
            client.post(f"/projects/{PROJECT}/from-wrapup/{PROJECT}", headers=manager).status_code
            == 422
        )
