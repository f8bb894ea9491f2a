"""Agents' appeals (申诉): an agent (or their team lead) disputes a grade or a finding of one of
their calls; a QA manager assigns the appeal to a reviewer; the reviewer rules, and the ruling
is a review like any other (qa_service.review.reviews), marked as the appeal's, that decides
over every other review of the same thing from then on.

Invariants:
- at most one open appeal (filed or assigned) per thing disputed (call, rubric id, target,
  rule, span), and none once a ruling on it stands;
- an appeal is filed within QA_APPEAL_WINDOW_DAYS of the evaluation it disputes, only for a
  call of the caller's agents, only against a result that costs the agent (a fail grade, a
  missed point, a violation, an unhandled objection);
- the reviewer ruling is neither the one who made the contested decision nor the one who
  filed; only the assigned reviewer rules, once;
- overturned, the ruling sets the good status (or the grade the reviewer gives); upheld, it
  confirms the contested one. Either way it survives rescoring and moves the reviewed score,
  the KPIs, the rollups and rule precision, as every review does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from qa_service.domain.enums import COSTLY, AppealState, FindingSource, Grade
from qa_service.exceptions import AppealConflict, AppealError, AppealNotFound
from qa_service.i18n import codes, message, name_of
from qa_service.review.reviews import (
    ReviewRequest,
    allowed_statuses,
    create_review,
    current_of,
    span_of,
    stored_catalog,
    thing_key,
)
from qa_service.storage.tables import Appeal, Evaluation, FindingRow, Review, utcnow

MACHINE = "machine"


@dataclass(frozen=True)
class Appellant:
    """Who files: their name as the trail shows it, and the agents whose calls they may
    appeal (None: any, for an admin filing on an agent's behalf)."""

    name: str
    agents: frozenset[str] | None


def _disputed_key(a: Appeal) -> tuple:
    """The appeal's thing disputed, keyed as reviews key it."""
    return thing_key(a.target, a.rubric_version, False, a.rule_id, a.category, a.start, a.end)


def _deciding_review(session: Session, review_id: int | None) -> Review | None:
    return session.get(Review, review_id) if review_id is not None else None


def file_appeal(
    session: Session,
    who: Appellant,
    evaluation_id: int,
    target: str,
    reason: str,
    window: timedelta,
    finding_id: int | None = None,
    now: datetime | None = None,
) -> Appeal:
    now = now or utcnow()
    ev = session.get(Evaluation, evaluation_id)
    if ev is None or (who.agents is not None and ev.agent_id not in who.agents):
        raise AppealNotFound(message("no evaluation {id}", id=evaluation_id))
    reason = (reason or "").strip()
    if not reason:
        raise AppealError(message("an appeal needs its reason (what the agent says happened)"))
    if now - ev.created_at > window:
        raise AppealConflict(
            message(
                "the appeal window of evaluation {id} has closed: appeals are filed within "
                "{days:g} days of scoring (scored {when})",
                id=evaluation_id,
                days=window.total_seconds() / 86400,
                when=f"{ev.created_at:%Y-%m-%d %H:%M} UTC",
            )
        )
    appeal = Appeal(
        evaluation_id=ev.id,
        recording_id=ev.recording_id,
        rubric_id=ev.rubric_id,
        rubric_version=ev.rubric_version,
        agent_id=ev.agent_id,
        project=ev.project,
        target=target,
        contested_value="",
        contested_by=MACHINE,
        reason=reason,
        filed_by=who.name,
        filed_at=now,
    )
    if target == "grade":
        if ev.effective_grade != Grade.FAIL:
            raise AppealError(
                message(
                    "evaluation {id} is graded {grade}: only a fail grade is appealed (a finding "
                    "that costs points is appealed on its own)",
                    id=evaluation_id,
                    grade=name_of(ev.effective_grade),
                )
            )
        appeal.contested_value = ev.effective_grade
        grade_review = session.exec(
            select(Review)
            .where(
                Review.recording_id == ev.recording_id,
                Review.rubric_id == ev.rubric_id,
                Review.target == "grade",
                Review.rubric_version == ev.rubric_version,
                Review.withdrawn_at.is_(None),
            )
            .order_by(Review.id.desc())
        ).first()
        if grade_review is not None and ev.reviewed_grade is not None:
            appeal.contested_by = grade_review.reviewer
    elif target == "finding":
        finding = session.get(FindingRow, finding_id) if finding_id is not None else None
        if finding is None or finding.evaluation_id != ev.id:
            raise AppealNotFound(
                message(
                    "no finding {finding} in evaluation {evaluation}",
                    finding=finding_id,
                    evaluation=evaluation_id,
                )
            )
        if finding.source != FindingSource.MACHINE:
            raise AppealError(
                message(
                    "finding {finding} was added by a reviewer: appeal the call's grade, or ask "
                    "the QA manager to have the addition withdrawn",
                    finding=finding_id,
                )
            )
        appeal.rule_id, appeal.category = finding.rule_id, finding.category
        appeal.start, appeal.end = span_of(finding.evidence)
        appeal.contested_value = finding.effective_status
        decided = _deciding_review(session, finding.review_id)
        if decided is not None:
            appeal.contested_by = decided.reviewer
    else:
        raise AppealError(
            message("{field} must be {a} or {b}", field="target", a="grade", b="finding")
        )
    _no_other(session, appeal, target)
    if target == "finding" and appeal.contested_value not in COSTLY:
        raise AppealError(
            message(
                "finding {finding} is {status}: it costs nothing to appeal",
                finding=finding_id,
                status=name_of(appeal.contested_value),
            )
        )
    session.add(appeal)
    session.flush()
    return appeal


def _no_other(session: Session, appeal: Appeal, target: str) -> None:
    """One open appeal per thing disputed, and none after its ruling."""
    key = _disputed_key(appeal)
    for other in session.exec(
        select(Appeal).where(
            Appeal.recording_id == appeal.recording_id, Appeal.rubric_id == appeal.rubric_id
        )
    ).all():
        if _disputed_key(other) != key:
            continue
        if AppealState(other.state).open:
            raise AppealConflict(
                message(
                    "appeal {id} on the same {target} is open already ({state})",
                    id=other.id,
                    target=name_of(target),
                    state=name_of(other.state),
                )
            )
        raise AppealConflict(
            message(
                "appeal {id} on the same {target} was ruled {state} on {day}: the ruling is final",
                id=other.id,
                target=name_of(target),
                state=name_of(other.state),
                day=f"{other.ruled_at:%Y-%m-%d}",
            )
        )


def get_appeal(session: Session, appeal_id: int, agents: frozenset[str] | None) -> Appeal:
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or (agents is not None and appeal.agent_id not in agents):
        raise AppealNotFound(message("no appeal {id}", id=appeal_id))
    return appeal


def assign(session: Session, appeal_id: int, reviewer: str, by: str) -> Appeal:
    """The QA manager's step: who rules. Never the one whose decision is contested, nor the
    one who filed."""
    appeal = get_appeal(session, appeal_id, None)
    if not AppealState(appeal.state).open:
        raise AppealConflict(
            message(
                "appeal {id} was ruled {state} already", id=appeal_id, state=name_of(appeal.state)
            )
        )
    if reviewer in (appeal.contested_by, appeal.filed_by):
        raise AppealError(
            message(
                "{who} made the contested decision or filed the appeal: assign another reviewer",
                who=reviewer,
            )
        )
    appeal.assigned_to, appeal.assigned_by, appeal.assigned_at = reviewer, by, utcnow()
    appeal.state = AppealState.ASSIGNED
    session.add(appeal)
    session.flush()
    return appeal


def rule(
    session: Session,
    appeal_id: int,
    reviewer: str,
    decision: str,
    comment: str,
    grade: str | None = None,
) -> Appeal:
    """The assigned reviewer's final ruling, kept as the review that decides from now on."""
    appeal = get_appeal(session, appeal_id, None)
    state = AppealState(appeal.state)
    if not state.open:
        raise AppealConflict(
            message(
                "appeal {id} was ruled {state} already: it is final",
                id=appeal_id,
                state=name_of(appeal.state),
            )
        )
    if state != AppealState.ASSIGNED or appeal.assigned_to != reviewer:
        raise AppealConflict(
            message(
                "appeal {id} is assigned to {who}: only the assigned reviewer rules on it",
                id=appeal_id,
                who=appeal.assigned_to or message("nobody yet"),
            )
        )
    if decision not in (AppealState.UPHELD, AppealState.OVERTURNED):
        raise AppealError(
            message("{field} must be {a} or {b}", field="decision", a="upheld", b="overturned")
        )
    comment = (comment or "").strip()
    if not comment:
        raise AppealError(message("a ruling needs its comment (what the reviewer heard)"))
    appealed = session.get(Evaluation, appeal.evaluation_id)
    assert appealed is not None  # evaluations are kept, never deleted
    ev = current_of(session, appealed)
    if appeal.target == "grade":
        if decision == AppealState.OVERTURNED:
            if grade not in Grade.values() or grade in (Grade.FAIL, Grade.NO_SPEECH):
                raise AppealError(
                    message(
                        "an overturned grade appeal gives the call's grade: {grades}",
                        grades=codes(
                            g for g in Grade.values() if g not in (Grade.FAIL, "no_speech")
                        ),
                    )
                )
            request = ReviewRequest("grade", "override", value=grade, comment=comment)
        else:
            request = ReviewRequest("grade", "override", value=Grade.FAIL, comment=comment)
    else:
        finding = _finding_now(session, ev, appeal)
        good, bad = _good_and_bad(finding.category)
        value = good if decision == AppealState.OVERTURNED else bad
        request = ReviewRequest(
            "finding", "override", finding_id=finding.id, value=value, comment=comment
        )
    review = create_review(session, ev.id, request, reviewer, appeal_id=appeal.id)
    appeal.state = AppealState(decision)
    appeal.ruled_by, appeal.ruled_at, appeal.ruling_comment = reviewer, utcnow(), comment
    appeal.review_id = review.id
    session.add(appeal)
    session.flush()
    return appeal


def _good_and_bad(category: str | None) -> tuple[str, str]:
    statuses = allowed_statuses(category or "")
    bad = next(s for s in statuses if s in COSTLY)
    return next(s for s in statuses if s != bad), bad


def _finding_now(session: Session, ev: Evaluation, appeal: Appeal) -> FindingRow:
    rows = session.exec(
        select(FindingRow).where(
            FindingRow.evaluation_id == ev.id,
            FindingRow.rule_id == appeal.rule_id,
            FindingRow.source == FindingSource.MACHINE,
        )
    ).all()
    if not rows:
        raise AppealConflict(
            message(
                "the call's current evaluation {id} has no finding of rule {rule} any more (the "
                "rubric changed): the appeal has nothing left to rule on",
                id=ev.id,
                rule=repr(appeal.rule_id),
            )
        )
    span = (appeal.start, appeal.end)
    return max(rows, key=lambda f: -abs((span_of(f.evidence)[0] or 0) - (span[0] or 0)))


def mark_seen(session: Session, appeal_id: int, agents: frozenset[str] | None) -> Appeal:
    appeal = get_appeal(session, appeal_id, agents)
    if AppealState(appeal.state).open:
        raise AppealConflict(message("appeal {id} has no ruling yet", id=appeal_id))
    if appeal.seen_at is None:
        appeal.seen_at = utcnow()
        session.add(appeal)
        session.flush()
    return appeal


@dataclass
class AppealRates:
    """Appeals against one rule, one reviewer's decisions or one agent's calls."""

    key: str
    appeals: int = 0
    ruled: int = 0
    overturned: int = 0
    calls: int = 0  # calls scored in the period (per rule: calls with the rule's finding)
    name: str = ""  # per rule: the rule's name in the newest rubric version appealed
    recordings: set[int] = field(default_factory=set)  # the calls appealed

    @property
    def appealed_calls(self) -> int:
        return len(self.recordings)

    @property
    def appealed_call_rate(self) -> float | None:
        """Calls appealed over calls scored: at most 1 (several appeals of one call count
        once; a call scored outside the period but appealed in it is not counted twice)."""
        if not self.calls:
            return None
        return round(min(self.appealed_calls, self.calls) / self.calls, 4)

    @property
    def appeal_rate(self) -> float | None:
        return round(self.appeals / self.calls, 4) if self.calls else None

    @property
    def overturn_rate(self) -> float | None:
        return round(self.overturned / self.ruled, 4) if self.ruled else None


class RuleNames:
    """The name of an appeal's rule in its rubric version (people read names, not rule ids),
    each version's rules read once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.versions: dict[tuple[str, int], dict[str, str]] = {}

    def of(self, appeal: Appeal) -> str | None:
        if not appeal.rule_id:
            return None
        version = (appeal.rubric_id, appeal.rubric_version)
        if version not in self.versions:
            catalog = stored_catalog(self.session, *version)
            rules = catalog.rules.items() if catalog is not None else ()
            self.versions[version] = {rule_id: info.name for rule_id, info in rules if info.name}
        return self.versions[version].get(appeal.rule_id)


def appeal_rates(
    session: Session,
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, list[AppealRates]]:
    """Appeal rate (appeals per call) and overturn rate (overturned per ruling), per rule, per
    reviewer whose decision was contested ("machine" for the machine's), and per agent, for the
    appeals filed in [since, until)."""
    q = select(Appeal)
    if project:
        q = q.where(Appeal.project == project)
    if since:
        q = q.where(Appeal.filed_at >= since)
    if until:
        q = q.where(Appeal.filed_at < until)
    tables: dict[str, dict[str, AppealRates]] = {
        "rule": {},
        "reviewer": {},
        "agent": {},
    }
    names = RuleNames(session)
    for a in session.exec(q.order_by(Appeal.id)).all():
        for table, key in (
            ("rule", a.rule_id or "grade"),
            ("reviewer", a.contested_by),
            ("agent", a.agent_id or ""),
        ):
            row = tables[table].setdefault(key, AppealRates(key))
            if table == "rule" and a.rule_id:
                row.name = names.of(a) or row.name
            row.appeals += 1
            row.recordings.add(a.recording_id)
            if not AppealState(a.state).open:
                row.ruled += 1
                row.overturned += a.state == AppealState.OVERTURNED
    calls = _calls_per_agent(session, project, since, until)
    for key, row in tables["agent"].items():
        row.calls = calls.get(key, 0)
    return {name: sorted(rows.values(), key=lambda r: r.key) for name, rows in tables.items()}


def _calls_per_agent(session: Session, project, since, until) -> dict[str, int]:
    q = (
        select(Evaluation.agent_id, func.count())
        .where(Evaluation.is_current)
        .group_by(Evaluation.agent_id)
    )
    if project:
        q = q.where(Evaluation.project == project)
    if since:
        q = q.where(Evaluation.called_at >= since)
    if until:
        q = q.where(Evaluation.called_at < until)
    out: dict[str, int] = defaultdict(int)
    for agent_id, calls in session.exec(q).all():
        out[agent_id or ""] += calls
    return out
