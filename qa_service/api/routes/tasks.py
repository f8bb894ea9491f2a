"""Sampling plans (抽检计划) and review tasks (复核任务): what people listen to, and who."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import ValidationError
from sqlmodel import select

from qa_service.api.deps import (
    DayQuery,
    Identifier,
    Manager,
    Reviewer,
    SettingsDep,
    StoreDep,
    TimeQuery,
)
from qa_service.app.people import active_reviewer
from qa_service.config import call_center_time
from qa_service.domain.enums import KeyRole
from qa_service.domain.schema import MAX_ROW_ID
from qa_service.exceptions import TaskError, TaskNotFound
from qa_service.i18n import message
from qa_service.review import tasks
from qa_service.review.models import PlanIn, PlanOut, PlanRunOut, ReviewerLoadOut, TaskOut
from qa_service.storage.tables import ReviewTask, SamplingPlan, utcnow

router = APIRouter(tags=["review tasks"])
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def task_out(t: ReviewTask) -> TaskOut:
    return TaskOut(
        id=t.id,
        recording_id=t.recording_id,
        evaluation_id=t.evaluation_id,
        project=t.project,
        agent_id=t.agent_id,
        call_time=t.called_at,
        plan_id=t.plan_id,
        run=t.run,
        reason=t.reason,
        state=tasks.shown_state(t),
        assignee=t.assignee,
        due_at=t.due_at,
        done_at=t.done_at,
        done_by=t.done_by,
        grade=t.grade,
    )


def _checked(body: PlanIn, store) -> tuple[dict, list[dict]]:
    try:
        criteria = tasks.PlanCriteria.model_validate(body.criteria).model_dump()
        quotas = [tasks.ReviewerQuota.model_validate(r).model_dump() for r in body.reviewers]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise TaskError(message("the plan is not valid: {problems}", problems=problems)) from None
    for q in quotas:
        if active_reviewer(store, q["name"]) is None:
            raise TaskError(message("{name} is no active reviewer", name=repr(q["name"])))
    return criteria, quotas


@router.post("/plans", status_code=201, response_model=PlanOut)
def create_plan(body: PlanIn, store: StoreDep, who: Manager) -> PlanOut:
    criteria, quotas = _checked(body, store)
    with store.session() as s:
        plan = SamplingPlan(
            **body.model_dump(exclude={"criteria", "reviewers"}),
            criteria=criteria,
            reviewers=quotas,
            created_by=who.shown,
        )
        s.add(plan)
        s.commit()
        s.refresh(plan)
        return PlanOut.model_validate(plan)


@router.get("/plans", response_model=list[PlanOut])
def list_plans(store: StoreDep, _: Reviewer, project: Identifier | None = None) -> list[PlanOut]:
    with store.session() as s:
        q = select(SamplingPlan).order_by(SamplingPlan.id)
        if project:
            q = q.where(SamplingPlan.project == project)
        return [PlanOut.model_validate(p) for p in s.exec(q).all()]


@router.put("/plans/{plan_id}", response_model=PlanOut)
def change_plan(plan_id: RowId, body: PlanIn, store: StoreDep, _: Manager) -> PlanOut:
    criteria, quotas = _checked(body, store)
    with store.session() as s:
        plan = s.get(SamplingPlan, plan_id)
        if plan is None:
            raise TaskNotFound(message("no sampling plan {id}", id=plan_id))
        for name, value in body.model_dump(exclude={"criteria", "reviewers"}).items():
            setattr(plan, name, value)
        plan.criteria, plan.reviewers = criteria, quotas
        s.add(plan)
        s.commit()
        s.refresh(plan)
        return PlanOut.model_validate(plan)


@router.post("/plans/{plan_id}/run", response_model=PlanRunOut)
def run_plan(
    plan_id: RowId,
    store: StoreDep,
    settings: SettingsDep,
    _: Manager,
    day: DayQuery = None,
) -> PlanRunOut:
    """Make the plan's tasks now for the period holding `day` (the call center's date; today
    if not given). Running it again adds only calls it did not pick before."""
    with store.session() as s:
        plan = s.get(SamplingPlan, plan_id)
        if plan is None:
            raise TaskNotFound(message("no sampling plan {id}", id=plan_id))
        run = tasks.run_plan(
            s, plan, day or call_center_time(utcnow()).date(), settings.low_confidence
        )
        s.commit()
        return PlanRunOut(
            run=run.run,
            candidates=run.candidates,
            created=len(run.created),
            by_reason=run.by_reason,
            by_reviewer=run.by_reviewer,
            tasks=[task_out(t) for t in run.created],
        )


@router.get("/tasks", response_model=list[TaskOut])
def list_tasks(
    store: StoreDep,
    who: Reviewer,
    mine: bool = True,
    state: Annotated[
        str | None, Query(pattern="^(unassigned|assigned|in_progress|done|overdue)$")
    ] = None,
    project: Identifier | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> list[TaskOut]:
    """The task queue: mine (and unassigned ones) first, by due time; `mine=false` (QA
    managers) every reviewer's."""
    reviewer = who.shown if mine or not who.can(KeyRole.MANAGER) else None
    with store.session() as s:
        return [task_out(t) for t in tasks.task_list(s, reviewer, state, project, limit)]


@router.get("/tasks/workload", response_model=list[ReviewerLoadOut])
def workload(
    store: StoreDep,
    _: Manager,
    project: Identifier | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
) -> list[ReviewerLoadOut]:
    """Backlog (open, overdue) and throughput (done in the period) per reviewer."""
    with store.session() as s:
        return [ReviewerLoadOut(**vars(r)) for r in tasks.workload(s, project, since, until)]


def _step(store, task_id: int, step) -> TaskOut:
    with store.session() as s:
        task = step(s, task_id)
        s.commit()
        return task_out(task)


@router.post("/tasks/{task_id}/claim", response_model=TaskOut)
def claim(task_id: RowId, store: StoreDep, who: Reviewer) -> TaskOut:
    manager = who.can(KeyRole.MANAGER)
    return _step(store, task_id, lambda s, t: tasks.claim(s, t, who.shown, manager))


@router.post("/tasks/{task_id}/release", response_model=TaskOut)
def release(task_id: RowId, store: StoreDep, who: Reviewer) -> TaskOut:
    manager = who.can(KeyRole.MANAGER)
    return _step(store, task_id, lambda s, t: tasks.release(s, t, who.shown, manager))


@router.post("/tasks/{task_id}/done", response_model=TaskOut)
def done(task_id: RowId, store: StoreDep, who: Reviewer) -> TaskOut:
    """已复核: the call was listened to; it counts in 监听合格率 with the grade it has."""
    manager = who.can(KeyRole.MANAGER)
    return _step(store, task_id, lambda s, t: tasks.complete(s, t, who.shown, manager))


@router.post("/evaluations/{evaluation_id}/listened", response_model=TaskOut)
def listened(evaluation_id: RowId, store: StoreDep, who: Reviewer) -> TaskOut:
    """Mark a call listened to from any queue: its open task done, or a manual one made."""
    manager = who.can(KeyRole.MANAGER)
    return _step(store, evaluation_id, lambda s, e: tasks.listened(s, e, who.shown, manager))


@router.post("/tasks/{task_id}/assign", response_model=TaskOut)
def assign(task_id: RowId, store: StoreDep, _: Manager, reviewer: Identifier) -> TaskOut:
    if active_reviewer(store, reviewer) is None:
        raise TaskError(message("{name} is no active reviewer", name=repr(reviewer)))
    return _step(store, task_id, lambda s, t: tasks.assign_task(s, t, reviewer))
