"""Agents' appeals (申诉): filed on a call, assigned by a QA manager, ruled by a reviewer; and
an agent's 已阅 of a scored call."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import select

from qa_service.api.deps import (
    Identifier,
    Manager,
    Member,
    Reviewer,
    SettingsDep,
    StoreDep,
    TimeQuery,
    Viewer,
)
from qa_service.app.people import active_reviewer
from qa_service.domain.enums import KeyRole
from qa_service.domain.schema import MAX_ROW_ID, Instant, Schema
from qa_service.exceptions import AppealError, NotFound
from qa_service.i18n import message
from qa_service.review import appeals
from qa_service.review.models import (
    AppealAssign,
    AppealIn,
    AppealOut,
    AppealRateRow,
    AppealRates,
    AppealRuling,
)
from qa_service.storage.tables import Acknowledgement, Appeal, Evaluation, utcnow

router = APIRouter(tags=["appeals"])
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


class Acknowledged(Schema):
    evaluation_id: int
    recording_id: int
    acknowledged_at: Instant


def _out(appeal: Appeal, names: appeals.RuleNames) -> AppealOut:
    return AppealOut.model_validate(appeal).model_copy(update={"rule_name": names.of(appeal)})


@router.post("/evaluations/{evaluation_id}/appeals", status_code=201, response_model=AppealOut)
def file_appeal(
    evaluation_id: RowId, body: AppealIn, store: StoreDep, settings: SettingsDep, who: Member
) -> AppealOut:
    """An agent (or their team lead) appeals the call's fail grade or a finding that costs
    points, within QA_APPEAL_WINDOW_DAYS of scoring; one open appeal per thing disputed."""
    if who.role not in (KeyRole.AGENT, KeyRole.TEAM_LEAD, KeyRole.ADMIN):
        raise AppealError(message("appeals are filed by the agent or their team lead"))
    with store.session() as s:
        appeal = appeals.file_appeal(
            s,
            appeals.Appellant(who.shown, who.agents),
            evaluation_id,
            body.target,
            body.reason,
            timedelta(days=settings.appeal_window_days),
            finding_id=body.finding_id,
        )
        s.commit()
        return _out(appeal, appeals.RuleNames(s))


@router.get("/appeals", response_model=list[AppealOut])
def list_appeals(
    store: StoreDep,
    who: Member,
    state: Annotated[str | None, Query(pattern="^(filed|assigned|upheld|overturned|open)$")] = None,
    assigned_to_me: bool = False,
    project: Identifier | None = None,
    agent: Identifier | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> list[AppealOut]:
    """Appeals, newest first: an agent's own, a team lead's team's, every one for QA staff."""
    q = select(Appeal).order_by(Appeal.id.desc()).limit(limit)
    if who.agents is not None:
        q = q.where(Appeal.agent_id.in_(sorted(who.agents)))
    if state == "open":
        q = q.where(Appeal.state.in_(["filed", "assigned"]))
    elif state:
        q = q.where(Appeal.state == state)
    if assigned_to_me:
        q = q.where(Appeal.assigned_to == who.shown)
    if project:
        q = q.where(Appeal.project == project)
    if agent:
        q = q.where(Appeal.agent_id == agent)
    with store.session() as s:
        names = appeals.RuleNames(s)
        return [_out(a, names) for a in s.exec(q).all()]


@router.get("/appeals/rates", response_model=AppealRates)
def appeal_rates(
    store: StoreDep,
    _: Viewer,
    project: Identifier | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
) -> AppealRates:
    """Appeal rate and overturn rate per rule, per contested decision's author, per agent."""
    with store.session() as s:
        tables = appeals.appeal_rates(s, project, since, until)

    def rows(name: str) -> list[AppealRateRow]:
        return [
            AppealRateRow(
                key=r.key,
                appeals=r.appeals,
                ruled=r.ruled,
                overturned=r.overturned,
                calls=r.calls,
                name=r.name or None,
                appeal_rate=r.appeal_rate,
                appealed_calls=r.appealed_calls,
                appealed_call_rate=r.appealed_call_rate,
                overturn_rate=r.overturn_rate,
            )
            for r in tables[name]
        ]

    return AppealRates(by_rule=rows("rule"), by_reviewer=rows("reviewer"), by_agent=rows("agent"))


@router.get("/appeals/{appeal_id}", response_model=AppealOut)
def get_appeal(appeal_id: RowId, store: StoreDep, who: Member) -> AppealOut:
    with store.session() as s:
        return _out(appeals.get_appeal(s, appeal_id, who.agents), appeals.RuleNames(s))


def _reviewer_named(store, name: str) -> None:
    if active_reviewer(store, name) is None:
        raise AppealError(message("{name} is no active reviewer", name=repr(name)))


@router.post("/appeals/{appeal_id}/assign", response_model=AppealOut)
def assign_appeal(appeal_id: RowId, body: AppealAssign, store: StoreDep, who: Manager) -> AppealOut:
    """The QA manager names the reviewer who rules: not the one whose decision is contested."""
    _reviewer_named(store, body.reviewer)
    with store.session() as s:
        appeal = appeals.assign(s, appeal_id, body.reviewer, who.shown)
        s.commit()
        return _out(appeal, appeals.RuleNames(s))


@router.post("/appeals/{appeal_id}/ruling", response_model=AppealOut)
def rule_appeal(appeal_id: RowId, body: AppealRuling, store: StoreDep, who: Reviewer) -> AppealOut:
    """The assigned reviewer's final ruling: overturned sets the good status (or the grade
    given), upheld confirms the contested one; it is the review that counts from now on."""
    with store.session() as s:
        try:
            appeal = appeals.rule(s, appeal_id, who.shown, body.decision, body.comment, body.grade)
        except Exception:
            s.rollback()
            raise
        s.commit()
        return _out(appeal, appeals.RuleNames(s))


@router.post("/appeals/{appeal_id}/seen", response_model=AppealOut)
def appeal_seen(appeal_id: RowId, store: StoreDep, who: Member) -> AppealOut:
    """The agent read the ruling."""
    with store.session() as s:
        appeal = appeals.mark_seen(s, appeal_id, who.agents)
        s.commit()
        return _out(appeal, appeals.RuleNames(s))


@router.post("/evaluations/{evaluation_id}/acknowledge", response_model=Acknowledged)
def acknowledge(evaluation_id: RowId, store: StoreDep, who: Member) -> Acknowledged:
    """已阅: the agent saw the call's score and findings."""
    if who.user_id is None or who.role != KeyRole.AGENT:
        raise AppealError(
            message("marking as read is an agent's acknowledgement of their own call")
        )
    with store.session() as s:
        ev = s.get(Evaluation, evaluation_id)
        if ev is None or not who.sees_agent(ev.agent_id):
            raise NotFound(message("no evaluation {id}", id=evaluation_id))
        row = s.get(Acknowledgement, (ev.recording_id, who.user_id))
        if row is None:
            row = Acknowledgement(
                recording_id=ev.recording_id, user_id=who.user_id, evaluation_id=ev.id
            )
        row.evaluation_id, row.acknowledged_at = ev.id, utcnow()
        s.add(row)
        s.commit()
        return Acknowledged(
            evaluation_id=ev.id, recording_id=ev.recording_id, acknowledged_at=row.acknowledged_at
        )
