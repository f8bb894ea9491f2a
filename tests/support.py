"""Paths, service addresses and plain helpers shared by the test layers (fixtures live in
conftest.py; tests import from here, never from each other)."""

from __future__ import annotations

import os
import time
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("QA_DEV_CORPUS", ROOT.parent / "shared" / "corpus" / "dev"))
SAMPLES = ROOT / "samples"
RUBRICS = ROOT / "rubrics"
IN_CI = os.environ.get("CI") == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "QA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("QA_TEST_REDIS", "redis://127.0.0.1:6379/13")


def need(condition: bool, reason: str) -> None:
    """Skip locally when something is missing; in CI a missing piece is a failure."""
    if not condition:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


def emptied_redis(url: str):
    """A connection to the Redis database at `url`, emptied before and after (a generator for
    fixtures: `yield from emptied_redis(url)`); missing Redis fails in CI, skips elsewhere."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    conn = Redis.from_url(url)
    try:
        conn.ping()
    except RedisConnectionError as exc:
        need(False, f"Redis not reachable at {url}: {exc}")
    conn.flushdb()
    yield conn
    conn.flushdb()


def wait_for(predicate, timeout=180.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def write_wav(path, seconds, channels=2, rate=8000):
    frames = (np.random.default_rng(0).normal(0, 300, (int(seconds * rate), channels))).astype(
        "<i2"
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return path


def bad_files(tmp_path):
    """name -> (path, what the error must say). Used by the audio and the batch tests."""
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    mp3 = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A021_20261120-102211.mp3"
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(mp3.read_bytes()[:20000])
    short = write_wav(tmp_path / "short.wav", 0.2)
    return {
        "empty": (empty, "empty"),
        "text": (text, "not a readable audio file"),
        "truncated": (truncated, "truncated"),
        "short": (short, "0.20 s long"),
    }


def rollup_cells(store) -> dict:
    """Every non-empty cell of the four rollup tables (qa_service.storage.rollups), comparable."""
    from sqlmodel import select

    from qa_service.storage.rollups import ERROR_TABLES, KPI_TABLES

    out = {}
    with store.session() as s:
        for model in KPI_TABLES + ERROR_TABLES:
            rows = [r.model_dump() for r in s.exec(select(model)).all()]
            out[model.__tablename__] = sorted(
                tuple(sorted((k, round(v, 6) if isinstance(v, float) else v) for k, v in r.items()))
                for r in rows
                if r.get("evaluated", r.get("calls"))
            )
    return out


def assert_rollups_match_rebuild(store) -> None:
    """The rollups' invariant: kept incrementally, they equal a rebuild from the evaluations."""
    from qa_service.storage.rollups import rebuild

    before = rollup_cells(store)
    with store.session() as s:
        rebuild(s)
        s.commit()
    assert rollup_cells(store) == before, "incremental rollups drifted from a rebuild"
