"""Bad requests and missing dependencies: one error shape ({"detail": str}), 404/413/415/422/503
with a message a QA admin understands, never a 5xx or a traceback (SQLite and PostgreSQL)."""

import re
import socket
import subprocess
import sys
import threading
import time

import pytest
import uvicorn
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.i18n import message
from qa_service.storage.store import Store
from tests.support import POSTGRES_ADMIN_URL, RUBRICS, said, wait_for, write_flac

RUBRIC_YAML = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
HUGE = [2**31, 2**63, 10**30]
# what the CLI says before the driver's reason when the database does not answer
UNAVAILABLE = message(
    "error: {error}", error=message("the database is unavailable ({reason})", reason="\0")
).split("\0")[0]


def client_for(url, tmp_path, **extra):
    store = Store(url)
    secret = create_key(store, "admin")[1]
    settings = Settings(
        database_url=url, storage_dir=tmp_path / "storage", import_roots=[tmp_path], **extra
    )
    return TestClient(create_app(settings), raise_server_exceptions=False), {"X-API-Key": secret}


def one_shape(r, *statuses):
    assert r.status_code in statuses, (r.request.url, r.status_code, r.text)
    body = r.json()
    assert isinstance(body["detail"], str) and body["detail"], body
    return body


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_hostile_requests_are_404_or_422(request, tmp_path, backend):
    url = request.getfixturevalue(f"{backend}_url")
    client, admin = client_for(url, tmp_path)
    with client:
        r = client.post(
            "/rubrics",
            headers={**admin, "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode("utf-8"),
        )
        assert r.status_code == 201
        for n in HUGE:  # ids, versions and finding ids past the database's integers
            for method, path in (
                ("get", f"/evaluations/{n}"),
                ("get", f"/recordings/{n}"),
                ("get", f"/recordings/{n}/audio"),
                ("get", f"/recordings/{n}/transcript"),
                ("get", f"/rubrics/telecom-data-upgrade/{n}"),
                ("post", f"/rubrics/telecom-data-upgrade/{n}/activate?project=p"),
                ("post", f"/rubrics/telecom-data-upgrade/{n}/rescore"),
                ("get", f"/projects/p/trial?rubric_id=telecom-data-upgrade&version={n}"),
            ):
                one_shape(getattr(client, method)(path, headers=admin), 404, 422)
            page = client.get(f"/flagged?page_size=500&page={n}", headers=admin)  # past the end
            assert page.status_code == 422 or (
                page.status_code == 200 and page.json()["items"] == []
            )
            one_shape(
                client.post(
                    f"/evaluations/{n}/reviews",
                    headers=admin,
                    json={"target": "grade", "action": "confirm"},
                ),
                404,
                422,
            )
            one_shape(
                client.post(
                    "/evaluations/1/reviews",
                    headers=admin,
                    json={"target": "finding", "action": "confirm", "finding_id": n},
                ),
                404,
                422,
            )
        for path in (
            "/kpis?project=%00",
            "/kpis/errors?agent=a%00",
            "/jobs?status=%00",
            "/flagged?page=1e20",
            "/flagged?project=x%00y",
            "/rubrics/a%00/1",
        ):
            one_shape(client.get(path, headers=admin), 404, 422)
        one_shape(
            client.post(
                "/recordings/import", headers=admin, json={"path": str(tmp_path / "a\x00.wav")}
            ),
            403,
            404,
            422,
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_clear_errors(request, tmp_path, backend):
    url = request.getfixturevalue(f"{backend}_url")
    client, admin = client_for(url, tmp_path)
    with client:
        # a rubric sent as a form upload: say how to send it, not what the YAML parser thinks
        body = one_shape(
            client.post(
                "/rubrics", headers=admin, files={"file": ("r.yaml", RUBRIC_YAML.encode())}
            ),
            415,
        )
        assert "application/yaml" in body["detail"]
        # a broken rubric: the message, and the problems with their lines
        body = one_shape(
            client.post(
                "/rubrics",
                headers={**admin, "Content-Type": "application/yaml"},
                content=b"id: x\nversion: 1\nscript_sections: 3\n",
            ),
            422,
        )
        assert body["problems"] and "line" in body["problems"][0]
        assert "phase" in one_shape(client.get("/kpis?phase=pilot", headers=admin), 422)["detail"]
        assert "status" in one_shape(client.get("/jobs?status=done", headers=admin), 422)["detail"]
        # unknown project: the same answer from every report
        for report in ("trial", "inflight"):
            assert one_shape(client.get(f"/projects/nope/{report}", headers=admin), 404)[
                "detail"
            ] == message(
                "no project {project}: no recordings and no active rubric", project="'nope'"
            )
        # text saved as .wav: the file and the problem, no FFmpeg error number
        client.post(
            "/rubrics",
            headers={**admin, "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode("utf-8"),
        )
        body = one_shape(
            client.post(
                "/recordings",
                headers=admin,
                files={"file": ("notes.wav", b"this is not audio\n" * 50)},
                data={"rubric_id": "telecom-data-upgrade", "rubric_version": "1"},
            ),
            422,
        )
        assert "notes.wav" in body["detail"] and "Errno" not in body["detail"], body
        assert body["detail"] == message(
            "{path}: not a readable audio file ({reason})",
            path="notes.wav",
            reason=message(
                "its content is not audio in a format we read: {formats}",
                formats="wav, mp3, flac",
            ),
        )


def test_recording_over_the_length_limit_is_422_before_queueing(sqlite_url, tmp_path):
    """A header declaring 4 hours (2 s of FLAC): refused at upload and at import with the
    file, its length and QA_MAX_AUDIO_MINUTES, before anything is kept or queued."""
    long = write_flac(tmp_path / "long.flac", 2, declared_seconds=4 * 3600)
    client, admin = client_for(sqlite_url, tmp_path)
    with client:
        client.post(
            "/rubrics",
            headers={**admin, "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode("utf-8"),
        )
        form = {"rubric_id": "telecom-data-upgrade", "rubric_version": "1"}
        body = one_shape(
            client.post(
                "/recordings",
                headers=admin,
                files={"file": ("night-shift.flac", long.read_bytes())},
                data=form,
            ),
            422,
        )
        too_long = (
            "{path}: the recording is {clock} long ({minutes:g} min); the limit is {limit:g} min "
            "({setting})"
        )
        fields = {"clock": "4:00:00", "minutes": 240, "limit": 180}
        fields["setting"] = "QA_MAX_AUDIO_MINUTES"
        assert body["detail"] == message(too_long, path="night-shift.flac", **fields)
        body = one_shape(
            client.post("/recordings/import", headers=admin, json={"path": str(long), **form}),
            422,
        )
        assert body["detail"] == message(too_long, path=str(long), **fields)
        assert client.get("/jobs", headers=admin).json() == []
        assert not list((tmp_path / "storage" / "recordings").iterdir())
    # the limit is QA_MAX_AUDIO_MINUTES: 40 s, truly, over a limit of half a minute
    client, admin = client_for(sqlite_url, tmp_path, max_audio_minutes=0.5)
    call = write_flac(tmp_path / "call.flac", 40)
    with client:
        body = one_shape(
            client.post(
                "/recordings",
                headers=admin,
                files={"file": ("call.flac", call.read_bytes())},
                data=form,
            ),
            422,
        )
        fields = {"clock": "0:00:40", "minutes": 0.7, "limit": 0.5}
        fields["setting"] = "QA_MAX_AUDIO_MINUTES"
        assert body["detail"] == message(too_long, path="call.flac", **fields)


def _serve(app):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert wait_for(lambda: server.started, timeout=30)
    return server, thread, sock.getsockname()[1]


def _read_response(conn, timeout=10.0) -> bytes:
    conn.settimeout(timeout)
    data = b""
    try:
        while not data.endswith(b"}"):  # the JSON body, after the head
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def test_upload_limit_refused_before_the_body(tmp_path):
    """Content-Length over the limit: 413 at once, nothing read; a chunked body that goes past
    the limit: cut off while streaming, far from the end of what the client wanted to send."""
    client, admin = client_for(f"sqlite:///{tmp_path / 'qa.db'}", tmp_path, max_upload_mb=1)
    server, thread, port = _serve(client.app)
    try:
        head = (
            f"POST /recordings HTTP/1.1\r\nHost: x\r\nX-API-Key: {admin['X-API-Key']}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
        )
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall((head + f"Content-Length: {10**9}\r\n\r\n").encode())
            t0 = time.monotonic()
            answer = _read_response(conn)  # no byte of the body was sent
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert time.monotonic() - t0 < 5
        assert re.search(
            said(
                "the request body is larger than the upload limit ({mb:g} MB, {setting} plus "
                "the form)",
                setting="QA_MAX_UPLOAD_MB",
            ),
            answer.decode("utf-8"),
        )
        sent, chunk = 0, b"x" * 65536
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
            part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
            conn.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            conn.settimeout(0.05)
            answer = b""
            try:
                while sent < 200 * 2**20:  # the client would send 200 MB
                    conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    sent += len(chunk)
                    try:
                        answer = conn.recv(65536)
                        if answer:
                            answer += _read_response(conn, 2.0)
                            break
                    except TimeoutError:
                        pass
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = answer or _read_response(conn)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < 40 * 2**20, f"the server read {sent} bytes before refusing"
        assert not list((tmp_path / "storage").rglob("*.wav"))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class _Proxy:
    """A TCP forwarder to PostgreSQL that can be cut: the database going away, for real."""

    def __init__(self, target=("127.0.0.1", 5432), port=0):
        self.target, self.conns, self.closed = target, [], False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))  # the port of a cut one: the database is back
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                a, _ = self.listener.accept()
            except OSError:
                return
            if self.closed:
                a.close()
                return
            b = socket.create_connection(self.target)
            self.conns += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pipe, args=(x, y), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        self.closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass


def test_database_away_is_503_json(postgres_url, tmp_path):
    proxy = _Proxy()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    client, admin = client_for(url, tmp_path)
    with client:
        assert client.get("/rubrics", headers=admin).status_code == 200
        assert client.get("/health").json()["status"] == "ok"
        proxy.cut()
        for path in ("/rubrics", "/kpis", "/flagged", "/jobs"):
            body = one_shape(client.get(path, headers=admin), 503)
            assert body["detail"] == message("the database is unavailable; try again shortly")
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["unavailable"] == ["database"]
    from qa_service.storage.store import _engines

    _engines.pop(url).dispose()


def test_database_back_is_served_without_a_restart(postgres_url, tmp_path):
    """The pool keeps connections without a ping before each use: when the database comes back,
    the first request on a dead connection may answer 503 (and drops the pool's old
    connections); from the next on, everything is served again, with no restart."""
    proxy = _Proxy()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    client, admin = client_for(url, tmp_path)
    with client:
        for _ in range(3):  # a few connections in the pool
            assert client.get("/rubrics", headers=admin).status_code == 200
        proxy.cut()
        one_shape(client.get("/rubrics", headers=admin), 503)
        back = _Proxy(port=proxy.port)
        statuses = [client.get(path, headers=admin).status_code for path in ("/rubrics",) * 4]
        assert statuses.count(503) <= 1 and statuses[-3:] == [200] * 3, statuses
        assert client.get("/health").json()["status"] == "ok"
        back.cut()
    from qa_service.storage.store import _engines

    _engines.pop(url).dispose()


def test_cli_database_errors_are_one_line_exit_2(tmp_path, monkeypatch, capfd):
    """`serve`, `score`, `keys list`, `migrate` with a database that is not there: one line on
    stderr naming what could not be reached, exit 2 (the README's promise), no traceback."""
    from qa_service.cli import main
    from qa_service.config import get_settings

    bad = POSTGRES_ADMIN_URL.rsplit("@", 1)[0] + "@127.0.0.1:1/none"
    monkeypatch.setenv("QA_DATABASE_URL", bad)
    get_settings.cache_clear()
    try:
        for args in (
            ["serve", "--port", "1"],
            ["score", str(tmp_path), "--rubric", str(RUBRICS / "telecom-data-upgrade.yaml")],
            ["keys", "list"],
            ["migrate"],
        ):
            monkeypatch.setattr(sys, "argv", ["qa-service", *args])
            with pytest.raises(SystemExit) as exit_:
                main()
            err = capfd.readouterr().err
            lines = err.strip().splitlines()
            assert exit_.value.code == 2, (args, err[-2000:])
            assert len(lines) == 1 and lines[0].startswith(UNAVAILABLE), (args, err[-2000:])
            assert "127.0.0.1" in lines[0] and "Traceback" not in err
    finally:
        get_settings.cache_clear()
    # and the real entry point, once: the process's exit status
    proc = subprocess.run(
        [sys.executable, "-m", "qa_service.cli", "keys", "list", "--db", bad],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-2000:]
