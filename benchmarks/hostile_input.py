"""Hostile requests against the API, started as its own process: for each, the status, the time
to the answer and the API's resident memory before and at its peak (/proc), and the size of the
answer. What the request guard (api/limits.py), the audit's limits and the YAML limits keep
small.

    python benchmarks/hostile_input.py [--port 8765]

The API runs embedded (no Redis) on a fresh SQLite database in a temporary folder; nothing
else is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from service_harness import ROOT, start_api, stop

RUBRIC = ROOT / "rubrics" / "telecom-data-upgrade.yaml"
FORM_START = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'


class Memory:
    """The API process's resident memory: now, and its peak since `reset` (VmHWM, reset through
    /proc/<pid>/clear_refs where the kernel allows; sampled every 20 ms besides)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.running = pid, 0, False

    def _kb(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def rss_mb(self) -> float:
        return self._kb("VmRSS") / 1024

    def __enter__(self):
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            pass
        self.peak, self.running = self._kb("VmRSS"), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self._kb("VmRSS"))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self._kb("VmRSS"), self._kb("VmHWM"))

    @property
    def peak_mb(self) -> float:
        return self.peak / 1024


def read_answer(conn: socket.socket, timeout: float) -> tuple[int, bytes]:
    conn.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return 0, data
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
    except (TimeoutError, ConnectionResetError):
        return 0, data
    return int(head.split()[1]), body


def closed_after(conn: socket.socket, timeout: float = 35.0) -> float | None:
    """Seconds until the server closes the connection after its answer (None: still open)."""
    t0 = time.monotonic()
    conn.settimeout(timeout)
    try:
        while conn.recv(65536):
            pass
    except TimeoutError:
        return None
    except OSError:
        pass
    return time.monotonic() - t0


