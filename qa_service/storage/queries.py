"""The query pieces every reader of evaluations and rollups shares: the filter columns of
a table, the one WHERE clause for project/agent/rubric/phase/time, the SQL grouping key.

Times are compared as stored (naive UTC); a day or an hour is the call center's, which only a
rollup's keys carry.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import overload

from sqlalchemy import Integer, and_, any_, bindparam, cast, exists, false, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from qa_service.config import to_utc
from qa_service.domain.enums import COSTLY
from qa_service.storage.tables import Evaluation, FindingRow

GROUPS = ("agent", "project", "day", "hour", "rubric")


@overload
def stored_time(t: datetime) -> datetime: ...
@overload
def stored_time(t: None) -> None: ...
def stored_time(t: datetime | None) -> datetime | None:
    """A time as the database keeps it (naive UTC): one with an offset converted, a naive one
    taken as stored already (callers convert what people typed: config.to_utc)."""
    return t if t is None or t.tzinfo is None else to_utc(t)


def among(column, ids: Iterable[int], dialect: str | Session):
    """`column` IN `ids` (integer ids): on PostgreSQL one array parameter, `= ANY(...)`, which
    plans the same, where a thousand placeholders cost the driver more to parse in Python than
    the query costs the server. `dialect`: its name, or the session to read it from."""
    if isinstance(dialect, Session):
        dialect = dialect.get_bind().dialect.name
    values = sorted(set(ids))
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(Integer)))
    return column.in_(values)


def columns(model, when) -> dict:
    return {
        "agent": getattr(model, "agent_id", None),
        "project": model.project,
        "rubric": model.rubric_id,
        "phase": model.phase,
        "when": when,
    }


def tier(with_agent, without_agent, group: str, agent: str | None, agents=None):
    """The coarsest rollup that can answer: the agent tier only when agents matter."""
    return with_agent if group == "agent" or agent or agents is not None else without_agent


# Evaluations count only where current; the rollups hold nothing else.
EVALUATION = {**columns(Evaluation, Evaluation.called_at), "current": Evaluation.is_current}


def group_column(group: str, cols: dict, dialect: str):
    """The SQL grouping key. Day and hour only of a rollup, whose keys are the call center's
    day and hour; the evaluations' called_at is UTC (kpis reads their ragged ends per bucket)."""
    if group in ("agent", "project", "rubric"):
        return cols[group]
    when = cols["when"]
    if group in ("day", "hour") and when is Evaluation.called_at:
        raise ValueError("called_at is UTC: group days and hours by a rollup's keys")
    if group == "day":
        return (
            func.strftime("%Y-%m-%d", when)
            if dialect == "sqlite"
            else func.to_char(when, "YYYY-MM-DD")
        )
    if group == "hour":
        return (
            cast(func.strftime("%H", when), Integer)
            if dialect == "sqlite"
            else cast(func.extract("hour", when), Integer)
        )
    raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")


def filters(
    cols: dict = EVALUATION,
    project: str | None = None,
    agent: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rubric_id: str | None = None,
    phase: str | None = None,
    agents: Collection[str] | None = None,
):
    """The WHERE of a query over `cols` (an evaluation's or a rollup's columns). `agents`: only
    these agents' calls (a team lead's, an agent's own); an empty set matches nothing."""
    conds = []
    if agents is not None:
        conds.append(cols["agent"].in_(sorted(agents)) if agents else false())
    since, until = stored_time(since), stored_time(until)
    for name, value in (
        ("project", project),
        ("agent", agent),
        ("rubric", rubric_id),
        ("phase", phase),
    ):
        if value:
            conds.append(cols[name] == value)
    if since:
        conds.append(cols["when"] >= since)
    if until:
        conds.append(cols["when"] < until)
    if "current" in cols:
        conds.append(cols["current"])
    return and_(True, *conds)


def costly_finding(rule_id: str):
    """The evaluation has a finding of `rule_id` that costs points (reviewed status first)."""
    return exists().where(
        FindingRow.evaluation_id == Evaluation.id,
        FindingRow.rule_id == rule_id,
        FindingRow.effective_status_sql().in_(COSTLY),
    )
