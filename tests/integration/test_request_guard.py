"""Hostile load and input: a request is authenticated and its body measured against its route's
limit before a byte of the body is read (api/limits.py); an audit's script and knowledge base
and every YAML document have limits checked before any work; refusals are short.

The raw-socket tests send the request's head and hold the body back: the answer must come
while the client has sent nothing (or a little) of what it announced."""

import json
import re
import socket
import time

from qa_service.app.keys import create_key
from qa_service.config import MAX_PROBLEMS, Settings
from qa_service.i18n import message
from qa_service.storage.store import Store
from tests.integration.test_api_errors import RUBRIC_YAML, _serve, client_for, one_shape
from tests.support import said

# the service's sentences in its language (zh_CN unless QA_LOCALE says otherwise)
KEY_REQUIRED = message(
    "an API key is required (header {key_header} or {bearer_header})",
    key_header="X-API-Key",
    bearer_header="Authorization: Bearer",
)


def _answer(conn, timeout=10.0):
    """(status, headers, body) of the one answer on this connection; None if none came."""
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        while len(body) < int(headers.get("content-length", 0)):
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
    except (TimeoutError, ConnectionResetError):
        return None
    return int(lines[0].split()[1]), headers, body


def _closed(conn, timeout=5.0) -> bool:
    """Whether the server closes the connection (rather than reading on or keeping it)."""
    conn.settimeout(timeout)
    try:
        while conn.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _head(method, path, headers) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# The start of a form with a file: what follows it is the file's bytes.
FORM_START = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'


def _stream(conn, chunks, size=65536, first=b""):
    """Send up to `chunks` chunks of a chunked body (after `first`) until an answer comes;
    (bytes sent, answer)."""
    sent, chunk = 0, b"x" * size
    if first:
        conn.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
    conn.settimeout(0.05)
    try:
        for _ in range(chunks):
            conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
            try:
                first = conn.recv(1, socket.MSG_PEEK)
            except TimeoutError:
                continue
            if first:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent, _answer(conn)


