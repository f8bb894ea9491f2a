"""Shared fixtures: the real model (loaded once per session), the dev corpus, databases."""

from __future__ import annotations

import json
import os
import pickle
import uuid

import pytest

# Fresh test databases (tmp_path SQLite files, the postgres_url fixture) are migrated by the
# Store that opens them, in this process and in the workers it starts (the environment is
# inherited). Production leaves this off: `qa-service migrate` once, and the rest refuse a
# database behind head (tests/integration/test_migrations.py checks both).
os.environ.setdefault("QA_AUTO_MIGRATE", "true")

from tests.support import DEV, POSTGRES_ADMIN_URL, REDIS_URL, emptied_redis, need

LAYERS = ("unit", "integration", "browser")


def pytest_collection_modifyitems(items):
    """Each test carries its layer's marker (its folder), so `-m unit` and the like select."""
    for item in items:
        layer = item.path.parent.name
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def recognizer():
    from qa_service.asr.transcribe import get_recognizer

    return get_recognizer()


@pytest.fixture(scope="session")
def dev_labels() -> dict[str, dict]:
    need((DEV / "labels.json").exists(), f"dev corpus not found at {DEV}")
    return {label["id"]: label for label in json.loads((DEV / "labels.json").read_text())}


@pytest.fixture(scope="session")
def dev_rubric():
    from qa_service.rules.rubric import load_rubric

    return load_rubric(DEV / "rubric.yaml")


@pytest.fixture(scope="session")
def dev_transcripts(recognizer, dev_labels, dev_rubric, tmp_path_factory):
    """Every dev call transcribed once for the whole run (the slow part of the suite): by the
    first pytest-xdist worker that needs them, the others read its pickle (xdist's own recipe:
    a file lock in the run's shared temporary folder)."""
    from filelock import FileLock

    from qa_service.asr.transcript import transcribe_file

    def transcribe_all():
        return {
            cid: transcribe_file(str(DEV / label["audio"]), recognizer, dev_rubric)
            for cid, label in dev_labels.items()
        }

    if "PYTEST_XDIST_WORKER" not in os.environ:
        return transcribe_all()
    # under xdist the base folder is the run's popen-gwN: its parent is this run's, no other's
    kept = tmp_path_factory.getbasetemp().parent / "dev_transcripts.pickle"
    with FileLock(str(kept) + ".lock"):
        if not kept.exists():
            kept.write_bytes(pickle.dumps(transcribe_all()))
        return pickle.loads(kept.read_bytes())


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'qa.db'}"


@pytest.fixture
def postgres_url():
    """A fresh database on the local PostgreSQL, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    name = f"qa_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        need(False, f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.orig}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from qa_service.storage.store import _engines

    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis():
    """The local Redis, database 13, emptied before and after."""
    yield from emptied_redis(REDIS_URL)
