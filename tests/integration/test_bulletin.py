"""整点通报: the hourly bulletin of a project in its first day after launch, computed, kept,
shown and booked on rq's scheduler, with the call center in a zone of half hours (Asia/Kolkata,
UTC+5:30) and the server in other zones."""

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from rq.registry import ScheduledJobRegistry

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.config import Settings, get_settings, in_call_center_zone
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from qa_service.worker import jobs
from qa_service.worker.nightly import hourly_bulletin_job, next_hour, run_bulletins
from tests.support import REDIS_URL, RUBRICS

ZONE = ZoneInfo("Asia/Kolkata")
PROJECT = "畅享升级-上线"
OPEN = U("agent", 0.5, 2.0, "您好，我是中国电信客户经理，工号三二一五，给您介绍一下畅享套餐")
GOOD = [
    OPEN,
    U(
        "agent",
        2.5,
        8.0,
        "每个月只要九十六元，三百分钟，合约期一年，预存一百六十八元，可以免费退订",
    ),
    U("customer", 8.5, 9.0, "那就办吧"),
    U("agent", 9.5, 10.0, "再见"),
]
WRONG_PRICE = [
    OPEN,
    U(
        "agent",
        2.5,
        8.0,
        "每个月只要九十九元，三百分钟，合约期一年，预存一百六十八元，可以免费退订",
    ),
    U("customer", 8.5, 9.0, "不需要"),
    U("agent", 9.5, 10.0, "再见"),
]
RUDE = [OPEN, U("customer", 2.5, 3.0, "什么事"), U("agent", 3.5, 6.0, "爱办不办，你烦不烦")]
# (agent, the call center's wall clock on 2026-12-01, transcript)
CALLS = [
    ("A1", "09:05", GOOD),  # the launch: the first production call
    ("A2", "09:40", RUDE),
    ("A1", "10:10", WRONG_PRICE),
    ("A3", "10:20", WRONG_PRICE),
    ("A2", "10:45", RUDE),
    ("A3", "11:15", GOOD),  # after the 11:00 bulletin
]


@pytest.fixture(params=["America/New_York", "Asia/Shanghai"])
def zones(request, monkeypatch):
    monkeypatch.setenv("TZ", request.param)
    monkeypatch.setenv("QA_TIMEZONE", "Asia/Kolkata")
    time.tzset()
    get_settings.cache_clear()
    yield request.param
    monkeypatch.undo()
    time.tzset()
    get_settings.cache_clear()


