"""Trial-phase report (试呼) on the dev corpus, and the in-flight report's windows."""

from datetime import datetime, timedelta

import pytest

from qa_service.app.evaluations import record_evaluation
from qa_service.config import to_utc
from qa_service.domain.enums import TaskReason, TaskState
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.metrics.reports import inflight_report, trial_report
from qa_service.review.tasks import complete
from qa_service.rules.rubric import parse_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from qa_service.storage.tables import ReviewTask


def test_trial_report_on_dev_corpus(tmp_path, dev_transcripts, dev_labels, dev_rubric):
    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    scorer = Scorer(dev_rubric)
    for i, (cid, t) in enumerate(sorted(dev_transcripts.items())):
        meta = CallMetadata(agent_id=f"A{i % 4}", project="dev", phase="trial")
        rec = store.recordings.save_transcript(
            f"{i:064x}", cid, meta, t.duration, t.channels, t.separation, "embedded", t.utterances
        )
        record_evaluation(store, rec.id, evaluate(cid, t.utterances, t.duration, scorer))
    with store.session() as s:
        report = trial_report(s, dev_rubric, "dev")
    assert report.calls == 16
    labelled = {
        o.id: sum(o.id in label["objections"] for label in dev_labels.values())
        for o in dev_rubric.objections
    }
    reasons = {r.objection_id: r for r in report.refusal_reasons}
    assert set(reasons) == set(labelled)
    for objection_id, count in labelled.items():
        assert abs(reasons[objection_id].raised_in_calls - count) <= 1, (objection_id, reasons)
    # most raised first; rates are shares of what was raised
    raised = [r.raised_in_calls for r in report.refusal_reasons]
    assert raised == sorted(raised, reverse=True)
    top = report.refusal_reasons[0]
    assert top.objection_id == "think_about_it" and 0 <= top.handled_rate <= 1
    points = {g.point_id: g for g in report.guide_map}
    assert {p.id for p in dev_rubric.mandatory_points} <= set(points)
    labelled_points = sum("prestore" in label["points"] for label in dev_labels.values())
    assert abs(points["prestore"].said_in_calls - labelled_points) <= 2
    library = report.highlights
    assert library and all(h.reason for h in library)
    rates = [h.success_rate for h in library]
    assert rates == sorted(rates, reverse=True)


def test_inflight_windows(tmp_path, dev_rubric):
    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    scorer = Scorer(dev_rubric)
    start = datetime(2026, 11, 23, 9, 0)
    rude = [U("agent", 0.5, 2.0, "你烦不烦"), U("customer", 2.5, 3.0, "不需要")]
    fine = [U("agent", 0.5, 2.0, "您好，我是中国电信客户经理"), U("customer", 2.5, 3.0, "好的")]
    for i, (minutes, utts) in enumerate(
        [(10, rude), (90, fine), (150, rude), (300, fine), (420, rude)]
    ):
        meta = CallMetadata(
            agent_id="A1", project="p", call_time=start + timedelta(minutes=minutes)
        )
        rec = store.recordings.save_transcript(
            f"{i:064x}", f"c{i}", meta, 30.0, 2, "stereo", "x", utts
        )
        record_evaluation(store, rec.id, evaluate(f"c{i}", utts, 30.0, scorer))
    with store.session() as s:
        report = inflight_report(s, "p")
    assert report.start == to_utc(start + timedelta(minutes=10))  # the first call, stored UTC
    counts = [w.kpis.evaluated for w in report.windows]
    assert counts == [2, 3, 4]  # calls in the first 2, 4 and 6 hours
    top = report.windows[0].common_errors[0]
    assert top.count == 2 and top.share == 1.0  # missed by both calls of the first 2 hours
    assert report.windows[2].kpis.fatal == 2


def _first_by_recordings(s, project):
    """The start as inflight_report read it before: min over the project's production recordings."""
    from sqlalchemy import func
    from sqlmodel import select

    from qa_service.storage.tables import Recording

    return s.exec(
        select(func.min(func.coalesce(Recording.call_time, Recording.created_at))).where(
            Recording.project == project, Recording.phase == "production"
        )
    ).one()


