"""A worker loads its models before it takes a job, and keeps them out of the collector."""

import gc
import logging
import time

import pytest

from qa_service.app.dispatch import RESCORE_QUEUE, TRANSCRIBE_QUEUE
from qa_service.asr.audio import load
from qa_service.config import Settings, get_settings
from qa_service.storage.store import Store
from qa_service.worker import jobs
from tests.support import SAMPLES

SAMPLE = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"


@pytest.fixture
def worker_process(tmp_path):
    """This test process as a worker on a migrated database, restored afterwards."""
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    Store(url, migrate=True)
    jobs.configure(Settings(database_url=url))
    try:
        yield
    finally:
        gc.unfreeze()
        jobs._service = None


def test_a_rescoring_worker_loads_no_model(worker_process):
    jobs.warm_up([RESCORE_QUEUE])
    assert jobs.service()._recognizer is None
    assert gc.get_freeze_count() > 0


def test_a_transcribing_worker_is_ready_before_its_first_job(worker_process):
    jobs.warm_up([TRANSCRIBE_QUEUE, RESCORE_QUEUE])
    assert jobs.service()._recognizer is not None
    # the models' objects are frozen: a full collection (the audio decoder asks for one per
    # call) walks only what was made since, not the hundreds of thousands of model objects
    assert gc.get_freeze_count() > 100_000
    gc.collect()
    started = time.process_time()
    load(str(SAMPLE))
    assert time.process_time() - started < 1.0
    assert len(gc.get_objects()) < gc.get_freeze_count() / 4


def test_a_worker_whose_database_is_down_still_starts(monkeypatch, caplog):
    """The database is down when the worker starts: warm-up logs it and the worker goes on
    to its queues, where the first job reports it, as before warm-up existed."""
    monkeypatch.setenv("QA_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/gone")
    get_settings.cache_clear()
    jobs._service = None
    try:
        with caplog.at_level(logging.WARNING, logger=jobs.__name__):
            jobs.warm_up([TRANSCRIBE_QUEUE])
        assert "warm-up: not ready" in caplog.text and "127.0.0.1" in caplog.text
    finally:
        gc.unfreeze()
        jobs._service = None
        get_settings.cache_clear()
