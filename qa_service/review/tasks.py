"""Sampling plans (抽检计划) and the review tasks (复核任务) they make.

A plan says, per project, which calls people listen to: every fatal call, low recognition
confidence, score bands, duration bands, a random share, at least N calls per agent per day or
week; and who listens, each reviewer with a quota per period. Running it for a period picks
the calls (each once, for the first criterion that picks it) and makes tasks, assigned within
the quotas (the least loaded reviewer first; beyond every quota a task waits unassigned,
待分配). Reviewers claim (复核中), release and complete (已复核) them; an open task past its due
time is overdue (逾期). A call counts as listened to (监听) once its task is done.

Invariants:
- at most one open task per recording; a plan run (plan, period) makes its tasks once: running
  it again adds only calls it did not pick before;
- the random share is reproducible and auditable: a call is in it when its rank under the
  plan's seed and the period (queues.sample_rank) is below percent/100 of the rank range, so
  anyone can recompute which calls it picked;
- only the assignee completes a task (a QA manager may complete or reassign any).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, select

from qa_service.config import to_utc
from qa_service.domain.enums import TaskReason, TaskState
from qa_service.domain.sampling import SAMPLE_PRIME, sample_rank
from qa_service.exceptions import TaskConflict, TaskNotFound
from qa_service.i18n import message
from qa_service.storage.rollups import tracked
from qa_service.storage.tables import Evaluation, ReviewTask, SamplingPlan, utcnow


class PlanCriteria(BaseModel):
    """What a plan picks (checked when a plan is stored)."""

    fatal: bool = True  # every call with a fatal finding
    low_confidence: bool = True  # every call whose recognition is doubtful
    score_bands: list[tuple[float, float]] = Field(default_factory=list, max_length=20)
    duration_bands: list[tuple[float, float]] = Field(default_factory=list, max_length=20)
    random_percent: float = Field(default=0.0, ge=0, le=100)
    min_per_agent: int = Field(default=0, ge=0, le=1000)
    per: Literal["day", "week"] = "day"

    @field_validator("score_bands", "duration_bands")
    @classmethod
    def _ordered(cls, bands: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for lo, hi in bands:
            if not lo < hi:
                raise ValueError(
                    message("a band is [low, high) with low < high, not [{lo}, {hi})", lo=lo, hi=hi)
                )
        return bands


class ReviewerQuota(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    quota: int = Field(ge=0, le=100_000)  # tasks per period


def period_of(day: date, per: str) -> tuple[date, date]:
    """The plan period holding the call center's `day`: that day, or its week (Monday on)."""
    if per == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    return day, day + timedelta(days=1)


def _utc(day: date) -> datetime:
    return to_utc(datetime(day.year, day.month, day.day))


@dataclass
class PlanRun:
    run: str
    candidates: int
    created: list[ReviewTask]
    by_reason: dict[str, int]
    by_reviewer: dict[str, int]


def task_for(ev: Evaluation, **fields) -> ReviewTask:
    """A task for the call of `ev`; the call's own columns are copied so that the queue is read
    without joining the evaluations."""
    return ReviewTask(
        recording_id=ev.recording_id,
        evaluation_id=ev.id,
        project=ev.project,
        agent_id=ev.agent_id,
        called_at=ev.called_at,
        **fields,
    )