def test_inflight_start_from_current_evaluations(tmp_path, dev_rubric):
    """The start comes from the current evaluations' called_at (an index probe): the same
    first call as min() over the recordings, leaving out trial calls, other projects and
    rescorings; a project with calls stored but none evaluated still gets its start."""
    from sqlmodel import select

    from qa_service.storage.tables import Evaluation

    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    scorer = Scorer(dev_rubric)
    start = datetime(2026, 11, 23, 9, 0)
    fine = [U("agent", 0.5, 2.0, "您好，我是中国电信客户经理"), U("customer", 2.5, 3.0, "好的")]
    calls = [
        ("p", "trial", -120),
        ("other", "production", -60),
        ("p", "production", 30),
        ("p", "production", 0),
        ("p", "production", 200),
        ("q", "production", 5),
    ]
    for i, (project, phase, minutes) in enumerate(calls):
        meta = CallMetadata(
            agent_id="A1",
            project=project,
            phase=phase,
            call_time=start + timedelta(minutes=minutes),
        )
        rec = store.recordings.save_transcript(
            f"{i:064x}", f"c{i}", meta, 30.0, 2, "stereo", "x", fine
        )
        if project != "q":  # q: stored, not evaluated yet
            record_evaluation(store, rec.id, evaluate(f"c{i}", fine, 30.0, scorer))
            record_evaluation(store, rec.id, evaluate(f"c{i}", fine, 30.0, scorer))  # rescored
    with store.session() as s:
        for project in ("p", "other", "q", "none"):
            assert inflight_report(s, project).start == _first_by_recordings(s, project)
        report = inflight_report(s, "p")
        assert report.start == to_utc(start)
        assert [w.kpis.evaluated for w in report.windows] == [2, 3, 3]
        assert inflight_report(s, "q").start == to_utc(start + timedelta(minutes=5))
        assert inflight_report(s, "none").model_dump() == {
            "project": "none",
            "start": None,
            "windows": [],
            "customer_voice": None,
        }
        # a call without a call time starts the windows when it was stored, on the clock the
        # windows count on (called_at: UTC, like every stored time), so the first window holds it
        meta = CallMetadata(agent_id="A1", project="late")
        rec = store.recordings.save_transcript(
            f"{99:064x}", "c99", meta, 30.0, 2, "stereo", "x", fine
        )
        record_evaluation(store, rec.id, evaluate("c99", fine, 30.0, scorer))
    with store.session() as s:
        called = s.exec(select(Evaluation.called_at).where(Evaluation.project == "late")).one()
        report = inflight_report(s, "late")
        assert report.start == called
        assert report.windows[0].kpis.evaluated == 1


GUIDE_RUBRIC = """
id: guide
mandatory_points:
  - {id: often_liked, name: 流量翻倍, any: [流量翻倍], weight: 5}
  - {id: often_refused, name: 合约两年, any: [合约两年], weight: 5}
  - {id: rare_objected, name: 预存话费, any: [预存话费], weight: 5}
  - {id: rare_liked, name: 视频会员, any: [送视频会员], weight: 5}
objections:
  - {id: expensive, customer_says: [太贵了], agent_should: [每天只要]}
outcome: {success: [那就办吧], refusal: [不需要]}
"""


def _call(*pairs):
    """Agent line, customer reply, ... two seconds apart."""
    out = []
    for i, (agent, customer) in enumerate(pairs):
        out += [
            U("agent", 4 * i, 4 * i + 1.5, agent),
            U("customer", 4 * i + 2, 4 * i + 3.5, customer),
        ]
    return out


