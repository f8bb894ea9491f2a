"""`/flagged?rule=` read from costly_rule lists exactly what the EXISTS over the findings
listed (the query before migration 0020, kept here as the oracle): the same ids in the same
order and the same counts, alone and with a project, an agent, a team, a time range and the
reviewed filter, on every page; and the table equals its definition after each step that
changes findings, grades or current evaluations (store, review, rescore, a new rubric version,
an appeal's ruling, a withdrawal, new metadata), on SQLite and PostgreSQL, in a call center
time zone that is not UTC."""

import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, exists
from sqlmodel import select

from qa_service.app.evaluations import record_evaluations
from qa_service.config import get_settings
from qa_service.domain.enums import COSTLY, TaskReason, TaskState
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.review import appeals
from qa_service.review.reviews import (
    ReviewRequest,
    addable_statuses,
    allowed_statuses,
    create_review,
    withdraw_review,
)
from qa_service.review.tasks import complete
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.costly_rules import _current_costly
from qa_service.storage.queries import filters
from qa_service.storage.repositories.evaluations import listened_sql
from qa_service.storage.store import Store
from qa_service.storage.tables import CostlyRule, Evaluation, FindingRow, ReviewTask
from tests.support import GOOD_CALL, RUBRICS, RUDE_CALL, SHORT_CALL

LOW = 0.6
GOOD, RUDE, SHORT = GOOD_CALL, RUDE_CALL, SHORT_CALL
# the same words heard badly: flagged for the recognition, whatever the grade
DOUBTFUL = [U(u.role, u.start, u.end, u.text, 0.3) for u in GOOD[:2]] + GOOD[2:]
KINDS = [GOOD, RUDE, SHORT, DOUBTFUL, RUDE, SHORT]


@pytest.fixture
def kolkata(monkeypatch):
    """The call center in Asia/Kolkata (UTC+5:30), this process in New York."""
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.setenv("QA_TIMEZONE", "Asia/Kolkata")
    time.tzset()
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    time.tzset()
    get_settings.cache_clear()


def oracle(store, count_limit, page, page_size, rule, reviewed=None, **where):
    """Evaluations.flagged with a rule as it was before costly_rule: an EXISTS over the
    findings of each current flagged evaluation."""
    conds = [filters(**where), Evaluation.flagged_sql(LOW)]
    if reviewed is not None:
        conds.append(listened_sql() if reviewed else ~listened_sql())
    conds.append(
        exists().where(
            FindingRow.evaluation_id == Evaluation.id,
            FindingRow.rule_id == rule,
            FindingRow.effective_status_sql().in_(COSTLY),
        )
    )
    newest_first = (Evaluation.called_at.desc(), Evaluation.id.desc())
    with store.session() as s:
        ids = s.exec(
            select(Evaluation.id).where(*conds).order_by(*newest_first).limit(count_limit + 1)
        ).all()
        rows = s.exec(
            select(Evaluation.id)
            .where(*conds)
            .order_by(*newest_first)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
    return len(ids), list(rows)


def table_rows(store) -> set[tuple]:
    with store.session() as s:
        return {tuple(r) for r in s.exec(select(*CostlyRule.__table__.columns)).all()}


def defined_rows(store) -> set[tuple]:
    with store.session() as s:
        return {tuple(r) for r in s.exec(_current_costly()).all()}


FILTERS = [
    {},
    {"project": "p"},
    {"project": "q"},
    {"agent": "A1"},
    {"agent": "A2"},
    {"agents": frozenset({"A1", "A3"})},
    {"agents": frozenset()},
    # the call center's evening in Kolkata, as an instant with an offset, and a stored UTC time
    {"since": datetime(2026, 11, 20, 20, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))},
    {"until": datetime(2026, 11, 21, 4, 0)},
    {"project": "p", "since": datetime(2026, 11, 20, 4, 0), "until": datetime(2026, 11, 22)},
    {"reviewed": True},
    {"reviewed": False, "agent": "A2"},
]


def assert_same(store) -> int:
    """The table is its definition, and every filtered list is the oracle's; returns how
    many (rule, filter) lists were not empty."""
    assert table_rows(store) == defined_rows(store), "costly_rule drifted from the evaluations"
    with store.session() as s:
        rules = sorted(set(s.exec(select(FindingRow.rule_id)).all())) + ["no_such_rule"]
    listed = 0
    for rule in rules:
        for where in FILTERS:
            for count_limit, page_size, pages in ((1000, 500, 1), (2, 1, 4)):
                first = None
                for page in range(1, pages + 1):
                    want = oracle(store, count_limit, page, page_size, rule, **where)
                    total, rows = store.evaluations.flagged(
                        LOW, count_limit, page, page_size, rule=rule, **where
                    )
                    assert (total, [e.id for e in rows]) == want, (rule, where, page, page_size)
                    first = first or total
                listed += bool(first)
    return listed


def _stored(store, rubric, recordings, version=None):
    rub = rubric if version is None else version
    return record_evaluations(
        store,
        [
            (r.id, evaluate("x", store.recordings.utterances(r.id), r.duration, Scorer(rub)))
            for r in recordings
        ],
    )


def _finding(store, evaluation_id, costly: bool, rule=None) -> FindingRow:
    with store.session() as s:
        rows = s.exec(
            select(FindingRow)
            .where(FindingRow.evaluation_id == evaluation_id)
            .order_by(FindingRow.id)
        ).all()
    return next(
        f
        for f in rows
        if (f.effective_status in COSTLY) == costly and (rule is None or f.rule_id == rule)
    )


