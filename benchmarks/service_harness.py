"""What the service benchmarks share: a fresh PostgreSQL database, and the API (and rq
workers) started as their own processes, the way they run in production."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from qa_service.domain.sampling import DEFAULT_SEED, sample_rank

ROOT = Path(__file__).resolve().parents[1]
ADMIN = os.environ.get("QA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def fresh_database(name: str) -> str:
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


def qa_service(*args: str, env: dict, log=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", *args], env=env, cwd=ROOT, stdout=log, stderr=log
    )


def start_api(env: dict, port: int) -> tuple[subprocess.Popen, str]:
    server = qa_service("serve", "--port", str(port), env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the API did not start on port {port}")


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def sign_in(client: httpx.Client, secret: str) -> None:
    """Sign in to the web app with an API key as a browser does: the form page first (its
    sign-in token, in the page and in a cookie), then the post; the client keeps the cookie."""
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    if token is None:
        raise SystemExit(f"no sign-in form at {client.base_url}/login ({page.status_code})")
    answer = client.post("/login", data={"api_key": secret, "login_token": token.group(1)})
    if answer.status_code != 303:
        raise SystemExit(f"signing in failed: {answer.status_code}")


def loaded_database(name: str, rows: int, at_least: bool = False) -> str | None:
    """The URL of a database an earlier run loaded with `rows` evaluations, if there is one
    (`at_least`: or more, where a benchmark adds calls of its own to the loaded ones)."""
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.execute(text("select count(*) from evaluation")).scalar() or 0
            if count == rows or (at_least and count > rows):
                return url
    except Exception:  # no such database, or not loaded
        return None
    finally:
        engine.dispose()
    return None


def copy_calls(
    cur,
    rows: int,
    rng: random.Random,
    agents: int,
    projects: int,
    trial_share: float = 0.0,
    sample_ranks: bool = False,
    in_time_order: bool = False,
) -> list[tuple[str, str, datetime, str, float]]:
    """COPY `rows` recordings, each with one current evaluation (ids 1..rows), as a call
    center makes them: each agent works on one project, in working hours (08:00-18:00) over 60
    days from 2026-09-01, a `trial_share` of them in the trial phase. Returns each call's
    (agent, project, called_at, phase, duration).

    `in_time_order`: ids (and so the rows' places on disk) follow the calls' times, as they do
    where calls are stored as they are made; else the times are drawn at random over the ids,
    the worst layout for reading the newest calls."""
    start = datetime(2026, 9, 1)
    calls = []
    for _ in range(rows):
        agent = rng.randrange(agents)
        when = start + timedelta(
            days=rng.randrange(60), hours=8 + rng.randrange(10), seconds=rng.randrange(3600)
        )
        phase = "trial" if trial_share and rng.random() < trial_share else "production"
        calls.append((f"A{agent:03d}", f"p{agent % projects}", when, phase, rng.uniform(20, 180)))
    if in_time_order:
        calls.sort(key=lambda call: call[2])
    with cur.copy(
        "COPY recording (id, sha256, source_path, duration, channels, separation,"
        " agent_id, project, call_time, phase, asr_model, created_at) FROM STDIN"
    ) as cp:
        for i, call in enumerate(calls, 1):
            when, phase = call[2], call[3]
            cp.write_row(
                (i, f"{i:064x}", f"/data/{i}.wav", call[4], 2, "stereo", call[0], call[1],
                 when, phase, "embedded", when)
            )  # fmt: skip
    columns = (
        "id, recording_id, rubric_id, rubric_version, score, grade, fatal, outcome, created_at,"
        " asr_confidence, is_current, project, agent_id, phase, called_at, duration"
    )
    with cur.copy(
        f"COPY evaluation ({columns}{', sample_rank' if sample_ranks else ''}) FROM STDIN"
    ) as cp:
        for i, (agent, project, when, phase, duration) in enumerate(calls, 1):
            score = rng.choice([100, 95, 90, 85, 80, 75, 60, 0])
            grade = "excellent" if score >= 95 else "pass" if score >= 80 else "fail"
            outcome = rng.choice(["success", "refusal", "unknown"])
            row = [i, i, "telecom-data-upgrade", 1, score, grade, score == 0, outcome, when,
                   rng.uniform(0.5, 0.9), True, project, agent, phase, when, duration]  # fmt: skip
            if sample_ranks:
                row.append(sample_rank(DEFAULT_SEED, i))
            cp.write_row(row)
    return calls


def reset_sequences(cur, tables: tuple[str, ...]) -> None:
    """After a COPY with explicit ids: the next insert takes the next id."""
    for table in tables:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )
