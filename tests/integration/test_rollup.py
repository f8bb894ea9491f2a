"""The KPI and common-error rollups stay equal to the evaluations they sum, through rescoring
with a new rubric version, reviews over the API, and metadata changes; any since/until range
(stored UTC times, or with an offset) gives the same answer as counting the evaluations one by
one, days and hours being the call center's; the 0003 migration fills them."""

from collections import Counter, defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text
from sqlmodel import select

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation, record_evaluations
from qa_service.app.keys import create_key
from qa_service.config import Settings, call_center_time
from qa_service.domain.enums import TaskState
from qa_service.domain.metadata import CallMetadata
from qa_service.i18n import message
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.review.tasks import listened as listened_task
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.migrate import alembic_config, upgrade
from qa_service.storage.queries import stored_time
from qa_service.storage.store import Store
from qa_service.storage.tables import FindingRow, ReviewTask
from tests.support import GOOD_CALL, RUBRICS, RUDE_CALL, SHORT_CALL, assert_rollups_match_rebuild

SHANGHAI = ZoneInfo("Asia/Shanghai")
BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])
GOOD, RUDE, SHORT = GOOD_CALL, RUDE_CALL, SHORT_CALL
CALLS = [
    ("A1", "2026-11-20T09:10:00", GOOD, 60.0),
    ("A1", "2026-11-20T09:40:00", RUDE, 30.0),
    ("A1", "2026-11-21T10:05:00", SHORT, 90.0),
    ("A2", "2026-11-21T10:30:00", RUDE, 45.0),
    ("A2", "2026-11-21T14:00:00", GOOD, 75.0),
    ("A2", "2026-11-22T08:59:59", SHORT, 20.0),
    (None, None, GOOD, 33.0),
]
RANGES = [
    (None, None),
    (datetime(2026, 11, 20, 9, 30), datetime(2026, 11, 21, 10, 15)),
    (datetime(2026, 11, 21, 10, 1), datetime(2026, 11, 21, 10, 40)),
    (datetime(2026, 11, 20), datetime(2026, 11, 22)),
    (datetime(2026, 11, 21, 12), None),
    # the call center's midnight and hour boundaries (Asia/Shanghai: UTC+8), and instants
    # with an offset
    (datetime(2026, 11, 20, 16), datetime(2026, 11, 21, 16)),
    (datetime(2026, 11, 21, 1, 59), datetime(2026, 11, 22, 0, 30)),
    (
        datetime(2026, 11, 21, 10, 5, tzinfo=SHANGHAI),
        datetime(2026, 11, 21, 14, 0, tzinfo=SHANGHAI),
    ),
]


def counted_one_by_one(store, group, since, until, agent=None):
    """KPIs straight from the current evaluations, in Python: the reference."""
    groups = defaultdict(Counter)
    with store.session() as s:
        heard = set(
            s.exec(select(ReviewTask.recording_id).where(ReviewTask.state == TaskState.DONE)).all()
        )
    for ev in store.evaluations.all():
        if not in_range(ev, since, until, agent):
            continue
        local = call_center_time(ev.called_at)  # stored UTC; days and hours are the call center's
        key = {
            "agent": ev.agent_id,
            "project": ev.project,
            "rubric": ev.rubric_id,
            "day": local.strftime("%Y-%m-%d"),
            "hour": local.hour,
        }[group]
        grade = ev.reviewed_grade or ev.grade
        groups[key].update(
            evaluated=1,
            passed=grade in ("pass", "excellent"),
            excellent=grade == "excellent",
            success=ev.outcome == "success",
            fatal=ev.effective_fatal,
            talk=ev.duration,
            listened=ev.recording_id in heard,
            listened_passed=ev.recording_id in heard and grade in ("pass", "excellent"),
        )
    return {
        k: (
            c["evaluated"],
            c["passed"],
            c["excellent"],
            c["success"],
            c["fatal"],
            round(c["talk"] / c["evaluated"], 2),
            c["listened"],
            c["listened_passed"],
        )
        for k, c in groups.items()
    }


def stored_calls(store, rubric) -> list:
    """CALLS stored and scored: (recording, evaluation) of each (a call without an agent has
    no project either)."""
    out = []
    for i, (agent, when, utts, duration) in enumerate(CALLS):
        meta = CallMetadata(
            agent_id=agent,
            project="p" if agent else None,
            call_time=datetime.fromisoformat(when) if when else None,
        )
        rec = store.recordings.save_transcript(
            f"{i:064x}", f"c{i}.wav", meta, duration, 2, "stereo", "x", utts
        )
        ev = record_evaluation(store, rec.id, evaluate(f"c{i}.wav", utts, duration, Scorer(rubric)))
        out.append((rec, ev))
    return out