def request(
    port: int,
    method: str,
    path: str,
    headers: dict,
    body: bytes = b"",
    *,
    declare: int | None = None,
    chunked_mb: float = 0,
    first: bytes = b"",
    timeout: float = 600,
) -> tuple[int, bytes, int, float | None, float]:
    """One request on its own connection: the body sent whole, or `declare`d and then sent
    while no answer has come, or streamed chunked (`chunked_mb`) until the answer comes.
    (status, answer body, bytes of the body sent, seconds from the answer until the server
    closed the connection, when the answer had come)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", *(f"{k}: {v}" for k, v in headers.items())]
    if chunked_mb:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {declare if declare is not None else len(body)}")
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent = 0
    try:
        if chunked_mb:
            chunk = b"x" * 65536
            if first:
                conn.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
            conn.settimeout(0.01)
            while sent < chunked_mb * 2**20:
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                try:
                    if conn.recv(1, socket.MSG_PEEK):
                        break
                except TimeoutError:
                    pass
            else:
                conn.sendall(b"0\r\n\r\n")
        elif declare is not None:
            chunk = b"x" * 65536
            conn.settimeout(0.01)
            while sent < declare:
                conn.sendall(chunk[: declare - sent])
                sent += min(len(chunk), declare - sent)
                try:
                    if conn.recv(1, socket.MSG_PEEK):
                        break
                except TimeoutError:
                    pass
        else:
            conn.sendall(body)
            sent = len(body)
    except (BrokenPipeError, ConnectionResetError):
        pass
    status, answer = read_answer(conn, timeout)
    answered = time.monotonic()
    closed = closed_after(conn) if status else None
    conn.close()
    return status, answer, sent, closed, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="qa-hostile-"))
    url = f"sqlite:///{tmp / 'qa.db'}"
    env = {
        **os.environ,
        "QA_DATABASE_URL": url,
        "QA_STORAGE_DIR": str(tmp / "storage"),
        "QA_AUTO_MIGRATE": "true",
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(tmp),
    }
    env.pop("QA_REDIS_URL", None)
    os.environ["QA_AUTO_MIGRATE"] = "true"
    from qa_service.app.keys import create_key
    from qa_service.storage.store import Store

    store = Store(url)
    key = {role: create_key(store, role)[1] for role in ("viewer", "reviewer", "admin")}
    server, _ = start_api(env, args.port)
    port = args.port
    memory = Memory(server.pid)

    def as_json(data: dict) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode("utf-8")

    viewer = {"X-API-Key": key["viewer"], "Content-Type": "application/json"}
    admin_yaml = {"X-API-Key": key["admin"], "Content-Type": "application/yaml"}
    upload = {"X-API-Key": key["reviewer"], "Content-Type": "multipart/form-data; boundary=b"}
    status, body, *_ = request(port, "POST", "/rubrics", admin_yaml, RUBRIC.read_bytes())
    assert status == 201, body
    audit = {"rubric_id": "telecom-data-upgrade", "name": "bench.md"}
    sentence = "您好，我是移动公司的客服，请问您是张先生吗？我们的畅享套餐每个月只要九十六元。"
    line_1000 = (sentence * 40)[:1000]
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    alias_kb_900 = "id: k\nx: &a x\nfacts: [" + ", ".join(["*a"] * 225_000) + "]\n"
    alias_600 = "id: k\nx: &a x\nfacts: [" + ", ".join(["*a"] * 150_000) + "]\n"
    alias_80 = "id: k\nx: &a x\nfacts: [" + ", ".join(["*a"] * 20_000) + "]\n"
    cases = [
        (
            "1M-char script (您好 x 500,000)",
            "POST",
            "/audits",
            viewer,
            as_json({**audit, "script": "您好" * 500_000}),
            {},
        ),
        (
            "300k-char script, under the body limit",
            "POST",
            "/audits",
            viewer,
            as_json({**audit, "script": "您好" * 150_000}),
            {},
        ),
        (
            "30,000-character line",
            "POST",
            "/audits",
            viewer,
            as_json({**audit, "script": sentence + "\n" + (sentence * 1000)[:30_000]}),
            {},
        ),
        (
            "1,001-character line in a short script",
            "POST",
            "/audits",
            viewer,
            as_json({**audit, "script": sentence + "\n" + (sentence * 40)[:1001]}),
            {},
        ),
        (
            "script at the limits: 20,000 chars, 1,000 a line",
            "POST",
            "/audits",
            viewer,
            # 19 lines of 1,000, their line breaks and one of 981: 20,000 characters
            as_json({**audit, "script": "\n".join([line_1000] * 19 + [line_1000[:981]])}),
            {},
        ),
        (
            "script at the limits: 2,000 lines of 9 chars",
            "POST",
            "/audits",
            viewer,
            as_json({**audit, "script": "\n".join([sentence[:9]] * 2000)}),
            {},
        ),
        (
            "a real script (rubrics/scripts)",
            "POST",
            "/audits",
            viewer,
            as_json(
                {**audit, "script": (ROOT / "rubrics/scripts/telecom-data-upgrade.md").read_text()}
            ),
            {},
        ),
        (
            "900 KB alias-heavy knowledge base in /audits",
            "POST",
            "/audits",
            viewer,
            as_json({**audit, "script": sentence, "knowledge_base": alias_kb_900}),
            {},
        ),
        (
            "80 KB knowledge base, 20,000 aliases",
            "POST",
            "/audits",
            viewer,
            as_json({**audit, "script": sentence, "knowledge_base": alias_80}),
            {},
        ),
        (
            "billion-laughs knowledge base",
            "POST",
            "/audits",
            viewer,
            as_json({**audit, "script": sentence, "knowledge_base": laughs}),
            {},
        ),
        (
            "600 KB rubric YAML, 150,000 aliases",
            "POST",
            "/rubrics",
            admin_yaml,
            alias_600.encode(),
            {},
        ),
        (
            "60 MB JSON, no key (declared, sent while unanswered)",
            "POST",
            "/audits",
            {"Content-Type": "application/json"},
            b"",
            {"declare": 60 * 2**20},
        ),
        (
            "60 MB JSON, viewer key (declared)",
            "POST",
            "/audits",
            viewer,
            b"",
            {"declare": 60 * 2**20},
        ),
        (
            "201 MB + 1 byte upload, declared",
            "POST",
            "/recordings",
            upload,
            b"",
            {"declare": 201 * 2**20 + 1},
        ),
        (
            "100 MB upload declared, not a form (400)",
            "POST",
            "/recordings",
            upload,
            b"",
            {"declare": 100 * 2**20},
        ),
        (
            "201 MB upload, chunked",
            "POST",
            "/recordings",
            upload,
            b"",
            {"chunked_mb": 205, "first": FORM_START},
        ),
        (
            "201 MB upload, chunked, no key",
            "POST",
            "/recordings",
            {"Content-Type": "multipart/form-data; boundary=b"},
            b"",
            {"chunked_mb": 205, "first": FORM_START},
        ),
        ("2 MB JSON, chunked, viewer key", "POST", "/audits", viewer, b"", {"chunked_mb": 2}),
    ]
    print(f"API pid {server.pid}, {memory.rss_mb():.0f} MB resident after start")
    print(
        f"{'request':50s} {'status':>6s} {'time s':>7s} {'sent MB':>8s} {'rss MB':>7s} "
        f"{'peak MB':>8s} {'answer B':>9s} {'closed s':>8s}"
    )
    try:
        for name, method, path, headers, body, extra in cases:
            before = memory.rss_mb()
            with memory:
                t0 = time.monotonic()
                status, answer, sent, closed, answered = request(
                    port, method, path, headers, body, **extra
                )
                took = answered - t0
            shown_closed = "open" if closed is None else f"{closed:.2f}"
            print(
                f"{name:50s} {status:6d} {took:7.2f} {sent / 2**20:8.1f} {before:7.0f} "
                f"{memory.peak_mb:8.0f} {len(answer):9d} {shown_closed:>8s}",
                flush=True,
            )
            if status >= 400:
                detail = json.loads(answer or b"{}").get("detail", "")
                print(f"    {detail[:150]!s}".replace("\n", " "), flush=True)
    finally:
        stop(server)


if __name__ == "__main__":
    main()
