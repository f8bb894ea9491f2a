"""`qa-service serve --workers N`: several API processes with Redis; one, and a clear refusal of
more, without it (embedded jobs run in the API process: several would each run them)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from typer.testing import CliRunner

from qa_service.cli import app
from qa_service.i18n import message
from tests.support import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_embedded_serve_refuses_several_workers(sqlite_url, monkeypatch):
    monkeypatch.delenv("QA_REDIS_URL", raising=False)
    monkeypatch.setenv("QA_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert (
        result.output
        == message(
            "{option} needs {setting}: without it jobs run inside the API process, and {n} "
            "processes would each run them. Set {setting} (and run {command}), or serve with "
            "{one}.",
            option="--workers 2",
            setting="QA_REDIS_URL",
            n=2,
            command="`qa-service worker`",
            one="--workers 1",
        )
        + "\n"
    )


def test_serve_with_redis_answers_from_several_processes(sqlite_url, redis, tmp_path):
    port = _free_port()
    env = dict(os.environ, QA_DATABASE_URL=sqlite_url, QA_REDIS_URL=REDIS_URL)
    env.pop("QA_SESSION_SECRET", None)
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = Path(log.name).read_text()
            if text.count("Application startup complete") >= 2:
                break
            assert server.poll() is None, text
            time.sleep(0.3)
        text = Path(log.name).read_text()
        pids = {int(p) for p in re.findall(r"Started server process \[(\d+)\]", text)}
        assert len(pids) == 2, text
        assert pids <= _children(server.pid)  # two processes, both the command's own
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: httpx.get(base + "/health", timeout=30), range(40)))
        assert {r.status_code for r in answers} == {200}
        assert {r.json()["queue"] for r in answers} == {"rq"}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