def seed(url: str) -> Store:
    store = Store(url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    store.rubrics.save(rubric, (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8"))
    scorer = Scorer(rubric)
    for i, (agent, clock, utts) in enumerate(CALLS):
        meta = CallMetadata(
            agent_id=agent,
            project=PROJECT,
            call_time=datetime.fromisoformat(f"2026-12-01T{clock}:00"),  # the zone's clock
            phase="production",
        )
        rec = store.recordings.save_transcript(
            f"{i:064x}", f"c{i}.wav", meta, 10.0, 2, "stereo", "x", utts
        )
        record_evaluation(store, rec.id, evaluate(f"c{i}.wav", utts, 10.0, scorer))
    return store


def test_bulletin_in_the_first_day(tmp_path, zones):
    store = seed(f"sqlite:///{tmp_path / 'qa.db'}")
    reports = tmp_path / "reports"
    (b,) = run_bulletins(store, datetime(2026, 12, 1, 11, 0, tzinfo=ZONE), reports)
    # 09:05 to 11:00 of Kolkata: the second hour after launch, five calls.
    assert b.hours_since_launch == 2 and b.kpis is not None and b.kpis.evaluated == 5
    assert b.hour == datetime(2026, 12, 1, 5, 30)  # stored UTC
    # Fatal and attitude errors first, every one of them, with who made them.
    assert b.urgent and b.urgent[0].rule_id == "rude" and b.urgent[0].fatal
    assert (b.urgent[0].calls, b.urgent[0].agents) == (2, ["A2"])
    common = [c.rule_id for c in b.common_errors]
    assert 0 < len(common) <= 5 and "rude" not in common
    # Remind now: the last hour (10:00-11:00) only, the attitude error first, then the agents
    # who made one of the common errors listed.
    remind = [(r.agent_id, r.rule_id) for r in b.remind_now]
    assert remind[0] == ("A2", "rude") and b.remind_now[0].urgent
    assert {a for a, _ in remind} == {"A1", "A2", "A3"}
    assert {r for _, r in remind[1:]} <= set(common) | {"rude"}
    assert all(
        datetime(2026, 12, 1, 4, 30) <= r.called_at < datetime(2026, 12, 1, 5, 30)
        for r in b.remind_now
    )
    (md,) = reports.glob("bulletin-*.md")
    assert md.name == f"bulletin-{PROJECT}-20261201-1100.md"
    text = md.read_text(encoding="utf-8")
    assert "上线后" in text and "2026-12-01 11:00" in text
    assert text.index("态度恶劣") < text.index(b.common_errors[0].name)
    # Each call to remind about is named by its agent and when it was made, as on the pages.
    first = b.remind_now[0]
    assert f"- A2: 态度恶劣 (!), 通话 {in_call_center_zone(first.called_at):%m-%d %H:%M}" in text
    assert "录音" not in text

    # Before launch and more than a day after it: no bulletin.
    assert run_bulletins(store, datetime(2026, 12, 1, 9, 0, tzinfo=ZONE)) == []
    assert run_bulletins(store, datetime(2026, 12, 2, 11, 0, tzinfo=ZONE)) == []
    # Kept once per hour, shown by the API (the dashboard reads /bulletins).
    run_bulletins(store, datetime(2026, 12, 1, 11, 0, tzinfo=ZONE))
    assert len(store.bulletins.of_project(PROJECT)) == 1
    viewer = {"X-API-Key": create_key(store, "viewer", "v")[1]}
    settings = Settings(database_url=store.url, redis_url=None, storage_dir=tmp_path / "s")
    with TestClient(create_app(settings)) as client:
        got = client.get(f"/projects/{PROJECT}/bulletins", headers=viewer).json()
        assert got[0]["hour"] == "2026-12-01T11:00:00+05:30"
        assert got[0]["remind_now"][0]["agent_id"] == "A2"
        assert (
            client.get("/bulletins", params={"hours": 48}, headers=viewer).json()
            in (
                [],  # the test's hour is in the past: older than 48 hours once 2026-12-03 passes
                got[:1],
            )
        )


def test_the_job_runs_its_hour_and_books_the_next(tmp_path, zones, redis, monkeypatch):
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    seed(url)
    monkeypatch.setenv("QA_REDIS_URL", REDIS_URL)
    get_settings.cache_clear()
    jobs.configure(Settings(database_url=url))
    done = hourly_bulletin_job(str(tmp_path / "reports"), "2026-12-01T10:00:00+05:30")
    assert done == {"hour": "2026-12-01T10:00:00+05:30", "projects": [PROJECT]}
    (booked,) = ScheduledJobRegistry("qa-transcribe", connection=redis).get_job_ids()
    assert booked == "bulletin_2026120111"
    when = ScheduledJobRegistry("qa-transcribe", connection=redis).get_scheduled_time(booked)
    # rq keeps UTC: 11:00 in Kolkata is 05:30 UTC
    assert when.replace(tzinfo=timezone.utc) == datetime(2026, 12, 1, 5, 30, tzinfo=timezone.utc)
    assert next_hour(datetime(2026, 12, 1, 4, 45, tzinfo=timezone.utc)) == datetime(
        2026, 12, 1, 11, 0, tzinfo=ZONE
    )
    assert next_hour(datetime(2026, 12, 1, 10, 59, tzinfo=ZONE)) - timedelta(hours=1) == datetime(
        2026, 12, 1, 10, 0, tzinfo=ZONE
    )