def test_guide_map_places_each_point_in_its_quadrant(tmp_path):
    """引导地图: said often or rarely (half the calls) x customers like it or not (half of the
    judged replies positive). Four points made to land one in each quadrant."""
    rubric = parse_rubric(GUIDE_RUBRIC, "guide")
    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    scorer = Scorer(rubric)
    calls = [
        _call(
            ("流量翻倍", "好的"),
            ("合约两年", "不需要"),
            ("预存话费", "太贵了"),
            ("送视频会员", "可以"),
        ),
        _call(("流量翻倍", "好的"), ("合约两年", "不需要")),
        _call(("流量翻倍", "好的呀"), ("合约两年", "不需要了")),
        _call(("您好", "嗯")),
    ]
    for i, utts in enumerate(calls):
        rec = store.recordings.save_transcript(
            f"{i:064x}",
            f"g{i}",
            CallMetadata(project="p", phase="trial"),
            20.0,
            2,
            "stereo",
            "x",
            utts,
        )
        record_evaluation(store, rec.id, evaluate(f"g{i}", utts, 20.0, scorer))
    with store.session() as s:
        report = trial_report(s, rubric, "p")
    points = {g.point_id: g for g in report.guide_map}
    assert report.calls == 4
    assert {k: (g.said_in_calls, g.quadrant) for k, g in points.items()} == {
        "often_liked": (3, 1),
        "often_refused": (3, 2),
        "rare_objected": (1, 3),
        "rare_liked": (1, 4),
    }
    replies = {
        k: {kind: n for kind, n in g.customer_replies.items() if n} for k, g in points.items()
    }
    assert replies == {
        "often_liked": {"positive": 3},
        "often_refused": {"refusal": 3},
        "rare_objected": {"objection": 1},
        "rare_liked": {"positive": 1},
    }
    assert (
        points["often_refused"].positive_rate == 0.0 and points["rare_liked"].positive_rate == 1.0
    )


def test_guide_map_reactions_and_highlights_worth_copying(tmp_path):
    """A backchannel (然后呢, 这样啊) says nothing of a point and a question is a question: only
    acceptance, objection and refusal are judged. The highlight library takes only calls that
    passed without a fatal finding and ended in success (dev-003's lines came from a fatal call)."""
    rubric = parse_rubric(
        GUIDE_RUBRIC.replace(
            "outcome:",
            "attitude_errors:\n  - {id: rude, any: [你烦不烦], deduct: 100, severity: fatal}\n"
            "script_sections:\n  - {id: closing, kind: closing, any: [为您办理]}\noutcome:",
        ),
        "guide",
    )
    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    scorer = Scorer(rubric)
    calls = [
        _call(("流量翻倍", "然后呢"), ("为您办理", "那就办吧")),
        _call(("流量翻倍", "这样啊"), ("为您办理", "那就办吧")),
        _call(("流量翻倍", "这个要收手续费吗"), ("为您办理", "那就办吧")),
        _call(("流量翻倍", "好的"), ("你烦不烦", "嗯"), ("为您办理", "那就办吧")),  # fatal
    ]
    for i, utts in enumerate(calls):
        rec = store.recordings.save_transcript(
            f"{i:064x}",
            f"g{i}",
            CallMetadata(project="p", phase="trial"),
            20.0,
            2,
            "stereo",
            "x",
            utts,
        )
        record_evaluation(store, rec.id, evaluate(f"g{i}", utts, 20.0, scorer))
    with store.session() as s:
        report = trial_report(s, rubric, "p")
    point = next(g for g in report.guide_map if g.point_id == "often_liked")
    replies = {k: n for k, n in point.customer_replies.items() if n}
    assert replies == {"nothing": 2, "question": 1, "positive": 1}, replies
    assert point.positive_rate == 1.0  # the one judged reply; backchannels were 100 % before
    assert point.asked == ["这个要收手续费吗"]  # what customers asked right after it
    unsaid = next(g for g in report.guide_map if g.point_id == "often_refused")
    assert unsaid.said_in_calls == 0 and unsaid.quadrant is None  # listed apart, not at 0
    assert "backchannel" in report.quadrant_rule
    fatal_recording = store.recordings.by_sha(f"{3:064x}").id
    assert report.highlights, report
    for h in report.highlights:
        assert all(x.recording_id != fatal_recording for x in h.examples), h


