"""KPI and common-error rollups, kept in step with the evaluations.

Every change that moves a call's KPIs (an evaluation saved, a grade or finding reviewed, the
call's metadata changed) runs inside `tracked(session, recording_ids)`: the current
evaluations of those recordings are subtracted from the rollups before the change and added
back after it, in the same transaction. Each cell is written with one atomic
`INSERT .. ON CONFLICT DO UPDATE SET n = n + delta`, in key order, so workers adding calls to
the same agent-hour at once neither lose counts nor deadlock. `rebuild` recomputes both
rollups from the evaluations (the migration's backfill, `qa-service rebuild-rollups`).
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from qa_service.db import ErrorRollup, Evaluation, FindingRow, KpiRollup

BAD_STATUSES = ("missed", "violation", "unhandled")  # finding statuses that cost points
PASSING = ("pass", "excellent")
CELL = ("rubric_id", "project", "agent_id", "phase")
KPI_SUMS = ("evaluated", "passed", "excellent", "success", "fatal", "talk_seconds")
BadRules = dict[tuple[str, str], str]  # (rule_id, category) -> rule name


def hour_of(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def day_of(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def finding_status():
    """A reviewer's status where there is one, else the machine's."""
    return func.coalesce(FindingRow.reviewed_status, FindingRow.status)


def bad_rules(session: Session, evaluation_ids: list[int]) -> dict[int, BadRules]:
    """The rules that cost each evaluation points, one entry per rule however many findings."""
    out: dict[int, BadRules] = defaultdict(dict)
    if evaluation_ids:
        rows = session.exec(select(FindingRow.evaluation_id, FindingRow.rule_id, FindingRow.category,
                                   FindingRow.name)
                            .where(FindingRow.evaluation_id.in_(evaluation_ids),
                                   finding_status().in_(BAD_STATUSES))).all()
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
        cell = (ev.rubric_id, ev.project, ev.agent_id, ev.phase)
        grade = ev.reviewed_grade or ev.grade
        values = (1, grade in PASSING, grade == "excellent", ev.outcome == "success",
                  bool(ev.fatal), ev.duration)
        sums = self.kpi[cell + (hour_of(ev.called_at),)]
        for i, value in enumerate(values):
            sums[i] += sign * value
        day = day_of(ev.called_at)
        for (rule_id, category), name in rules.items():
            key = cell + (day, rule_id, category)
            self.errors[key] += sign
            self.names.setdefault(key, name)

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
        kpi = [dict(zip(CELL + ("hour",) + KPI_SUMS, key + tuple(sums)))
               for key, sums in sorted(self.kpi.items()) if any(sums)]
        errors = [dict(zip(CELL + ("day", "rule_id", "category", "calls", "name"),
                           key + (n, self.names[key])))
                  for key, n in sorted(self.errors.items()) if n]
        _upsert_add(session, KpiRollup, kpi, KPI_SUMS)
        _upsert_add(session, ErrorRollup, errors, ("calls",))


def _upsert_add(session: Session, model, rows: list[dict], sums: tuple[str, ...]) -> None:
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
    """Recompute both rollups from the current evaluations; returns how many were counted."""
    session.execute(delete(KpiRollup))
    session.execute(delete(ErrorRollup))
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
