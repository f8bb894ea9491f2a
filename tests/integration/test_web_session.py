"""The web app's cookie session beside header keys: sign-in, CSRF on cookie writes, no key in
URLs, security headers, pages outside the OpenAPI schema (no browser: see tests/browser)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.i18n import message
from qa_service.storage.store import Store
from tests.support import web_sign_in


def _client(sqlite_url, tmp_path):
    store = Store(sqlite_url)
    keys = {role: create_key(store, role, role)[1] for role in ("viewer", "reviewer", "admin")}
    app = create_app(Settings(database_url=sqlite_url, storage_dir=tmp_path / "data"))
    return TestClient(app), keys


def _sign_in(client, secret):
    r = web_sign_in(client, api_key=secret, next="/dashboard")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert secret not in cookie and secret not in r.headers["location"]
    page = client.get("/dashboard")
    assert page.status_code == 200
    return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_cookie_session_reads_and_writes_only_with_csrf(sqlite_url, tmp_path):
    client, keys = _client(sqlite_url, tmp_path)
    with client:
        assert client.get("/rubrics").status_code == 401
        assert client.get("/queue", follow_redirects=False).headers["location"].startswith("/login")
        bad = web_sign_in(client, api_key="qa_wrong")
        assert bad.status_code == 401 and "密钥无效" in bad.text
        csrf = _sign_in(client, keys["admin"])
        assert client.get("/rubrics").status_code == 200  # the cookie stands in for the key
        rubric = "id: t\nversion: 1\nname: 测试\n"
        # a cookie write without the token is refused (a forged cross-site form or fetch)
        r = client.post("/rubrics", content=rubric, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        r = client.post(
            "/rubrics",
            content=rubric,
            headers={"Content-Type": "application/yaml", "X-CSRF-Token": "forged"},
        )
        assert r.status_code == 403
        r = client.post(
            "/rubrics",
            content=rubric,
            headers={"Content-Type": "application/yaml", "X-CSRF-Token": csrf},
        )
        assert r.status_code != 403  # past auth and CSRF: now the rubric's own validation answers
        # sign out needs the token too, then the cookie is gone
        assert (
            client.post("/logout", data={"csrf_token": "x"}, follow_redirects=False).status_code
            == 403
        )
        assert (
            client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code
            == 303
        )
        assert client.get("/rubrics").status_code == 401


def test_header_keys_still_work_and_roles_hold_for_cookies(sqlite_url, tmp_path):
    client, keys = _client(sqlite_url, tmp_path)
    with client:
        assert client.get("/rubrics", headers={"X-API-Key": keys["viewer"]}).status_code == 200
        csrf = _sign_in(client, keys["viewer"])
        r = client.post(
            "/rubrics",
            content="id: t\n",
            headers={"Content-Type": "application/yaml", "X-CSRF-Token": csrf},
        )
        assert (
            r.status_code == 403 and message("Administrator") in r.json()["detail"]
        )  # a viewer's session stays a viewer


def test_security_headers_and_schema(sqlite_url, tmp_path):
    client, _ = _client(sqlite_url, tmp_path)
    with client:
        page = client.get("/login")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp and "http" not in csp
        assert page.headers["x-frame-options"] == "DENY"
        paths = client.get("/openapi.json").json()["paths"]
        assert not any(
            p in paths for p in ("/login", "/queue", "/dashboard", "/calls/{evaluation_id}")
        )
        js = client.get("/static/vendor/echarts.min.js", headers={"Accept-Encoding": "gzip"})
        assert js.status_code == 200 and js.headers["content-encoding"] == "gzip"
        assert "evil.example" not in client.get("/login?next=//evil.example").text


def test_sign_in_and_out_across_sites(sqlite_url, tmp_path):
    """A sign-in form posted from another site (no token of this site's) is refused, so nobody
    is signed in as the attacker; a cross-site POST to /logout (SameSite=Strict: no cookie with
    it) ends nothing and clears nothing; 退出 ends the session on the server, so the cookie
    copied before it is refused after."""
    client, keys = _client(sqlite_url, tmp_path)
    with client:
        forged = client.post("/login", data={"api_key": keys["admin"]}, follow_redirects=False)
        assert forged.status_code == 403 and "qa_session" not in forged.headers.get(
            "set-cookie", ""
        )
        csrf = _sign_in(client, keys["viewer"])
        cookie = client.cookies.get("qa_session")
        cross = TestClient(client.app)  # the same browser seen from another site: no cookie sent
        out = cross.post("/logout", follow_redirects=False)
        assert out.status_code == 303 and "qa_session" not in out.headers.get("set-cookie", "")
        assert client.get("/rubrics").status_code == 200  # still signed in
        assert (
            client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code
            == 303
        )
        copied = TestClient(client.app, cookies={"qa_session": cookie})
        assert copied.get("/rubrics").status_code == 401
        assert copied.get("/queue", follow_redirects=False).headers["location"].startswith("/login")
