"""Hostile input at the API: a rubric's knowledge_base cannot read other files or tell which
exist, wrong keys are throttled per client (in-process and through Redis), ids are one short
line, and no answer names the database host or a key's secret prefix."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.api.throttle import KeyThrottle
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.i18n import message
from qa_service.rules.knowledge import outside_reason
from qa_service.storage.store import Store
from tests.integration.test_api_errors import _Proxy
from tests.support import RUBRICS, web_sign_in

RUBRIC_YAML = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
YAML = {"Content-Type": "application/yaml"}


def app_for(tmp_path, url=None, **extra):
    url = url or f"sqlite:///{tmp_path / 'qa.db'}"
    store = Store(url)
    keys = {role: create_key(store, role, name=f"{role}-key")[1] for role in ("admin", "viewer")}
    settings = Settings(database_url=url, storage_dir=tmp_path / "storage", **extra)
    return create_app(settings), keys


def with_knowledge_base(path: str) -> str:
    return RUBRIC_YAML.replace(
        "knowledge_base: kb/telecom-data-upgrade.yaml", f"knowledge_base: {path}", 1
    )


def test_knowledge_base_outside_the_knowledge_dir_is_refused_without_a_leak(tmp_path):
    app, keys = app_for(tmp_path)
    admin = {"X-API-Key": keys["admin"], **YAML}
    with TestClient(app) as client:
        answers = {}
        for path in (
            "/etc/passwd",
            "/etc/no-such-file-here",
            "../../../../../../etc/passwd",
            "kb/../../../../../../etc/hostname",
            "kb/../../no-such-file.yaml",
        ):
            r = client.post("/rubrics", headers=admin, content=with_knowledge_base(path))
            assert r.status_code == 422, (path, r.text)
            body = r.json()
            assert outside_reason() in body["detail"]
            assert [p["field"] for p in body["problems"]] == ["knowledge_base"]
            assert "root:" not in r.text and message("no such file") not in r.text, r.text
            answers[path] = r.json()
        # an existing file and a missing one answer alike: the answer says nothing of either
        assert answers["/etc/passwd"] == answers["/etc/no-such-file-here"]
        assert answers["../../../../../../etc/passwd"] == answers["kb/../../no-such-file.yaml"]
        # the shipped rubric, knowledge base under rubrics/, is still stored
        assert client.post("/rubrics", headers=admin, content=RUBRIC_YAML).status_code == 201


def test_wrong_keys_are_throttled_per_client(tmp_path):
    app, keys = app_for(tmp_path, key_failures=5, key_failure_window_s=600)
    guesser = TestClient(app, client=("198.51.100.7", 40000))
    other = TestClient(app, client=("198.51.100.8", 40000))
    with guesser:
        for i in range(5):
            r = guesser.get("/rubrics", headers={"X-API-Key": f"qa_wrong{i}"})
            assert r.status_code == 401, r.text
        r = guesser.get("/rubrics", headers={"X-API-Key": "qa_wrong-again"})
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 600
        assert r.json()["detail"] == message(
            "too many wrong API keys from this client; try again in {wait} s",
            wait=int(r.headers["Retry-After"]),
        )
        # locked out: a right key from that client too (a 200 would tell a guesser it won)
        assert guesser.get("/rubrics", headers={"X-API-Key": keys["viewer"]}).status_code == 429
        # another client with the right key is unaffected, and so are its wrong keys' counts
        assert other.get("/rubrics", headers={"X-API-Key": keys["viewer"]}).status_code == 200
        assert other.get("/rubrics", headers={"X-API-Key": "qa_nope"}).status_code == 401
        # the sign-in page counts and refuses the same way
        page = web_sign_in(guesser, api_key=keys["viewer"])
        assert page.status_code == 429 and page.headers["Retry-After"]


def test_wrong_keys_are_shared_through_redis(redis):
    """Two API processes (two throttles on one Redis): failures seen by one lock out the
    client at the other; the lock ends with the window."""
    from tests.support import REDIS_URL

    settings = Settings(redis_url=REDIS_URL, key_failures=3, key_failure_window_s=1)
    first, second = KeyThrottle.from_settings(settings), KeyThrottle.from_settings(settings)
    for _ in range(3):
        assert first.blocked_for("203.0.113.9") == 0
        first.note_failure("203.0.113.9")
    assert second.blocked_for("203.0.113.9") >= 1
    assert second.blocked_for("203.0.113.10") == 0
    from tests.support import wait_for

    assert wait_for(lambda: second.blocked_for("203.0.113.9") == 0, timeout=30)


def test_the_window_passes_in_process():
    throttle = KeyThrottle(2, 1)
    throttle.note_failure("c")
    throttle.note_failure("c")
    assert throttle.blocked_for("c") >= 1 and throttle.blocked_for("d") == 0
    from tests.support import wait_for

    assert wait_for(lambda: throttle.blocked_for("c") == 0, timeout=30)


def test_identifiers_are_short_plain_lines(tmp_path):
    app, keys = app_for(tmp_path)
    admin = {"X-API-Key": keys["admin"]}
    with TestClient(app) as client:
        bad_id = RUBRIC_YAML.replace("id: telecom-data-upgrade", "id: care/../x", 1)
        r = client.post("/rubrics", headers={**admin, **YAML}, content=bad_id)
        assert r.status_code == 422 and r.json()["problems"][0]["field"] == "id", r.text
        only = message("may hold only letters, digits and _ - . (not {char})", char="'/'")
        assert only in r.json()["detail"]
        chinese = RUBRIC_YAML.replace("id: telecom-data-upgrade", "id: 关怀回访", 1)
        assert (
            client.post("/rubrics", headers={**admin, **YAML}, content=chinese).status_code == 201
        )
        r = client.post(
            "/recordings",
            headers=admin,
            files={"file": ("a.wav", b"RIFF0000WAVE", "audio/wav")},
            data={"agent_id": "A" * 500, "project": "p"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["problems"][0]["field"] == "agent_id"
        too_long = message("must be at most {max} characters (it has {n})", max=64, n=500)
        assert too_long in r.json()["detail"]
        r = client.get("/evaluations", headers=admin, params={"project": "a/../b"})
        where = message("query parameter {name}", name="project")
        assert r.status_code == 422 and f"{where}: {only}" in r.json()["detail"], r.text
        r = client.post("/rubrics/关怀回访/1/activate", headers=admin, params={"project": "x" * 65})
        assert r.status_code == 422, r.text
        r = client.post(
            "/rubrics/关怀回访/1/activate", headers=admin, params={"project": "外呼一期"}
        )
        assert r.status_code == 200, r.text


def test_a_403_names_the_key_not_its_secret(tmp_path):
    app, keys = app_for(tmp_path)
    with TestClient(app) as client:
        r = client.post(
            "/rubrics", headers={"X-API-Key": keys["viewer"], **YAML}, content=RUBRIC_YAML
        )
        assert r.status_code == 403, r.text
        assert keys["viewer"][:6] not in r.text and "…" not in r.text
        assert "viewer-key" in r.json()["detail"]


def test_rescore_202_says_its_scope(tmp_path):
    app, keys = app_for(tmp_path)
    admin = {"X-API-Key": keys["admin"]}
    with TestClient(app) as client:
        assert client.post("/rubrics", headers={**admin, **YAML}, content=RUBRIC_YAML).is_success
        r = client.post("/rubrics/telecom-data-upgrade/1/rescore", headers=admin)
        assert r.status_code == 202, r.text
        scope = message(
            "{n} recording(s): those already evaluated with rubric {rubric} (give a project to "
            "rescore another)",
            n=0,
            rubric="telecom-data-upgrade",
        )
        assert r.json()["scope"] == scope, r.json()
        r = client.post("/rubrics/telecom-data-upgrade/1/rescore?project=p", headers=admin)
        scope = message("{n} recording(s) of project {project}", n=0, project="p")
        assert r.status_code == 202 and r.json()["scope"] == scope, r.text


def test_database_away_names_no_host_or_port(postgres_url, tmp_path):
    proxy = _Proxy()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    app, keys = app_for(tmp_path, url)
    client = TestClient(app, raise_server_exceptions=False)
    try:
        with client:
            assert client.get("/health").status_code == 200
            proxy.cut()  # the port is closed now
            health = client.get("/health")
            assert health.status_code == 503 and health.json()["unavailable"] == ["database"]
            assert "database is unavailable" in health.json()["database"]
            r = client.get("/rubrics", headers={"X-API-Key": keys["admin"]})
            unavailable = message("the database is unavailable; try again shortly")
            assert r.status_code == 503 and r.json()["detail"] == unavailable
            for body in (health.text, r.text):
                assert "127.0.0.1" not in body and str(proxy.port) not in body, body
                assert "5432" not in body and "connection" not in body.lower(), body
    finally:
        from qa_service.storage.store import _engines

        engine = _engines.pop(url, None)
        if engine is not None:
            engine.dispose()
