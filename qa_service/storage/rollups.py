"""KPI and common-error rollups, kept in step with the evaluations.

Two tiers of each: with the agent (an agent's KPIs and errors) and without it (projects,
days, hours: a few rows per project-hour however many agents work on it). Queries read the
coarsest tier that can answer them.

Every change that moves a call's KPIs (an evaluation saved, a grade or finding reviewed, the
call's metadata changed) runs inside `tracked(session, recording_ids)`: the current
evaluations of those recordings are subtracted from the rollups before the change and added
back after it, in the same transaction (and the calls' costly_rule rows rewritten:
storage.costly_rules). Each cell is written with one atomic
`INSERT .. ON CONFLICT DO UPDATE SET n = n + delta`, in key order, so workers adding calls to
the same agent-hour at once neither lose counts nor deadlock. `rebuild` recomputes all
rollups from the evaluations (the migration's backfill, `qa-service rebuild-rollups`).

Times are stored in UTC; a cell's `hour` and `day` are the call center's wall-clock hour and
day (QA_TIMEZONE) of the call, so "the 20th" and "hour 7" are the call center's. A changed
QA_TIMEZONE needs `qa-service rebuild-rollups`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from functools import cache

from sqlalchemy import Row, and_, case, delete, exists, func
from sqlmodel import Session, select

from qa_service.config import call_center_time
from qa_service.domain.enums import COSTLY, PASSING, CallOutcome, Grade, TaskState
from qa_service.storage import costly_rules
from qa_service.storage.bulk import bulk_insert
from qa_service.storage.queries import among
from qa_service.storage.tables import (
    CostlyRule,
    ErrorRollup,
    Evaluation,
    FindingRow,
    KpiRollup,
    ProjectErrorRollup,
    ProjectKpiRollup,
    ReviewTask,
)


@dataclass
class KpiSums:
    """The KPIs of a set of calls as sums that add up across calls, hours and agents (the
    rollup tables' columns, by name): the one definition of what each KPI counts.

    机器质检合格率 machine pass rate = passed / evaluated, 监听合格率 listened pass rate =
    listened_passed / listened (calls whose review task is done, with the grade they have
    now), 质检优秀率 excellent rate = excellent / evaluated,
    外呼在线成功率 success rate = success / evaluated, 项目呼出均长 = talk_seconds / evaluated.
    A call not graded for want of speech (Grade.NO_SPEECH) counts in `no_speech` only: it is
    no evaluated call, so it moves no rate, average or common error."""

    evaluated: float = 0
    passed: float = 0  # graded pass or excellent (the reviewer's grade where there is one)
    excellent: float = 0
    success: float = 0  # outcome success
    fatal: float = 0
    talk_seconds: float = 0.0
    no_speech: float = 0
    listened: float = 0  # graded and listened to: a review task of the call is done
    listened_passed: float = 0

    @classmethod
    def of_call(
        cls, grade: str, outcome: str, fatal: bool, duration: float, listened: bool = False
    ) -> KpiSums:
        if grade == Grade.NO_SPEECH:
            return cls(no_speech=1)
        return cls(
            1,
            grade in PASSING,
            grade == Grade.EXCELLENT,
            outcome == CallOutcome.SUCCESS,
            bool(fatal),
            duration,
            listened=bool(listened),
            listened_passed=bool(listened) and grade in PASSING,
        )

    def add(self, other: KpiSums, sign: int = 1) -> KpiSums:
        for name in KPI_SUMS:
            setattr(self, name, getattr(self, name) + sign * (getattr(other, name) or 0))
        return self

    def __bool__(self) -> bool:
        return any(getattr(self, name) for name in KPI_SUMS)


KPI_SUMS = tuple(f.name for f in fields(KpiSums))


def task_done_sql(t: type[Evaluation] | type[CostlyRule] = Evaluation):
    """A review task of the call is done (`t`: the evaluation, or its copy in costly_rule):
    the calls 监听合格率 counts. Tasks are only ever made done (review/tasks.py), under
    `tracked`."""
    return exists().where(
        ReviewTask.recording_id == t.recording_id, ReviewTask.state == TaskState.DONE
    )


def kpi_sums_sql() -> list:
    """KpiSums.of_call as SQL aggregates over evaluations, labelled by field (the ragged ends
    of a time range are counted from the evaluations themselves)."""
    grade = Evaluation.effective_grade_sql()
    graded = grade != Grade.NO_SPEECH
    heard = task_done_sql()

    def count(*when) -> object:
        return func.sum(case((and_(graded, *when), 1), else_=0))

    return [
        count().label("evaluated"),
        count(grade.in_(PASSING)).label("passed"),
        count(grade == Grade.EXCELLENT).label("excellent"),
        count(Evaluation.outcome == CallOutcome.SUCCESS).label("success"),
        count(Evaluation.effective_fatal_sql()).label("fatal"),
        func.sum(case((graded, Evaluation.duration), else_=0.0)).label("talk_seconds"),
        func.sum(case((graded, 0), else_=1)).label("no_speech"),
        count(heard).label("listened"),
        count(heard, grade.in_(PASSING)).label("listened_passed"),
    ]


KPI_TABLES = (KpiRollup, ProjectKpiRollup)
ERROR_TABLES = (ErrorRollup, ProjectErrorRollup)
BadRules = dict[tuple[str, str], str]  # (rule_id, category) -> rule name


def hour_of(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def day_of(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def bad_rules(session: Session, evaluation_ids: list[int]) -> dict[int, BadRules]:
    """The rules that cost each evaluation points, one entry per rule however many findings."""
    out: dict[int, BadRules] = defaultdict(dict)
    if evaluation_ids:
        rows = session.exec(
            select(
                FindingRow.evaluation_id, FindingRow.rule_id, FindingRow.category, FindingRow.name
            ).where(
                among(FindingRow.evaluation_id, evaluation_ids, session),
                FindingRow.effective_status_sql().in_(COSTLY),
            )
        ).all()
        for evaluation_id, rule_id, category, name in rows:
            out[evaluation_id].setdefault((rule_id, category), name)
    return out


def rolled_up() -> tuple:
    """What Deltas.add reads of an evaluation, as columns named like Evaluation's attributes."""
    e = Evaluation
    return (
        e.id,
        e.rubric_id,
        e.project,
        e.agent_id,
        e.phase,
        e.outcome,
        e.duration,
        e.called_at,
        e.effective_grade_sql().label("effective_grade"),
        e.effective_fatal_sql().label("effective_fatal"),
        task_done_sql().label("listened"),
    )


class Deltas:
    """Signed changes to rollup cells, summed in memory and written with one upsert each."""

    def __init__(self) -> None:
        self.kpi: dict[tuple, KpiSums] = defaultdict(KpiSums)
        self.errors: dict[tuple, int] = defaultdict(int)
        self.names: dict[tuple, str] = {}

    def add(self, ev: Row, rules: BadRules, sign: int) -> None:
        """One evaluation (a row of rolled_up()'s columns) counted in, or out (sign -1)."""
        call = KpiSums.of_call(
            ev.effective_grade, ev.outcome, ev.effective_fatal, ev.duration, ev.listened
        )
        if ev.effective_grade == Grade.NO_SPEECH:
            rules = {}  # not graded: none of its findings is a common error
        cell, local = self.add_kpi(ev, call, sign)
        day = day_of(local)
        for (rule_id, category), name in rules.items():
            for model in ERROR_TABLES:
                key = _key(model, cell, day=day, rule_id=rule_id, category=category)
                self.errors[model, key] += sign
                self.names.setdefault((model, key), name)

    def add_kpi(self, ev: Row, sums: KpiSums, sign: int) -> tuple[dict, datetime]:
        """`sums` added to the KPI cells of the evaluation's call; its cell and the call
        center's time of the call."""
        cell = {
            "rubric_id": ev.rubric_id,
            "project": ev.project,
            "agent_id": ev.agent_id,
            "phase": ev.phase,
        }
        local = call_center_time(ev.called_at)  # the call center's hour and day of the call
        for model in KPI_TABLES:
            self.kpi[model, _key(model, cell, hour=hour_of(local))].add(sums, sign)
        return cell, local

    def add_current(
        self, session: Session, recording_ids: list[int], sign: int, lock: bool = False
    ) -> None:
        # Columns, not ORM objects: loading those was most of a rescore's rollup time.
        q = select(*rolled_up()).where(
            among(Evaluation.recording_id, recording_ids, session), Evaluation.is_current
        )
        if lock:  # a concurrent change to the same call waits, so neither reads a stale "before"
            q = q.with_for_update()
        evaluations = session.execute(q).all()
        rules = bad_rules(session, [e.id for e in evaluations])
        for ev in evaluations:
            self.add(ev, rules.get(ev.id, {}), sign)

    def apply(self, session: Session) -> None:
        # Key order is lock order: two transactions touching the same cells cannot deadlock.
        for model in KPI_TABLES:
            _upsert_add(
                session,
                model,
                KPI_SUMS,
                [{**dict(key), **asdict(sums)} for key, sums in _cells(self.kpi, model) if sums],
            )
        for model in ERROR_TABLES:
            _upsert_add(
                session,
                model,
                ("calls",),
                [
                    {**dict(key), "calls": n, "name": self.names[model, key]}
                    for key, n in _cells(self.errors, model)
                    if n
                ],
            )


def _cells(deltas: dict, model) -> list[tuple[tuple, object]]:
    """One table's cells, in primary-key order."""
    cells = [(key, value) for (m, key), value in deltas.items() if m is model]
    return sorted(cells, key=lambda cell: tuple(value for _, value in cell[0]))


def _key(model, cell: dict, **more) -> tuple:
    """A cell's key in one table: its primary-key columns, in order, with their values."""
    values = {**cell, **more}
    return tuple((name, values[name]) for name in _key_names(model))


@cache
def _key_names(model) -> tuple[str, ...]:
    """A table's primary-key column names, in order (read once: a rescore makes ten keys a
    call)."""
    return tuple(c.name for c in model.__table__.primary_key.columns)


def _upsert_add(session: Session, model, sums: tuple[str, ...], rows: list[dict]) -> None:
    if not rows:
        return
    table = model.__table__
    stmt, params = bulk_insert(session, table, rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={name: table.c[name] + stmt.excluded[name] for name in sums},
    )
    session.execute(stmt, params)


@contextmanager
def tracked(session: Session, recording_ids: Iterable[int]) -> Iterator[None]:
    """Keep the rollups right across a change to these recordings' evaluations or metadata."""
    ids = sorted(set(recording_ids))
    deltas = Deltas()
    deltas.add_current(session, ids, -1, lock=True)
    yield
    session.flush()
    deltas.add_current(session, ids, +1)
    deltas.apply(session)
    costly_rules.refresh(session, ids)  # the flagged list's rule filter reads these


def rebuild(session: Session, chunk: int = 5000) -> int:
    """Recompute every rollup table (and costly_rule) from the current evaluations; returns how
    many were counted."""
    costly_rules.rebuild(session)
    for model in KPI_TABLES + ERROR_TABLES:
        session.execute(delete(model))
    deltas, last, counted = Deltas(), 0, 0
    while True:
        evaluations = session.execute(
            select(*rolled_up())
            .where(Evaluation.is_current, Evaluation.id > last)
            .order_by(Evaluation.id)
            .limit(chunk)
        ).all()
        if not evaluations:
            break
        rules = bad_rules(session, [e.id for e in evaluations])
        for ev in evaluations:
            deltas.add(ev, rules.get(ev.id, {}), +1)
        last, counted = evaluations[-1].id, counted + len(evaluations)
    deltas.apply(session)
    return counted


def add_listened(session: Session) -> int:
    """Add to the KPI rollups the calls listened to so far (migration 0022's backfill: its
    columns start at 0, and only the calls with a done review task move them); returns how
    many evaluations were counted."""
    rows = session.execute(select(*rolled_up()).where(Evaluation.is_current, task_done_sql())).all()
    deltas = Deltas()
    for ev in rows:
        call = KpiSums.of_call(
            ev.effective_grade, ev.outcome, ev.effective_fatal, ev.duration, listened=True
        )
        deltas.add_kpi(ev, KpiSums(listened=call.listened, listened_passed=call.listened_passed), 1)
    deltas.apply(session)
    return len(rows)
