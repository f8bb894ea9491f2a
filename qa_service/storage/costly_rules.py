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
from qa_service.storage.tables import CostlyRule, Evaluation, FindingRow

# CostlyRule's columns, in the order _current_costly selects them.
COLUMNS = (
    "evaluation_id",
    "rule_id",
    "recording_id",
    "project",
    "agent_id",
    "called_at",
    "grade",
    "reviewed_grade",
    "fatal",
    "reviewed_fatal",
    "asr_confidence",
)


def _current_costly(*where):
    """The rows of the current evaluations (those `where` keeps): each rule once, however
    many of its findings cost points."""
    e = Evaluation
    return (
        select(
            e.id,
            FindingRow.rule_id,
            e.recording_id,
            e.project,
            e.agent_id,
            e.called_at,
            e.grade,
            e.reviewed_grade,
            e.fatal,
            e.reviewed_fatal,
            e.asr_confidence,
        )
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