def test_no_key_is_refused_before_the_body(tmp_path):
    """60 MB announced without a key (JSON, and an upload streamed): 401 with today's message
    while the body is still unsent, and the connection closed instead of read on. A viewer's
    upload: 403 the same way."""
    client, admin = client_for(f"sqlite:///{tmp_path / 'qa.db'}", tmp_path)
    viewer = create_key(Store(f"sqlite:///{tmp_path / 'qa.db'}"), "viewer")[1]
    server, thread, port = _serve(client.app)
    try:
        for path, headers in (
            ("/audits", {"Content-Type": "application/json"}),
            ("/rubrics", {"Content-Type": "application/yaml", "X-API-Key": "qa_wrong"}),
            ("/recordings", {"Content-Type": "multipart/form-data; boundary=b"}),
            (
                "/recordings",
                {"Content-Type": "multipart/form-data; boundary=b", "X-API-Key": viewer},
            ),
        ):
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(_head("POST", path, {**headers, "Content-Length": 60 * 2**20}))
                answer = _answer(conn)  # not one byte of the body sent
                assert answer is not None, f"{path}: no answer before the body"
                status, head, body = answer
                detail = json.loads(body)["detail"]
                if "X-API-Key" not in headers:
                    assert (status, detail) == (401, KEY_REQUIRED)
                elif headers["X-API-Key"] == viewer:
                    assert status == 403 and message("Reviewer") in detail, detail
                else:
                    assert (status, detail) == (401, message("unknown or revoked API key"))
                assert head["connection"] == "close" and _closed(conn)
        with socket.create_connection(("127.0.0.1", port)) as conn:  # streamed, no length
            conn.sendall(
                _head(
                    "POST",
                    "/recordings",
                    {
                        "Content-Type": "multipart/form-data; boundary=b",
                        "Transfer-Encoding": "chunked",
                    },
                )
            )
            sent, answer = _stream(conn, 200 * 16, first=FORM_START)  # 200 MB to come
            assert answer is not None and answer[0] == 401, answer
            assert sent < 20 * 2**20, f"{sent} bytes sent before the answer"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_body_limits_per_route(tmp_path):
    """JSON and YAML routes take QA_MAX_JSON_KB, an upload QA_MAX_UPLOAD_MB: a larger
    Content-Length is a 413 at once, a chunked body past it a 413 as soon as it passes, and
    the connection is closed after either."""
    client, admin = client_for(
        f"sqlite:///{tmp_path / 'qa.db'}", tmp_path, max_upload_mb=1, max_json_kb=64
    )
    key = admin["X-API-Key"]
    server, thread, port = _serve(client.app)
    try:
        for path, kind, limit in (
            ("/audits", "application/json", "QA_MAX_JSON_KB"),
            ("/rubrics", "application/yaml", "QA_MAX_JSON_KB"),
            ("/recordings", "multipart/form-data; boundary=b", "QA_MAX_UPLOAD_MB"),
        ):
            declared = 2 * 2**20 + 1 if path == "/recordings" else 65 * 1024
            with socket.create_connection(("127.0.0.1", port)) as conn:
                headers = {"X-API-Key": key, "Content-Type": kind, "Content-Length": declared}
                conn.sendall(_head("POST", path, headers))
                answer = _answer(conn)
                assert answer is not None, f"{path}: no answer to a length over the limit"
                status, head, body = answer
                assert status == 413 and limit in json.loads(body)["detail"], (path, body)
                assert head["connection"] == "close" and _closed(conn)
            with socket.create_connection(("127.0.0.1", port)) as conn:
                headers = {"X-API-Key": key, "Content-Type": kind, "Transfer-Encoding": "chunked"}
                conn.sendall(_head("POST", path, headers))
                first = FORM_START if path == "/recordings" else b""
                sent, answer = _stream(conn, 16 * 20, first=first)  # the client would send 20 MB
                assert answer is not None, f"{path}: no answer while streaming"
                status, head, body = answer
                assert status == 413 and limit in json.loads(body)["detail"], (path, body)
                assert sent < 10 * 2**20, f"{path}: {sent} bytes read before the 413"
                assert head["connection"] == "close" and _closed(conn), path
        # under the limit: served as before
        with client:
            r = client.post(
                "/rubrics",
                headers={**admin, "Content-Type": "application/yaml"},
                content=RUBRIC_YAML.encode(),
            )
            assert r.status_code == 201, r.text
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_audit_limits_are_422_before_matching(tmp_path):
    settings = Settings()
    client, admin = client_for(f"sqlite:///{tmp_path / 'qa.db'}", tmp_path)
    with client:
        r = client.post(
            "/rubrics",
            headers={**admin, "Content-Type": "application/yaml"},
            content=RUBRIC_YAML.encode(),
        )
        assert r.status_code == 201
        base = {"rubric_id": "telecom-data-upgrade", "name": "s.md"}
        sentence = "您好，我是移动公司的客服，请问您是张先生吗？\n"
        for script, limit in (
            ("您好" * (settings.audit_max_chars // 2 + 1), "QA_AUDIT_MAX_CHARS"),
            ("好\n" * (settings.audit_max_lines + 1), "QA_AUDIT_MAX_LINES"),
            (sentence + "您" * (settings.audit_max_line_chars + 1), "QA_AUDIT_MAX_LINE_CHARS"),
        ):
            t0 = time.monotonic()
            body = one_shape(
                client.post("/audits", headers=admin, json={**base, "script": script}), 422
            )
            assert limit in body["detail"] and "s.md" in body["detail"], body
            assert time.monotonic() - t0 < 30  # refused, not audited (generous)
        kb = "facts: []\n" + "# " + "x" * settings.audit_max_knowledge_chars + "\n"
        body = one_shape(
            client.post(
                "/audits",
                headers=admin,
                json={**base, "script": sentence, "knowledge_base": kb},
            ),
            422,
        )
        assert "QA_AUDIT_MAX_KNOWLEDGE_CHARS" in body["detail"], body
        # a real script passes
        r = client.post("/audits", headers=admin, json={**base, "script": sentence * 20})
        assert r.status_code == 200, r.text


def test_yaml_bombs_are_refused_short(tmp_path):
    """Aliases of aliases (a billion laughs), 20,000 aliases, a 600 KB document and a rubric
    with thousands of mistakes: a 422 of a few KB, naming the limit or the first problems."""
    client, admin = client_for(f"sqlite:///{tmp_path / 'qa.db'}", tmp_path)
    yaml_headers = {**admin, "Content-Type": "application/yaml"}
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    many = "id: k\nx: &a x\nfacts: [" + ", ".join(["*a"] * 20_000) + "]\n"  # 80 KB
    with client:
        assert client.post("/rubrics", headers=yaml_headers, content=RUBRIC_YAML).status_code == 201
        audit = {"rubric_id": "telecom-data-upgrade", "script": "您好，我是移动公司的客服。"}
        expanded = said("more than {n:,} values once its aliases are expanded")
        aliases = said("more than {n} aliases (*name)")
        for kb, says in ((laughs, expanded), (many, aliases)):
            r = client.post("/audits", headers=admin, json={**audit, "knowledge_base": kb})
            body = one_shape(r, 422)
            assert re.search(says, body["detail"]) and len(r.content) < 2_000, r.text[:500]
        for text, says in (
            (laughs, expanded),
            (many, aliases),
            (
                "id: k\nx: &a x\nfacts: [" + ", ".join(["*a"] * 200_000) + "]\n",
                said("{n:,} characters: more than the {max:,} allowed"),
            ),
        ):
            r = client.post("/rubrics", headers=yaml_headers, content=text.encode())
            body = one_shape(r, 422)
            assert re.search(says, body["detail"]) and len(r.content) < 2_000, r.text[:500]
        bad = RUBRIC_YAML.replace(
            "forbidden_phrases:\n",
            "forbidden_phrases:\n"
            + "".join(f"  - {{id: x{i}, wieght: 1}}\n" for i in range(3_000)),
        )
        r = client.post("/rubrics", headers=yaml_headers, content=bad.encode())
        body = one_shape(r, 422)
        assert len(body["problems"]) <= MAX_PROBLEMS + 1 and len(r.content) < 50_000, len(r.content)
        more = said("and {more:,} more problems (the first {n} shown)", n=MAX_PROBLEMS)
        assert re.fullmatch(more, body["problems"][-1]["reason"]), body["problems"][-1]


def test_an_answer_before_the_body_closes_the_connection(tmp_path):
    """A handler that answers before it has read the body (a body that is no form: 400) says
    `Connection: close`, so the server drops the rest instead of reading it to keep the
    connection open."""
    client, admin = client_for(f"sqlite:///{tmp_path / 'qa.db'}", tmp_path)
    server, thread, port = _serve(client.app)
    try:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            headers = {
                **admin,
                "Content-Type": "multipart/form-data; boundary=b",
                "Content-Length": 100 * 2**20,
            }
            conn.sendall(_head("POST", "/recordings", headers) + b"not a form " * 6000)
            answer = _answer(conn)
            assert answer is not None and answer[0] == 400, answer
            assert answer[1]["connection"] == "close" and _closed(conn)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_query_parameter_twice_and_the_import_path(tmp_path):
    """`?rule=a&rule=b` was read as its last value (schemathesis' negative data on /flagged
    had to be switched off); GET /recordings/import was a 422 "recording_id is not a number"
    instead of the 405 of a path that takes POST only."""
    client, admin = client_for(f"sqlite:///{tmp_path / 'qa.db'}", tmp_path)
    with client:
        body = one_shape(client.get("/flagged?rule=a&rule=b", headers=admin), 422)
        assert body["detail"] == message(
            "the query parameter {name} is given more than once", name="'rule'"
        )
        assert client.get("/flagged?rule=a&agent=b", headers=admin).status_code == 200
        r = client.get("/recordings/import", headers=admin)
        assert r.status_code == 405 and r.headers["allow"] == "POST", (r.status_code, r.text)
        one_shape(client.get("/recordings/abc", headers=admin), 404)
        one_shape(client.get("/recordings/12345", headers=admin), 404)
        assert "/recordings/{recording_id}" in client.get("/openapi.json").json()["paths"]
