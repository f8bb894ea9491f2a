"""A worker loads its models before it takes a job, keeps them out of the collector, and
hands a job's freed memory back when the job ends."""

import gc
import logging
import threading
import time

import pytest
from rq import Queue

from qa_service.app.dispatch import RESCORE_QUEUE, TRANSCRIBE_QUEUE
from qa_service.asr.audio import load
from qa_service.config import Settings, get_settings
from qa_service.rules import matching, normalize
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


def resident_mib() -> int:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) // 1024


KEPT: list[bytes] = []  # what a job leaves alive: results, caches


def allocate_and_free(mib: int) -> int:
    """A job that, like a call's recognition, allocates in another thread (glibc gives each
    thread its own arena) and frees nearly all of it; returns the resident size it left. The
    few blocks kept alive are spread through the arena, so glibc cannot shrink it from its
    top: only a trim hands the free pages between them back."""

    def fill():
        blocks = [bytes(2000) for _ in range(mib * 512)]
        KEPT.extend(blocks[::2000])
        del blocks

    thread = threading.Thread(target=fill)
    thread.start()
    thread.join()
    return resident_mib()


def test_a_worker_hands_a_jobs_freed_memory_back(redis):
    """Freed memory stays in glibc's arenas (a worker held ~270 MiB more between calls) unless
    the worker trims the heap after each job; the job itself still sees what it left."""
    queue = Queue("qa-test-memory", connection=redis)
    before = resident_mib()
    job = queue.enqueue(allocate_and_free, 200)
    jobs.QAWorker([queue], connection=redis).work(burst=True)
    job.refresh()
    assert job.return_value() >= before + 150  # the job's own freed memory was still held
    assert resident_mib() < before + 60
    KEPT.clear()


def prepare_a_text(text: str) -> int:
    matching.prepare(text)
    return matching.prepare.cache_info().currsize


def test_a_worker_forgets_a_jobs_texts_but_not_the_words_readings(redis):
    """A call's texts are cached while its job runs (every rule asks about the same ones) and
    forgotten when it ends: across calls they seldom meet again, and full caches grew a worker.
    Words' readings, which calls share, are kept."""
    queue = Queue("qa-test-memory", connection=redis)
    job = queue.enqueue(prepare_a_text, "您好，我是中国电信的客服小王，给您介绍一下宽带升级")
    jobs.QAWorker([queue], connection=redis).work(burst=True)
    job.refresh()
    assert job.return_value() >= 1
    assert matching.prepare.cache_info().currsize == 0
    assert normalize._word_syllables.cache_info().currsize > 0