def _current(store, recording_id) -> Evaluation:
    return next(e for e in store.evaluations.of_recording(recording_id) if e.is_current)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rule_filter_lists_what_the_findings_say(request, backend, kolkata):
    store = Store(request.getfixturevalue(f"{backend}_url"))
    path = RUBRICS / "telecom-data-upgrade.yaml"
    rubric = load_rubric(path)
    store.rubrics.save(rubric, path.read_text(encoding="utf-8"))  # reviews check against it
    recordings = []
    for i in range(18):
        agent = f"A{1 + i % 3}"
        # three calls share a call time: the id breaks the tie
        when = datetime(2026, 11, 20, 9, 0) + timedelta(minutes=47 * (i // 3 * 3 if i < 3 else i))
        meta = CallMetadata(agent_id=agent, project="q" if agent == "A3" else "p", call_time=when)
        utts = KINDS[i % len(KINDS)]
        recordings.append(
            store.recordings.save_transcript(
                f"{i:064x}", f"c{i}.wav", meta, 30.0 + i, 2, "stereo", "x", utts
            )
        )
    _stored(store, rubric, recordings)
    assert assert_same(store) >= 10
    with store.session() as s:
        assert s.exec(select(CostlyRule).where(~CostlyRule.flagged_sql(LOW))).first(), (
            "no costly rule of a call that is not flagged: the flag filter goes untested"
        )

    # Reviews: a costly finding confirmed, one overturned, a met one made costly, an added
    # finding, a grade overridden to pass and one to fail; and a review task done.
    evs = {r.id: _current(store, r.id) for r in recordings}
    rude = [evs[r.id] for r in recordings if store.recordings.utterances(r.id) == RUDE]
    short = [evs[r.id] for r in recordings if store.recordings.utterances(r.id) == SHORT]
    good = [evs[r.id] for r in recordings if store.recordings.utterances(r.id) == GOOD]
    with store.session() as s:
        f = _finding(store, rude[0].id, costly=True)
        create_review(s, rude[0].id, ReviewRequest("finding", "confirm", finding_id=f.id), "r1")
        f = _finding(store, rude[1].id, costly=True)
        good_status = next(v for v in allowed_statuses(f.category) if v not in COSTLY)
        overturn = create_review(
            s,
            rude[1].id,
            ReviewRequest("finding", "override", finding_id=f.id, value=good_status, comment="ok"),
            "r1",
        )
        met = _finding(store, good[0].id, costly=False)
        bad = next(v for v in allowed_statuses(met.category) if v in COSTLY)
        create_review(
            s,
            good[0].id,
            ReviewRequest("finding", "override", finding_id=met.id, value=bad, comment="missed"),
            "r2",
        )
        create_review(
            s,
            good[1].id,
            ReviewRequest(
                "finding",
                "add",
                rule_id="rude",
                value=addable_statuses("attitude_error")[0],
                start=0.5,
                end=2.0,
                comment="heard it",
            ),
            "r2",
        )
        create_review(
            s,
            short[0].id,
            ReviewRequest("grade", "override", value="pass", comment="fine"),
            "r1",
        )
        create_review(
            s,
            good[2].id,
            ReviewRequest("grade", "override", value="fail", comment="bad"),
            "r1",
        )
        task = ReviewTask(
            recording_id=rude[2].recording_id,
            evaluation_id=rude[2].id,
            reason=TaskReason.RANDOM,
            assignee="r1",
            state=TaskState.ASSIGNED,
        )
        s.add(task)
        s.flush()
        complete(s, task.id, "r1")
        s.commit()
    assert assert_same(store) >= 10

    # The same version stored again (a rescore): rows replaced, reviews laid over again.
    _stored(store, rubric, recordings)
    assert_same(store)

    # A stricter version 2 rescores half the calls: those change their current evaluation.
    strict = rubric.model_copy(
        update={"version": 2, "scoring": rubric.scoring.model_copy(update={"pass_score": 99})}
    )
    _stored(store, rubric, recordings[::2], version=strict)
    assert_same(store)

    # An appeal of a costly finding, overturned by the assigned reviewer; a withdrawal.
    target = _current(store, recordings[1].id)
    f = _finding(store, target.id, costly=True)
    with store.session() as s:
        appeal = appeals.file_appeal(
            s,
            appeals.Appellant("A2", None),
            target.id,
            "finding",
            "I was not rude",
            timedelta(days=30),
            finding_id=f.id,
        )
        appeals.assign(s, appeal.id, "r3", "boss")
        appeals.rule(s, appeal.id, "r3", "overturned", "not rude in context")
        withdraw_review(s, overturn.id, "r1")
        s.commit()
    assert_same(store)

    # New metadata: another agent, project and day for one call.
    store.recordings.update_metadata(
        recordings[4].id,
        CallMetadata(agent_id="A3", project="q", call_time=datetime(2026, 11, 23, 16, 20)),
    )
    assert assert_same(store) >= 10

    # Rows lost by hand come back with `qa-service rebuild-rollups`.
    with store.session() as s:
        s.execute(delete(CostlyRule))
        s.commit()
    assert not table_rows(store)
    store.evaluations.rebuild_rollups()
    assert assert_same(store) >= 10
