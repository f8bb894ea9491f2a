"""Time zones: the server's TZ must not change what is reported. Tested with the process in
Asia/Shanghai and in UTC; the call center's zone is QA_TIMEZONE (default Asia/Shanghai)."""
import shutil
import time

import pytest

from qa_service import jobs
from qa_service.config import Settings, get_settings
from qa_service.metadata import CallMetadata, read_metadata
from qa_service.model_store import sha256_of
from qa_service.nightly import run_nightly
from qa_service.results import Utterance
from qa_service.rubric import load_rubric
from qa_service.store import Store
from tests.support import RUBRICS, SAMPLES

CALL = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"
RUDE = [Utterance("agent", 0.0, 3.0, "您好，我是电信客服小王", 0.9),
        Utterance("customer", 3.5, 5.0, "什么事", 0.9),
        Utterance("agent", 5.5, 8.0, "爱办不办，你烦不烦", 0.9)]


@pytest.fixture(params=["Asia/Shanghai", "UTC"])
def server_tz(request, monkeypatch):
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    get_settings.cache_clear()
    yield request.param
    monkeypatch.undo()
    time.tzset()
    get_settings.cache_clear()


def test_nightly_flags_tonights_failed_calls_in_any_server_zone(tmp_path, server_tz):
    """East of UTC the flagged list of the night was empty: stored times (UTC) were compared
    with the local clock. A fatal call scored tonight must be flagged in every zone."""
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    store = Store(url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    store.save_rubric(rubric, (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8"))
    store.activate_rubric("telecom-upgrade", rubric.id, rubric.version)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(CALL, inbox / CALL.name)
    # its transcript is known (a rude agent), so the night scores it without recognition
    store.save_transcript(sha256_of(CALL), str(inbox / CALL.name), read_metadata(CALL), 10.0, 2,
                          "stereo", "test", RUDE)
    jobs.configure(Settings(database_url=url))
    report = run_nightly(store, inbox, dispatcher=None)
    assert report.queued == 1 and not report.failed, report
    assert [f["fatal"] for f in report.flagged] == [True], (server_tz, report)


def test_times_follow_the_call_center_zone_not_the_server(tmp_path, server_tz):
    """A call time with an offset is the call center's wall-clock time; a call without one
    counts at its storing time in that zone too (before, one was local and the other UTC)."""
    side = tmp_path / "call.json"
    side.write_text('{"call_time": "2026-11-20T01:14:03+00:00"}', encoding="utf-8")
    assert read_metadata(tmp_path / "call.wav").call_time.isoformat() == "2026-11-20T09:14:03"
    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    rec = store.save_transcript("b" * 64, "x.wav", CallMetadata(), 10.0, 2, "stereo", "test", RUDE)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    from qa_service.pipeline import evaluate
    from qa_service.scoring import Scorer
    ev = store.save_evaluation(rec.id, evaluate("x.wav", RUDE, 10.0, Scorer(rubric)))
    shanghai = get_settings().zone
    from datetime import timezone
    expected = rec.created_at.replace(tzinfo=timezone.utc).astimezone(shanghai).replace(tzinfo=None)
    assert ev.called_at == expected and str(shanghai) == "Asia/Shanghai"