def in_range(ev, since, until, agent):
    since, until = stored_time(since), stored_time(until)
    return (
        ev.is_current
        and not (since and ev.called_at < since)
        and not (until and ev.called_at >= until)
        and agent in (None, ev.agent_id)
    )


def errors_one_by_one(store, since, until, agent=None):
    counts = Counter()
    for ev in store.evaluations.all():
        if not in_range(ev, since, until, agent):
            continue
        counts.update(
            {
                f.rule_id
                for f in store.evaluations.findings(ev.id)
                if (f.reviewed_status or f.status) in ("missed", "violation", "unhandled")
            }
        )
    return dict(counts)


def assert_consistent(store):
    assert_rollups_match_rebuild(store)
    with store.session() as s:
        for since, until in RANGES:
            for group in ("agent", "project", "day", "hour", "rubric"):
                got = {
                    getattr(r, group): (
                        r.evaluated,
                        r.passed,
                        r.excellent,
                        r.success,
                        r.fatal,
                        r.average_talk_seconds,
                        r.listened,
                        r.listened_passed,
                    )
                    for r in kpi_rows(s, group, since=since, until=until)
                }
                assert got == counted_one_by_one(store, group, since, until), (group, since, until)
            for agent in (None, "A1", "A2"):
                errors = {
                    r.rule_id: r.count
                    for r in common_errors(s, limit=100, since=since, until=until, agent=agent)
                }
                assert errors == errors_one_by_one(store, since, until, agent), (
                    since,
                    until,
                    agent,
                )
                got = {
                    r.day: (
                        r.evaluated,
                        r.passed,
                        r.excellent,
                        r.success,
                        r.fatal,
                        r.average_talk_seconds,
                        r.listened,
                        r.listened_passed,
                    )
                    for r in kpi_rows(s, "day", since=since, until=until, agent=agent)
                }
                assert got == counted_one_by_one(store, "day", since, until, agent), (
                    since,
                    until,
                    agent,
                )


@BACKENDS
def test_rollups_follow_rescoring_reviews_and_metadata(request, tmp_path, backend):
    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    recordings = [rec for rec, _ in stored_calls(store, rubric)]
    assert_consistent(store)
    assert len(kpi_rows(store.session(), "agent")) == 3  # A1, A2 and the call with no agent

    # A stricter version 2 rescores two calls: they count once, with the new result.
    strict = rubric.model_copy(
        update={"version": 2, "scoring": rubric.scoring.model_copy(update={"pass_score": 99})}
    )
    batch = [
        (rec.id, evaluate("x", store.recordings.utterances(rec.id), rec.duration, Scorer(strict)))
        for rec in recordings[:2]
    ]
    record_evaluations(store, batch)
    with store.session() as s:
        assert sum(r.evaluated for r in kpi_rows(s, "project")) == len(CALLS)
        assert {r.rubric: r.evaluated for r in kpi_rows(s, "rubric")} == {"telecom-data-upgrade": 7}
    assert_consistent(store)

    # Reviews through the API: a grade override and a dismissed violation.
    settings = Settings(
        database_url=url, redis_url="", storage_dir=tmp_path / "storage", flagged_count_limit=2
    )
    _, reviewer = create_key(store, "reviewer", "r")
    current = [e for e in store.evaluations.all() if e.is_current]
    failing = next(e for e in current if e.grade == "fail")
    with store.session() as s:
        violation = s.exec(
            select(FindingRow).where(
                FindingRow.status == "violation",
                FindingRow.evaluation_id.in_([e.id for e in current]),
            )
        ).first()
    with TestClient(create_app(settings)) as client:
        hdr = {"X-API-Key": reviewer}
        # Two calls listened to (监听合格率 counts them), one of them before its grade is
        # overridden below: the rollups follow both steps.
        for ev in (failing, next(e for e in current if e.grade != "fail")):
            r = client.post(f"/evaluations/{ev.id}/listened", headers=hdr)
            assert r.status_code == 200, r.text
        assert_consistent(store)
        with store.session() as s:
            assert sum(r.listened for r in kpi_rows(s, "project")) == 2
        r = client.post(
            f"/evaluations/{failing.id}/reviews",
            headers=hdr,
            json={"target": "grade", "action": "override", "value": "pass", "comment": "ASR"},
        )
        assert r.status_code == 201
        r = client.post(
            f"/evaluations/{violation.evaluation_id}/reviews",
            headers=hdr,
            json={
                "target": "finding",
                "action": "override",
                "finding_id": violation.id,
                "value": "dismissed",
                "comment": "not rude in context",
            },
        )
        assert r.status_code == 201
        flagged = [
            e
            for e in store.evaluations.all()
            if e.is_current
            and (
                (e.reviewed_grade or e.grade) == "fail"
                or e.effective_fatal
                or e.asr_confidence < 0.6
            )
        ]
        r = client.get("/flagged", headers=hdr, params={"page_size": 500}).json()
        assert len(flagged) > 2 and (r["total"], r["total_exact"]) == (2, False)
        assert sorted(i["evaluation_id"] for i in r["items"]) == sorted(e.id for e in flagged)
        # pages of one, inside and past the counted ids, list the same calls in the same order
        paged = [
            i["evaluation_id"]
            for page in range(1, len(flagged) + 2)
            for i in client.get(
                "/flagged", headers=hdr, params={"page_size": 1, "page": page}
            ).json()["items"]
        ]
        assert paged == [i["evaluation_id"] for i in r["items"]]
        r = client.get("/flagged", headers=hdr, params={"agent": "A2"}).json()
        assert r["total_exact"] and r["total"] == len([e for e in flagged if e.agent_id == "A2"])
        # every call's list counts the same way, and still pages through all of them
        r = client.get("/evaluations", headers=hdr, params={"page_size": 500}).json()
        assert len(current) > 2 and (r["total"], r["total_exact"]) == (2, False)
        assert len(r["items"]) == len(current)
        one = client.get("/evaluations", headers=hdr, params={"reviewed": True}).json()
        assert 1 <= len(one["items"]) <= 2  # the two calls reviewed above
        assert (one["total"], one["total_exact"]) == (len(one["items"]), True)
        # a refused review changes nothing
        assert (
            client.post(
                f"/evaluations/{failing.id}/reviews",
                headers=hdr,
                json={"target": "grade", "action": "override", "value": "great"},
            ).status_code
            == 422
        )
    assert_consistent(store)

    # The call's metadata is corrected: another agent, another day, the trial phase.
    store.recordings.update_metadata(
        recordings[0].id,
        CallMetadata(
            agent_id="A3", project="p", call_time=datetime(2026, 11, 23, 16, 20), phase="trial"
        ),
    )
    store.recordings.save_transcript(
        recordings[6].sha256,
        "c6.wav",
        CallMetadata(agent_id="A2", project="q"),
        33.0,
        2,
        "stereo",
        "x",
        [],
    )
    with store.session() as s:
        assert {r.agent for r in kpi_rows(s, "agent")} == {"A1", "A2", "A3"}
        assert [r.evaluated for r in kpi_rows(s, "project", phase="trial")] == [1]
    assert_consistent(store)


@BACKENDS
def test_migration_0003_backfills_current_evaluations_and_rollups(request, backend):
    url = request.getfixturevalue(f"{backend}_url")
    engine = create_engine(url)
    upgrade(engine, "0002")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO recording (id, sha256, source_path, duration, channels, separation,"
                " agent_id, project, call_time, phase, asr_model, created_at) VALUES"
                " (1, 'a', 'a.wav', 40, 2, 'stereo', 'A1', 'p', '2026-11-20 09:15:00',"
                " 'production', 'x',  '2026-11-21 00:00:00'),"
                " (2, 'b', 'b.wav', 20, 2, 'stereo', NULL, NULL, NULL, 'trial', 'x',"
                " '2026-11-21 10:30:00')"
            )
        )
        c.execute(
            text(
                "INSERT INTO evaluation (id, recording_id, rubric_id, rubric_version, score, grade,"
                " fatal, outcome, created_at, reviewed_grade, asr_confidence) VALUES"
                " (1, 1, 'r', 1, 90, 'pass', false, 'success', '2026-11-21 01:00:00', NULL, 0.9),"
                " (2, 1, 'r', 2, 60, 'fail', false, 'refusal', '2026-11-21 02:00:00', 'pass', 0.9),"
                " (3, 2, 'r', 1, 0, 'fail', true, 'unknown', '2026-11-21 03:00:00', NULL, 0.9)"
            )
        )
        c.execute(
            text(
                "INSERT INTO finding (evaluation_id, rule_id, category, status, deduction, name,"
                " severity, detail, evidence, reviewed_status) VALUES"
                " (1, 'm', 'mandatory_point', 'missed', 5, 'M', 'normal', '', '[]', NULL),"
                " (2, 'm', 'mandatory_point', 'missed', 5, 'M', 'normal', '', '[]', NULL),"
                " (3, 'rude', 'attitude_error', 'violation', 100, 'Rude', 'fatal', '', '[]', NULL),"
                " (3, 'm', 'mandatory_point', 'missed', 5, 'M', 'normal', '', '[]', 'dismissed')"
            )
        )
    engine.dispose()
    store = Store(url)  # upgrades to head
    evs = {e.id: e for e in store.evaluations.all()}
    assert [e.id for e in evs.values() if e.is_current] == [2, 3]
    # 09:15 on the call center's clock (Asia/Shanghai) is stored in UTC since 0007
    assert (evs[2].agent_id, evs[2].project, evs[2].called_at, evs[2].duration) == (
        "A1",
        "p",
        datetime(2026, 11, 20, 1, 15),
        40.0,
    )
    assert (evs[3].agent_id, evs[3].phase, evs[3].called_at) == (
        "",
        "trial",
        datetime(2026, 11, 21, 10, 30),
    )
    with store.session() as s:
        rows = {r.agent: r for r in kpi_rows(s, "agent")}
        assert rows["A1"].passed == 1 and rows["A1"].success == 0  # the reviewed version 2
        assert rows[""].fatal == 1 and rows[""].average_talk_seconds == 20.0
        errors = {r.rule_id: r.count for r in common_errors(s)}
    assert errors == {"m": 1, "rude": 1}
    assert_consistent(store)