def run_plan(
    session: Session,
    plan: SamplingPlan,
    day: date,
    low_confidence: float,
    now: datetime | None = None,
) -> PlanRun:
    """Make the plan's tasks for the period holding `day` (the call center's date)."""
    now = now or utcnow()
    criteria = PlanCriteria.model_validate(plan.criteria)
    quotas = [ReviewerQuota.model_validate(r) for r in plan.reviewers]
    start, end = period_of(day, criteria.per)
    run = f"plan {plan.id}: {start.isoformat()}/{criteria.per}"
    calls = session.exec(
        select(Evaluation)
        .where(
            Evaluation.is_current,
            Evaluation.project == plan.project,
            Evaluation.called_at >= _utc(start),
            Evaluation.called_at < _utc(end),
        )
        .order_by(Evaluation.called_at, Evaluation.id)
    ).all()
    taken = set(
        session.exec(
            select(ReviewTask.recording_id).where(
                (ReviewTask.run == run) | (ReviewTask.state != TaskState.DONE)
            )
        ).all()
    )
    seed = f"{plan.seed}|{run}"
    threshold = criteria.random_percent / 100 * SAMPLE_PRIME
    picked: dict[int, tuple[Evaluation, TaskReason]] = {}
    per_agent: Counter[str] = Counter()
    for ev in calls:  # every call the plan has already picked this period counts per agent
        if ev.recording_id in taken:
            per_agent[ev.agent_id or ""] += 1
    for ev in calls:
        if ev.recording_id in taken:
            continue
        reason = _reason(ev, criteria, low_confidence, seed, threshold)
        if reason is not None:
            picked[ev.recording_id] = (ev, reason)
            per_agent[ev.agent_id or ""] += 1
    if criteria.min_per_agent:
        by_agent: dict[str, list[Evaluation]] = defaultdict(list)
        for ev in calls:
            if ev.recording_id not in taken and ev.recording_id not in picked:
                by_agent[ev.agent_id or ""].append(ev)
        for agent, rest in sorted(by_agent.items()):
            rest.sort(key=lambda e: sample_rank(seed, e.recording_id))  # the seeded order
            for ev in rest[: max(0, criteria.min_per_agent - per_agent[agent])]:
                picked[ev.recording_id] = (ev, TaskReason.AGENT_MINIMUM)
    load = Counter(
        session.exec(
            select(ReviewTask.assignee).where(
                ReviewTask.run == run,
                ReviewTask.assignee.is_not(None),
            )
        ).all()
    )
    created = []
    due = now + timedelta(hours=plan.due_hours)
    for ev, reason in sorted(picked.values(), key=lambda p: (p[0].called_at, p[0].id)):
        open_to = [q for q in quotas if load[q.name] < q.quota]
        assignee = (
            min(open_to, key=lambda q: (load[q.name] / q.quota, q.name)).name if open_to else None
        )
        if assignee is not None:
            load[assignee] += 1
        task = task_for(
            ev,
            plan_id=plan.id,
            run=run,
            reason=reason,
            state=TaskState.ASSIGNED if assignee else TaskState.UNASSIGNED,
            assignee=assignee,
            created_at=now,
            due_at=due,
        )
        session.add(task)
        created.append(task)
    session.flush()
    return PlanRun(
        run=run,
        candidates=len(calls),
        created=created,
        by_reason=dict(Counter(str(t.reason) for t in created)),
        by_reviewer=dict(Counter(t.assignee or "" for t in created)),
    )


def _reason(
    ev: Evaluation, c: PlanCriteria, low_confidence: float, seed: str, threshold: float
) -> TaskReason | None:
    score = ev.effective_score
    if c.fatal and ev.effective_fatal:
        return TaskReason.FATAL
    if c.low_confidence and ev.asr_confidence < low_confidence:
        return TaskReason.LOW_CONFIDENCE
    if score is not None and any(lo <= score < hi for lo, hi in c.score_bands):
        return TaskReason.SCORE_BAND
    if any(lo <= (ev.duration or 0) < hi for lo, hi in c.duration_bands):
        return TaskReason.DURATION_BAND
    if threshold and sample_rank(seed, ev.recording_id) < threshold:
        return TaskReason.RANDOM
    return None


# Tasks ----------------------------------------------------------------------------------------


def shown_state(task: ReviewTask, now: datetime | None = None) -> str:
    """The state people see: an open task past its due time is overdue (逾期)."""
    now = now or utcnow()
    if task.state != TaskState.DONE and task.due_at is not None and task.due_at < now:
        return "overdue"
    return task.state


def get_task(session: Session, task_id: int) -> ReviewTask:
    task = session.get(ReviewTask, task_id)
    if task is None:
        raise TaskNotFound(message("no review task {id}", id=task_id))
    return task


def _open(session: Session, task_id: int) -> ReviewTask:
    task = get_task(session, task_id)
    if task.state == TaskState.DONE:
        raise TaskConflict(
            message("task {id} is done already ({who})", id=task_id, who=task.done_by)
        )
    return task


def claim(session: Session, task_id: int, reviewer: str, manager: bool = False) -> ReviewTask:
    task = _open(session, task_id)
    if task.assignee not in (None, reviewer) and not manager:
        raise TaskConflict(
            message(
                "task {id} is {who}'s; a QA manager may reassign it", id=task_id, who=task.assignee
            )
        )
    task.assignee, task.state, task.claimed_at = reviewer, TaskState.IN_PROGRESS, utcnow()
    session.add(task)
    session.flush()
    return task


def release(session: Session, task_id: int, reviewer: str, manager: bool = False) -> ReviewTask:
    task = _open(session, task_id)
    if task.assignee != reviewer and not manager:
        raise TaskConflict(message("task {id} is not yours to release", id=task_id))
    task.assignee, task.state, task.claimed_at = None, TaskState.UNASSIGNED, None
    session.add(task)
    session.flush()
    return task


def assign_task(session: Session, task_id: int, reviewer: str) -> ReviewTask:
    task = _open(session, task_id)
    task.assignee, task.state, task.claimed_at = reviewer, TaskState.ASSIGNED, None
    session.add(task)
    session.flush()
    return task


