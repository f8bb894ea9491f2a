"""KPI and common-error rollups, kept in step with the evaluations.

Two tiers of each: with the agent (an agent's KPIs and errors) and without it (projects,
days, hours: a few rows per project-hour however many agents work on it). Queries read the
coarsest tier that can answer them.

Every change that moves a call's KPIs (an evaluation saved, a grade or finding reviewed, the
call's metadata changed) runs inside `tracked(session, recording_ids)`: the current
evaluations of those recordings are subtracted from the rollups before the change and added
back after it, in the same transaction. Each cell is written with one atomic
`INSERT .. ON CONFLICT DO UPDATE SET n = n + delta`, in key order, so workers adding calls to
the same agent-hour at once neither lose counts nor deadlock. `rebuild` recomputes all
rollups from the evaluations (the migration's backfill, `qa-service rebuild-rollups`).
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from qa_service.db import (
    ErrorRollup, Evaluation, FindingRow, KpiRollup, ProjectErrorRollup, ProjectKpiRollup,
)
from qa_service.enums import COSTLY, PASSING, CallOutcome, Grade

KPI_SUMS = ("evaluated", "passed", "excellent", "success", "fatal", "talk_seconds")
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
        rows = session.exec(select(FindingRow.evaluation_id, FindingRow.rule_id, FindingRow.category,
                                   FindingRow.name)
                            .where(FindingRow.evaluation_id.in_(evaluation_ids),
                                   FindingRow.effective_status_sql().in_(COSTLY))).all()
        for evaluation_id, rule_id, category, name in rows:
            out[evaluation_id].setdefault((rule_id, category), name)
    return out


class Deltas:
    """Signed changes to rollup cells, summed in memory and written with one upsert each."""

    def __init__(self) -> None:
        self.kpi: dict[tuple, list[float]] = defaultdict(lambda: [0] * len(KPI_SUMS))
        self.errors: dict[tuple, int] = defaultdict(int)
        self.names: dict[tuple, str] = {}

    def add(self, ev: Evaluation, rules: BadRules, sign: int) -> None:
        cell = {"rubric_id": ev.rubric_id, "project": ev.project, "agent_id": ev.agent_id,
                "phase": ev.phase}
        grade = ev.effective_grade
        values = (1, grade in PASSING, grade == Grade.EXCELLENT, ev.outcome == CallOutcome.SUCCESS,
                  bool(ev.effective_fatal), ev.duration)
        for model in KPI_TABLES:
            sums = self.kpi[model, _key(model, cell, hour=hour_of(ev.called_at))]
            for i, value in enumerate(values):
                sums[i] += sign * value
        day = day_of(ev.called_at)
        for (rule_id, category), name in rules.items():
            for model in ERROR_TABLES:
                key = _key(model, cell, day=day, rule_id=rule_id, category=category)
                self.errors[model, key] += sign
                self.names.setdefault((model, key), name)

    def add_current(self, session: Session, recording_ids: list[int], sign: int,
                    lock: bool = False) -> None:
        q = select(Evaluation).where(Evaluation.recording_id.in_(recording_ids), Evaluation.is_current)
        if lock:  # a concurrent change to the same call waits, so neither reads a stale "before"
            q = q.with_for_update()
        evaluations = session.exec(q).all()
        rules = bad_rules(session, [e.id for e in evaluations])
        for ev in evaluations:
            self.add(ev, rules.get(ev.id, {}), sign)

    def apply(self, session: Session) -> None:
        # Key order is lock order: two transactions touching the same cells cannot deadlock.
        for model in KPI_TABLES:
            _upsert_add(session, model, KPI_SUMS, [
                {**dict(key), **dict(zip(KPI_SUMS, sums))}
                for key, sums in _cells(self.kpi, model) if any(sums)])
        for model in ERROR_TABLES:
            _upsert_add(session, model, ("calls",), [
                {**dict(key), "calls": n, "name": self.names[model, key]}
                for key, n in _cells(self.errors, model) if n])


def _cells(deltas: dict, model) -> list[tuple[tuple, object]]:
    """One table's cells, in primary-key order."""
    cells = [(key, value) for (m, key), value in deltas.items() if m is model]
    return sorted(cells, key=lambda cell: tuple(value for _, value in cell[0]))


def _key(model, cell: dict, **more) -> tuple:
    """A cell's key in one table: its primary-key columns, in order, with their values."""
    values = {**cell, **more}
    return tuple((c.name, values[c.name]) for c in model.__table__.primary_key.columns)


def _upsert_add(session: Session, model, sums: tuple[str, ...], rows: list[dict]) -> None:
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = model.__table__
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={name: table.c[name] + stmt.excluded[name] for name in sums})
    session.execute(stmt, rows)


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


def rebuild(session: Session, chunk: int = 5000) -> int:
    """Recompute every rollup table from the current evaluations; returns how many were counted."""
    for model in KPI_TABLES + ERROR_TABLES:
        session.execute(delete(model))
    deltas, last, counted = Deltas(), 0, 0
    while True:
        evaluations = session.exec(select(Evaluation).where(Evaluation.is_current, Evaluation.id > last)
                                   .order_by(Evaluation.id).limit(chunk)).all()
        if not evaluations:
            break
        rules = bad_rules(session, [e.id for e in evaluations])
        for ev in evaluations:
            deltas.add(ev, rules.get(ev.id, {}), +1)
        last, counted = evaluations[-1].id, counted + len(evaluations)
        session.expunge_all()  # a million evaluations need not stay in the identity map
    deltas.apply(session)
    return counted
