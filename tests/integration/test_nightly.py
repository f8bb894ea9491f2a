"""Nightly scoring: everything new once, nothing twice; the schedule booked once per night."""

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime

from rq.registry import ScheduledJobRegistry

from qa_service.i18n import message
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation, Recording
from qa_service.worker.nightly import next_run, schedule_nightly
from tests.support import REDIS_URL, ROOT, RUBRICS, SAMPLES, said

TELECOM = SAMPLES / "telecom-data-upgrade"


def test_nightly_scores_new_recordings_once(tmp_path, recognizer):
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    store = Store(url)
    path = RUBRICS / "telecom-data-upgrade.yaml"
    rubric = load_rubric(path)
    store.rubrics.save(rubric, path.read_text(encoding="utf-8"))
    store.rubrics.activate("telecom-upgrade", rubric.id, rubric.version)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in (
        "telecom-upgrade_A017_20261120-091403.wav",
        "telecom-upgrade_A021_20261120-102211.mp3",
    ):
        shutil.copy(TELECOM / name, inbox / name)
    (inbox / "unknown_X1_20261120-120000.wav").write_bytes(
        (TELECOM / "telecom-upgrade_A033_20261121-160812.wav").read_bytes()
    )
    env = {k: v for k, v in os.environ.items() if k != "QA_REDIS_URL"}
    env["QA_DATABASE_URL"] = url

    def night():
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "qa_service.cli",
                "nightly",
                "--inbox",
                str(inbox),
                "--reports",
                str(tmp_path / "reports"),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )

    first = night()
    assert first.returncode == 0, first.stderr
    inbox_line = (
        "inbox {inbox}: {found} recordings, {done} already scored, {queued} queued, {skipped} "
        "skipped, {failed} failed"
    )
    counts = {"inbox": inbox, "found": 3, "failed": 0}

    def flat(text: str) -> str:  # the console may wrap a long line
        return re.sub(r"\s", "", text)

    said_first = message(inbox_line, **counts, done=0, queued=2, skipped=1)
    assert flat(said_first) in flat(first.stdout)
    skipped = said("{path}: no active rubric for project {project}", project="'unknown'")
    assert re.search(flat(skipped.replace("\\ ", " ")), flat(first.stdout))
    assert message("Flagged calls") in first.stdout and "A021" in first.stdout
    second = night()
    said_second = message(inbox_line, **counts, done=2, queued=0, skipped=1)
    assert flat(said_second) in flat(second.stdout)
    assert store.count(Recording) == 2 and store.count(Evaluation) == 2
    assert len(list((tmp_path / "reports").glob("nightly-*.md"))) >= 1


def test_schedule_is_booked_once(redis, monkeypatch):  # noqa: F811
    monkeypatch.setenv("QA_REDIS_URL", REDIS_URL)
    from qa_service.config import get_settings

    get_settings.cache_clear()
    try:
        first = schedule_nightly("/data/inbox", "02:30", "/data/reports")
        second = schedule_nightly("/data/inbox", "02:30", "/data/reports")
        assert first == second
        assert ScheduledJobRegistry("qa-transcribe", connection=redis).get_job_ids() == [first]
    finally:
        get_settings.cache_clear()
    when = next_run("02:30", datetime(2026, 11, 22, 3, 0))
    assert when == datetime(2026, 11, 23, 2, 30)
    assert next_run("02:30", datetime(2026, 11, 22, 1, 0)) == datetime(2026, 11, 22, 2, 30)