@BACKENDS
def test_migration_0022_adds_the_calls_listened_before_it(request, backend):
    """Calls listened to before 0022 (a done review task) are added to the rollups' new
    columns once the schema is at head; nothing else in the rollups moves."""
    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url)
    evaluations = [
        ev for _, ev in stored_calls(store, load_rubric(RUBRICS / "telecom-data-upgrade.yaml"))
    ]
    with store.session() as s:
        for ev in evaluations[::2]:
            listened_task(s, ev.id, "r1", manager=False)
        s.commit()
        before = kpi_rows(s, "agent")
    assert sum(r.listened for r in before) == 4
    command.downgrade(alembic_config(url), "0021")  # what a database before 0022 has
    with store.engine.connect() as c:
        assert "listened" not in {col["name"] for col in inspect(c).get_columns("kpi_rollup")}
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    with Store(url).session() as s:
        assert kpi_rows(s, "agent") == before
    assert_consistent(store)


def test_rebuild_rollups_command(sqlite_url):
    from typer.testing import CliRunner

    from qa_service.cli import app

    store = Store(sqlite_url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    rec = store.recordings.save_transcript(
        "e" * 64, "e.wav", CallMetadata(agent_id="A9", project="p"), 12.0, 2, "stereo", "x", GOOD
    )
    record_evaluation(store, rec.id, evaluate("e.wav", GOOD, 12.0, Scorer(rubric)))
    with store.session() as s:
        s.exec(text("DELETE FROM kpi_rollup"))  # data edited by hand
        s.exec(text("DELETE FROM kpi_rollup_project"))
        s.commit()
        assert kpi_rows(s, "agent") == []
    result = CliRunner().invoke(app, ["rebuild-rollups", "--db", sqlite_url])
    rebuilt = message("rollups rebuilt from {n} current evaluations", n=1)
    assert result.exit_code == 0 and rebuilt in result.output
    with store.session() as s:
        assert [r.agent for r in kpi_rows(s, "agent")] == ["A9"]


def test_concurrent_writers_lose_no_counts(postgres_url):
    """Eight threads, each its own connection, store and rescore calls of the same agent-hour
    at once (as workers do): the rollups end equal to a rebuild, nothing lost, no deadlock."""
    from concurrent.futures import ThreadPoolExecutor

    store = Store(postgres_url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    scorer = Scorer(rubric)
    when = datetime(2026, 11, 20, 9, 0)
    recs = [
        store.recordings.save_transcript(
            f"{i:064x}",
            f"c{i}.wav",
            CallMetadata(agent_id="A1", project="p", call_time=when.replace(minute=i % 60)),
            30.0,
            2,
            "stereo",
            "x",
            GOOD if i % 2 else RUDE,
        )
        for i in range(64)
    ]

    def score(rec):
        utts = GOOD if int(rec.sha256, 16) % 2 else RUDE
        record_evaluation(store, rec.id, evaluate(rec.source_path, utts, 30.0, scorer))

    def rescore_in_batches(part):
        record_evaluations(
            store, [(rec.id, evaluate(rec.source_path, GOOD, 30.0, scorer)) for rec in part]
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(score, recs))
        list(pool.map(rescore_in_batches, [recs[i::8] for i in range(8)]))  # overlapping cells
    with store.session() as s:
        (row,) = kpi_rows(s, "agent")
    assert row.evaluated == 64 and row.passed == 64
    assert_consistent(store)
