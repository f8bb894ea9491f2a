"""The costly_rule table (tables.CostlyRule), kept in step with the evaluations.

`/flagged?rule=R` lists the current flagged calls with a finding of R that costs points
(reviewed status first), newest first. Asked of the evaluations, it probes the findings of
every flagged call until it has counted enough (decisions 0025, 0027); this table holds one row
per current evaluation and costly rule, with the evaluation's filter and flag columns, so an
index walk within the rule answers it (decision 0029).

One SELECT (`_current_costly`) defines the rows, for one call or for all: `refresh` rewrites
the rows of some recordings, and `rollups.tracked` runs it after every change that could move
them (an evaluation stored or made current, a review or a withdrawal laid over the findings and
grade, the call's metadata), in the same transaction; `rebuild` writes every row.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert
from sqlmodel import Session, select

from qa_service.domain.enums import COSTLY
from qa_service.storage.queries import among
from qa_service.storage.tables import FLAG_COLUMNS, CostlyRule, Evaluation, FindingRow

# CostlyRule's columns after the evaluation and the rule: copies of the evaluation's own.
COPIED = ("recording_id", "project", "agent_id", "called_at", *FLAG_COLUMNS)
COLUMNS = ("evaluation_id", "rule_id", *COPIED)


def _current_costly(*where):
    """The rows of the current evaluations (those `where` keeps), in COLUMNS' order: each rule
    once, however many of its findings cost points."""
    e = Evaluation
    return (
        select(e.id, FindingRow.rule_id, *(getattr(e, name) for name in COPIED))
        .join(FindingRow, FindingRow.evaluation_id == e.id)
        .where(e.is_current, FindingRow.effective_status_sql().in_(COSTLY), *where)
        .distinct()
    )


def refresh(session: Session, recording_ids: Iterable[int]) -> None:
    """Rewrite these recordings' rows from their evaluations as they are now (in the caller's
    transaction, after its changes are flushed)."""
    ids = sorted(set(recording_ids))
    if not ids:
        return
    of_these = among(Evaluation.recording_id, ids, session)
    of_calls = select(Evaluation.id).where(of_these)
    session.execute(delete(CostlyRule).where(CostlyRule.evaluation_id.in_(of_calls)))
    session.execute(insert(CostlyRule).from_select(COLUMNS, _current_costly(of_these)))


def rebuild(session: Session) -> None:
    """Every row again, from the current evaluations."""
    session.execute(delete(CostlyRule))
    session.execute(insert(CostlyRule).from_select(COLUMNS, _current_costly()))
