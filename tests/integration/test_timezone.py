"""Time zones: the server's TZ must not change what is reported. Tested with the process in
Asia/Shanghai and in UTC; the call center's zone is QA_TIMEZONE (default Asia/Shanghai)."""

import json
import shutil
import time

import pytest

from qa_service.app.evaluations import record_evaluation
from qa_service.config import Settings, get_settings
from qa_service.domain.metadata import CallMetadata, read_metadata
from qa_service.domain.results import Utterance
from qa_service.files import sha256_of
from qa_service.i18n import message
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store
from qa_service.worker import jobs
from qa_service.worker.nightly import run_nightly
from tests.support import RUBRICS, SAMPLES, said

CALL = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"
RUDE = [
    Utterance("agent", 0.0, 3.0, "您好，我是电信客服小王", 0.9),
    Utterance("customer", 3.5, 5.0, "什么事", 0.9),
    Utterance("agent", 5.5, 8.0, "爱办不办，你烦不烦", 0.9),
]


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
    store.rubrics.save(rubric, (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8"))
    store.rubrics.activate("telecom-upgrade", rubric.id, rubric.version)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(CALL, inbox / CALL.name)
    # its transcript is known (a rude agent), so the night scores it without recognition
    store.recordings.save_transcript(
        sha256_of(CALL),
        str(inbox / CALL.name),
        read_metadata(CALL),
        10.0,
        2,
        "stereo",
        "test",
        RUDE,
    )
    jobs.configure(Settings(database_url=url))
    report = run_nightly(store, inbox, dispatcher=None)
    assert report.queued == 1 and not report.failed, report
    assert [f.fatal for f in report.flagged] == [True], (server_tz, report)


def test_call_times_are_stored_in_utc_whatever_the_server_zone(tmp_path, server_tz):
    """A call time with an offset is that instant, one without is the call center's wall
    clock: both stored in UTC; a call without a call time counts when it was stored (UTC),
    the same clock (before, one was local and the other UTC)."""
    from datetime import datetime

    from qa_service.rules.scoring import Scorer, evaluate

    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    stored = {}
    for name, call_time in (
        ("offset", "2026-11-20T01:14:03+00:00"),
        ("naive", "2026-11-20T09:14:03"),
        ("none", None),
    ):
        (tmp_path / f"{name}.json").write_text(
            json.dumps({"call_time": call_time}), encoding="utf-8"
        )
        rec = store.recordings.save_transcript(
            name.ljust(64, "0"),
            f"{name}.wav",
            read_metadata(tmp_path / f"{name}.wav"),
            10.0,
            2,
            "stereo",
            "test",
            RUDE,
        )
        ev = record_evaluation(store, rec.id, evaluate(f"{name}.wav", RUDE, 10.0, Scorer(rubric)))
        stored[name] = (store.recordings.get(rec.id), ev)
    for name in ("offset", "naive"):
        rec, ev = stored[name]
        assert rec.call_time == ev.called_at == datetime(2026, 11, 20, 1, 14, 3), name
    rec, ev = stored["none"]
    assert rec.call_time is None and ev.called_at == rec.created_at
    # a call time that cannot be stored in UTC is refused with the file's name, not a 500 later
    from qa_service.exceptions import MetadataError

    (tmp_path / "edge.json").write_text('{"call_time": "9999-12-31T23:59:59"}', encoding="utf-8")
    edge = said("{source}: {field} {value} is out of range", field="call_time")
    with pytest.raises(MetadataError, match=edge):
        read_metadata(tmp_path / "edge.wav")


# One clock: UTC stored, the call center's zone for days, hours and what people read ----------

MORNING = "p_A1_20261120-073000.wav"  # 07:30 in Shanghai = 23:30 UTC on the 19th


def _morning_call(store, tmp_path):
    """A call recorded at 07:30 Shanghai time (its file name), scored without recognition."""
    from qa_service.rules.scoring import Scorer, evaluate

    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    meta = read_metadata(tmp_path / MORNING)
    rec = store.recordings.save_transcript("7" * 64, MORNING, meta, 10.0, 2, "stereo", "test", RUDE)
    ev = record_evaluation(store, rec.id, evaluate(MORNING, RUDE, 10.0, Scorer(rubric)))
    return store.recordings.get(rec.id), ev


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_shanghai_morning_call_is_stored_in_utc_and_counts_on_its_local_day(
    request, tmp_path, server_tz, backend
):
    """07:30 in Shanghai is 23:30 UTC the day before: stored as UTC, it is still the 20th's
    call in the KPI day and hour 7, in the rollups and when counted from the evaluations."""
    from datetime import datetime

    from sqlmodel import select

    from qa_service.metrics.kpis import common_errors, kpi_rows
    from qa_service.storage.tables import KpiRollup, ProjectErrorRollup

    store = Store(request.getfixturevalue(f"{backend}_url"))
    rec, ev = _morning_call(store, tmp_path)
    assert rec.call_time == datetime(2026, 11, 19, 23, 30)  # UTC
    assert ev.called_at == datetime(2026, 11, 19, 23, 30)
    with store.session() as s:
        assert [r.hour for r in s.exec(select(KpiRollup)).all()] == [datetime(2026, 11, 20, 7)]
        assert {r.day for r in s.exec(select(ProjectErrorRollup)).all()} == {datetime(2026, 11, 20)}
        assert [r.day for r in kpi_rows(s, "day")] == ["2026-11-20"]
        assert [r.hour for r in kpi_rows(s, "hour")] == [7]
        # ragged ranges (counted from the evaluations, not the rollups) say the same
        utc = {"since": datetime(2026, 11, 19, 23, 10), "until": datetime(2026, 11, 19, 23, 50)}
        assert [r.day for r in kpi_rows(s, "day", **utc)] == ["2026-11-20"]
        assert [r.hour for r in kpi_rows(s, "hour", **utc)] == [7]
        assert common_errors(s, **utc) == common_errors(s)


# The same calls, asked for with and without an offset (naive: the call center's time).
SAME_CALL = [
    {"since": "2026-11-20T07:00:00", "until": "2026-11-20T08:00:00"},
    {"since": "2026-11-19T23:00:00Z", "until": "2026-11-20T00:00:00+00:00"},
    {"since": "2026-11-20T07:00:00+08:00", "until": "2026-11-20T07:31:00+08:00"},
    {"since": "2026-11-20T00:00:00"},
    {"until": "2026-11-21T00:00:00"},
]
NOT_IT = [
    {"since": "2026-11-19T23:00:00", "until": "2026-11-20T00:00:00"},  # the 19th's evening, local
    {"since": "2026-11-20T07:31:00"},
    {"until": "2026-11-20T07:30:00+08:00"},
    {"since": "2026-11-19T00:00:00", "until": "2026-11-20T00:00:00"},
]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_since_until_with_and_without_offset_and_api_times_round_trip(
    request, tmp_path, server_tz, backend
):
    from datetime import datetime

    from fastapi.testclient import TestClient

    from qa_service.api import create_app
    from qa_service.app.keys import create_key

    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url)
    _, ev = _morning_call(store, tmp_path)
    _, secret = create_key(store, "viewer", "tz")
    settings = Settings(database_url=url, redis_url="", storage_dir=tmp_path / "storage")
    routes = {
        "/kpis": lambda r: sum(x["evaluated"] for x in r),
        "/kpis/errors": lambda r: int(bool(r)),
        "/evaluations": lambda r: r["total"],
        "/flagged": lambda r: r["total"],
        "/review-sample": lambda r: r["population"],
    }
    with TestClient(create_app(settings)) as client:

        def get(path, **params):
            r = client.get(path, params=params, headers={"X-API-Key": secret})
            assert r.status_code == 200, (path, params, r.text)
            return r.json()

        for path, count in routes.items():
            for params in SAME_CALL:
                assert count(get(path, **params)) == 1, (path, params)
            for params in NOT_IT:
                assert count(get(path, **params)) == 0, (path, params)
        assert get("/kpis", group_by="day")[0]["day"] == "2026-11-20"
        assert get("/kpis", group_by="hour")[0]["hour"] == 7
        # API times carry the call center's offset; read back, they select the same call
        (item,) = get("/evaluations")["items"]
        assert item["call_time"] == "2026-11-20T07:30:00+08:00"
        assert datetime.fromisoformat(item["call_time"]).utcoffset() is not None
        assert get("/evaluations", since=item["call_time"])["total"] == 1
        assert get("/evaluations", until=item["call_time"])["total"] == 0
        assert get(f"/recordings/{ev.recording_id}")["call_time"] == "2026-11-20T07:30:00+08:00"
        detail = get(f"/evaluations/{ev.id}")
        assert detail["call_time"] == "2026-11-20T07:30:00+08:00"
        sample = get("/review-sample", since="2026-11-19T23:00:00Z")
        assert sample["since"] == "2026-11-20T07:00:00+08:00"
        inflight = get("/projects/p/inflight")
        assert inflight["start"] == "2026-11-20T07:30:00+08:00"
        assert inflight["windows"][0]["until"] == "2026-11-20T09:30:00+08:00"
        created = datetime.fromisoformat(get(f"/recordings/{ev.recording_id}")["created_at"])
        assert created.utcoffset() is not None
        # the ends of the calendar are a clear 422, not an overflow (500) in the conversion
        for edge in ("0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00"):
            r = client.get("/kpis", params={"since": edge}, headers={"X-API-Key": secret})
            out_of_range = message(
                "date-time out of range ({first} to {last})", first="0001-01-02", last="9999-12-30"
            )
            assert r.status_code == 422 and out_of_range in r.json()["detail"], r.text


def test_ranges_are_exact_where_clocks_change(tmp_path, monkeypatch):
    """A call center with daylight saving (America/New_York): across the hour repeated when
    clocks go back and the hour skipped when they go forward, every since/until range counts
    exactly the calls in it, days and hours being the call center's (rollups for whole
    hours, the evaluations for the ragged ends)."""
    from datetime import datetime, timedelta, timezone
    from itertools import combinations

    from qa_service.config import call_center_time
    from qa_service.metrics.kpis import kpi_rows
    from qa_service.rules.scoring import Scorer, evaluate

    monkeypatch.setenv("QA_TIMEZONE", "America/New_York")
    get_settings.cache_clear()
    try:
        store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
        rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
        back, forward = datetime(2026, 11, 1, 4, 0), datetime(2026, 3, 8, 5, 0)  # UTC
        calls = [t + timedelta(minutes=m) for t in (back, forward) for m in range(10, 240, 20)]
        for i, when in enumerate(calls):
            meta = CallMetadata(
                agent_id="A1", project="p", call_time=when.replace(tzinfo=timezone.utc)
            )
            rec = store.recordings.save_transcript(
                f"{i:064x}", f"c{i}.wav", meta, 10.0, 2, "stereo", "test", RUDE
            )
            record_evaluation(store, rec.id, evaluate(f"c{i}.wav", RUDE, 10.0, Scorer(rubric)))
        edges = [None] + [
            t + timedelta(minutes=m) for t in (back, forward) for m in range(0, 241, 30)
        ]
        with store.session() as s:
            for since, until in combinations(edges, 2):
                if since is not None and until is not None and since > until:
                    continue
                inside = [
                    call_center_time(c)
                    for c in calls
                    if (since is None or c >= since) and (until is None or c < until)
                ]
                for group, key in (
                    ("hour", lambda t: t.hour),
                    ("day", lambda t: t.strftime("%Y-%m-%d")),
                ):
                    expected = {}
                    for t in inside:
                        expected[key(t)] = expected.get(key(t), 0) + 1
                    got = {
                        getattr(r, group): r.evaluated
                        for r in kpi_rows(s, group, since=since, until=until)
                    }
                    assert got == expected, (group, since, until)
    finally:
        get_settings.cache_clear()