@pytest.mark.parametrize(("zone", "recent"), [("Asia/Kolkata", 500), ("Asia/Kathmandu", 1)])
def test_inflight_windows_as_each_window_read_alone(
    tmp_path, monkeypatch, dev_rubric, zone, recent
):
    """The windows read in one pass (nested_windows) give what kpi_rows and common_errors give
    each window read alone through the rollups, in zones whose hours are not UTC's (+05:30,
    +05:45: calling hours are counted per UTC quarter hour), with windows that cut hours,
    cross the call center's midnight and hold silent calls; and the same examples, also when
    the newest calls read for them (RECENT_CALLS) miss an error, which is then looked up."""
    from qa_service.config import get_settings
    from qa_service.domain.enums import Phase
    from qa_service.metrics import kpis
    from qa_service.metrics.kpis import common_errors, kpi_rows, nested_windows

    monkeypatch.setenv("QA_TIMEZONE", zone)
    monkeypatch.setattr(kpis, "RECENT_CALLS", recent)
    get_settings.cache_clear()
    try:
        store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
        scorer = Scorer(dev_rubric)
        rude = [U("agent", 0.5, 2.0, "你烦不烦"), U("customer", 2.5, 3.0, "不需要")]
        fine = [U("agent", 0.5, 2.0, "您好，我是中国电信客户经理"), U("customer", 2.5, 3.0, "好的")]
        start = datetime(2026, 11, 23, 22, 47)  # the call center's time: 17:17 UTC in Kolkata
        for i, minutes in enumerate(range(0, 420, 23)):
            utts = [] if i % 7 == 3 else (rude if i % 3 else fine)
            meta = CallMetadata(
                agent_id=f"A{i % 3}", project="p", call_time=start + timedelta(minutes=minutes)
            )
            rec = store.recordings.save_transcript(
                f"{i:064x}", f"c{i}", meta, 30.0 + i, 2, "stereo", "x", utts
            )
            stored = record_evaluation(store, rec.id, evaluate(f"c{i}", utts, 30.0 + i, scorer))
            if i % 4 == 1:  # listened to: the windows' 监听合格率 counts it
                with store.session() as s:
                    task = ReviewTask(
                        recording_id=rec.id,
                        evaluation_id=stored.id,
                        reason=TaskReason.RANDOM,
                        assignee="r1",
                        state=TaskState.ASSIGNED,
                    )
                    s.add(task)
                    s.flush()
                    complete(s, task.id, "r1")  # as the API marks it done: rollups follow
                    s.commit()
        hours = (1, 2, 4, 6)
        with store.session() as s:
            report = inflight_report(s, "p", hours=hours)
            first = report.start
            assert first == to_utc(start)
            kw = {"project": "p", "phase": Phase.PRODUCTION, "since": first}
            untils = [first + timedelta(hours=h) for h in hours]
            alone = [
                (
                    kpi_rows(s, "project", until=u, **kw)[0],
                    common_errors(s, limit=5, until=u, **kw),
                )
                for u in untils
            ]
            assert nested_windows(s, first, untils, project="p", phase=Phase.PRODUCTION) == alone
            every_error = [common_errors(s, limit=50, until=u, **kw) for u in untils]
            assert [
                errors
                for _, errors in nested_windows(
                    s, first, untils, errors=50, project="p", phase=Phase.PRODUCTION
                )
            ] == every_error
        got = [(w.kpis, w.common_errors) for w in report.windows]
        assert got == alone
        examples = [len(e.example_recordings) for _, errors in alone for e in errors]
        assert max(examples) == min(3, recent) and min(examples) >= 1, examples
        evaluated = [k.evaluated for k, _ in alone]
        assert evaluated == sorted(evaluated) and evaluated[0] < evaluated[-1]
        assert all(k.no_speech for k, _ in alone[1:]) and alone[-1][1]  # silent calls, errors
        heard = [(k.listened, k.listened_passed) for k, _ in alone]
        assert 0 < heard[0][0] < heard[-1][0], heard
    finally:
        get_settings.cache_clear()