def _current(session: Session, recording_id: int, fallback: int) -> Evaluation:
    """The call's current evaluation under any rubric (what it counts with), else the task's."""
    ev = session.exec(
        select(Evaluation).where(Evaluation.recording_id == recording_id, Evaluation.is_current)
    ).first()
    found = ev or session.get(Evaluation, fallback)
    if found is None:
        raise TaskNotFound(message("no evaluation of recording {id}", id=recording_id))
    return found


def complete(session: Session, task_id: int, reviewer: str, manager: bool = False) -> ReviewTask:
    """已复核: the call was listened to; its grade as the reviewer left it is kept."""
    task = _open(session, task_id)
    if task.assignee not in (None, reviewer) and not manager:
        raise TaskConflict(message("task {id} is {who}'s", id=task_id, who=task.assignee))
    ev = _current(session, task.recording_id, task.evaluation_id)
    # the call now counts in 监听合格率: the KPI rollups follow it
    with tracked(session, [task.recording_id]):
        task.evaluation_id, task.grade = ev.id, ev.effective_grade
        task.state, task.done_by, task.done_at = TaskState.DONE, reviewer, utcnow()
        task.assignee = task.assignee or reviewer
        session.add(task)
    return task


def listened(session: Session, evaluation_id: int, reviewer: str, manager: bool) -> ReviewTask:
    """Mark a call listened to: its open task done, or a manual task made and done (a call
    reviewed from the flagged queue counts for 监听合格率 as a sampled one does)."""
    ev = session.get(Evaluation, evaluation_id)
    if ev is None:
        raise TaskNotFound(message("no evaluation {id}", id=evaluation_id))
    task = open_task(session, ev.recording_id)
    if task is None:
        task = task_for(
            ev,
            reason=TaskReason.MANUAL,
            state=TaskState.IN_PROGRESS,
            assignee=reviewer,
            run="manual",
        )
        session.add(task)
        session.flush()
    assert task.id is not None
    return complete(session, task.id, reviewer, manager)


def open_task(session: Session, recording_id: int) -> ReviewTask | None:
    return session.exec(
        select(ReviewTask).where(
            ReviewTask.recording_id == recording_id, ReviewTask.state != TaskState.DONE
        )
    ).first()


def ensure_rereview(session: Session, ev: Evaluation, due_hours: float = 24.0) -> None:
    """A review a new rubric version cannot carry puts the call before people again."""
    if open_task(session, ev.recording_id) is not None:
        return
    session.add(
        task_for(
            ev,
            reason=TaskReason.REREVIEW,
            run=f"rereview: {ev.rubric_id} v{ev.rubric_version}",
            due_at=utcnow() + timedelta(hours=due_hours),
        )
    )


def task_list(
    session: Session,
    reviewer: str | None = None,
    state: str | None = None,
    project: str | None = None,
    limit: int = 200,
) -> list[ReviewTask]:
    """Tasks, open first (the reviewer's own first when `reviewer` is given), oldest due first."""
    q = select(ReviewTask)
    if state == "overdue":
        q = q.where(ReviewTask.state != TaskState.DONE, ReviewTask.due_at < utcnow())
    elif state:
        q = q.where(ReviewTask.state == state)
    if project:
        q = q.where(ReviewTask.project == project)
    if reviewer:
        q = q.where((ReviewTask.assignee == reviewer) | ReviewTask.assignee.is_(None))
    rows = list(session.exec(q.order_by(ReviewTask.id).limit(10 * limit)).all())
    rows.sort(
        key=lambda t: (
            t.state == TaskState.DONE,
            t.assignee != reviewer if reviewer else False,
            t.due_at or datetime.max,
            t.id,
        )
    )
    return rows[:limit]


@dataclass
class ReviewerLoad:
    reviewer: str
    open: int = 0
    overdue: int = 0
    done: int = 0


def workload(
    session: Session, project: str | None, since: datetime | None, until: datetime | None
) -> list[ReviewerLoad]:
    """Backlog (open, overdue) and throughput (done in [since, until)) per reviewer; the
    unassigned backlog under the reviewer ""."""
    now = utcnow()
    rows: dict[str, ReviewerLoad] = {}
    q = select(ReviewTask)
    if project:
        q = q.where(ReviewTask.project == project)
    for t in session.exec(q).all():
        who = t.assignee or ""
        row = rows.setdefault(who, ReviewerLoad(who))
        if t.state != TaskState.DONE:
            row.open += 1
            row.overdue += t.due_at is not None and t.due_at < now
        elif (since is None or (t.done_at and t.done_at >= since)) and (
            until is None or (t.done_at and t.done_at < until)
        ):
            row.done += 1
    return sorted(rows.values(), key=lambda r: r.reviewer)
