from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlmodel import Session, select

from qa_service.api.deps import (
    NO_NUL,
    Identifier,
    Member,
    Reviewer,
    SettingsDep,
    StoreDep,
    TimeQuery,
    Viewer,
    agents_filter,
)
from qa_service.app.people import Caller
from qa_service.config import NO_SPEECH_WARNING
from qa_service.domain.enums import FindingSource, Grade, KeyRole
from qa_service.domain.evaluation import HighlightOut, RubricRef, UtteranceOut
from qa_service.domain.schema import MAX_ROW_ID
from qa_service.exceptions import NotFound, ReviewError
from qa_service.i18n import message
from qa_service.metrics import kpis
from qa_service.review import quality, queues, reviews
from qa_service.review.models import (
    EvaluationOut,
    EvaluationPage,
    FindingOut,
    FlaggedCall,
    FlaggedPage,
    PrecisionReport,
    Result,
    ReviewedResult,
    ReviewIn,
    ReviewOut,
    ReviewSample,
    ReviewWithEvaluation,
    RuleOut,
    WithdrawIn,
)
from qa_service.storage.callrefs import name_calls
from qa_service.storage.repositories.recordings import utterances_by_recording
from qa_service.storage.repositories.rubrics import rubric_title
from qa_service.storage.tables import (
    Evaluation,
    FindingRow,
    HighlightRow,
    Recording,
    Review,
)

router = APIRouter(tags=["evaluations"])
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def _visible(s, who: Caller, evaluation_id: int) -> Evaluation:
    """The evaluation, if the caller may see it: another agent's is "not found" (404), so an
    agent cannot learn which ids exist."""
    ev = s.get(Evaluation, evaluation_id)
    if ev is None or not who.sees_agent(ev.agent_id):
        raise NotFound(message("no evaluation {id}", id=evaluation_id))
    return ev


def _review_out(r: Review, plan: reviews.Plan | None = None) -> ReviewOut:
    state, reason = plan.states.get(r.id, (None, None)) if plan else (None, None)
    return ReviewOut.model_validate(r).model_copy(
        update={
            "state": state,
            "reason": reason,
        }
    )


def evaluation_view(s: Session, ev: Evaluation, hide: bool) -> EvaluationOut:
    """The evaluation as EvaluationOut: machine and reviewed results, findings with both
    statuses, the rubric's rules (for adding what the machine missed), the review trail.
    `hide` leaves out the recording's path; personal numbers in the text are masked for
    non-admins on the way out (api/masking.py)."""
    rec = s.get(Recording, ev.recording_id)
    findings = s.exec(
        select(FindingRow).where(FindingRow.evaluation_id == ev.id).order_by(FindingRow.id)
    ).all()
    highlights = s.exec(
        select(HighlightRow).where(HighlightRow.evaluation_id == ev.id).order_by(HighlightRow.start)
    ).all()
    trail, plan = reviews.review_states(s, ev)
    catalog = reviews.catalog_for(s, ev, findings)
    reviewed = None
    if ev.reviewed:
        reviewed = ReviewedResult(
            score=ev.reviewed_score,
            grade=ev.reviewed_grade,
            fatal=ev.reviewed_fatal,
            computed_grade=reviews.computed_grade(ev, catalog),
            grade_override=plan.grade.new_value if plan.grade else None,
        )
    return EvaluationOut(
        id=ev.id,
        recording_id=ev.recording_id,
        recording=None if hide else rec.source_path,
        agent_id=rec.agent_id,
        project=rec.project,
        call_time=rec.call_time,
        phase=ev.phase,
        rubric=RubricRef(id=ev.rubric_id, version=ev.rubric_version),
        rubric_name=rubric_title(s, ev.rubric_id, ev.rubric_version),
        current=ev.is_current,
        duration=rec.duration,
        outcome=ev.outcome,
        asr_confidence=round(ev.asr_confidence, 3),
        warnings=[*rec.asr_warnings, *([NO_SPEECH_WARNING] if ev.grade == Grade.NO_SPEECH else [])],
        machine=Result(score=ev.score, grade=ev.grade, fatal=ev.fatal),
        reviewed=reviewed,
        score=ev.effective_score,
        grade=ev.effective_grade,
        fatal=ev.effective_fatal,
        machine_grade=ev.grade,
        needs_rereview=ev.needs_rereview,
        findings=[
            FindingOut(
                id=f.id,
                rule_id=f.rule_id,
                category=f.category,
                name=f.name,
                severity=f.severity,
                detail=f.detail,
                source=f.source,
                machine_status=f.status if f.source == FindingSource.MACHINE else None,
                reviewed_status=f.reviewed_status,
                status=f.effective_status,
                machine_deduction=f.deduction,
                deduction=f.deduction if f.reviewed_deduction is None else f.reviewed_deduction,
                review_id=f.review_id,
                allowed_statuses=reviews.allowed_statuses(f.category),
                evidence=f.evidence,
            )
            for f in findings
        ],
        highlights=[HighlightOut.model_validate(h) for h in highlights],
        # the spec's result carries the call's utterances (the CLI prints the same model)
        utterances=[
            UtteranceOut.model_validate(u)
            for u in utterances_by_recording(s, [ev.recording_id])[ev.recording_id]
        ],
        rules=[
            RuleOut(
                rule_id=info.rule_id,
                category=info.category,
                name=info.name,
                allowed_statuses=reviews.allowed_statuses(info.category),
            )
            for info in catalog.rules.values()
        ],
        reviews=[_review_out(r, plan) for r in trail],
    )


def _with_evaluation(view: EvaluationOut, review_id: int) -> ReviewWithEvaluation:
    """The review as the evaluation's trail shows it, with the evaluation."""
    shown = next(r for r in view.reviews if r.id == review_id)
    return ReviewWithEvaluation(**dict(shown), evaluation=view)


@router.get("/evaluations/{evaluation_id}", response_model=EvaluationOut)
def get_evaluation(evaluation_id: RowId, store: StoreDep, who: Member) -> EvaluationOut:
    """Machine and reviewed score and grade, findings with evidence and both statuses,
    highlights, the rubric's rules and the review trail. An agent sees their own calls only,
    a team lead their team's."""
    with store.session() as s:
        return evaluation_view(s, _visible(s, who, evaluation_id), hide=not who.is_admin)


@router.get("/evaluations", response_model=EvaluationPage)
def list_evaluations(
    store: StoreDep,
    settings: SettingsDep,
    who: Member,
    project: Identifier | None = None,
    agent: Identifier | None = None,
    rubric_id: Identifier | None = None,
    grade: Grade | None = None,
    reviewed: bool | None = None,
    needs_rereview: bool | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    current: bool = True,
    page: int = Query(1, ge=1, le=MAX_ROW_ID),
    page_size: int = Query(50, ge=1, le=500),
) -> EvaluationPage:
    """Every evaluation (each call once, with its current one, unless current=false), newest
    first: passing calls can be sampled too. `total` counts up to QA_FLAGGED_COUNT_LIMIT
    (`total_exact` false beyond)."""
    with store.session() as s:
        return queues.list_evaluations(
            s,
            page,
            page_size,
            settings.flagged_count_limit,
            project=project,
            agent=agent,
            rubric_id=rubric_id,
            grade=grade,
            reviewed=reviewed,
            needs_rereview=needs_rereview,
            since=since,
            until=until,
            current=current,
            **agents_filter(who),
        )


@router.get("/review-sample", response_model=ReviewSample)
def review_sample(
    store: StoreDep,
    _: Viewer,
    project: Identifier | None = None,
    percent: float = Query(5.0, gt=0, le=100),
    seed: str = Query("", pattern=NO_NUL),
    since: TimeQuery = None,
    until: TimeQuery = None,
    page: int = Query(1, ge=1, le=MAX_ROW_ID),
    page_size: int = Query(50, ge=1, le=500),
) -> ReviewSample:
    """A reproducible random `percent` of a period's calls for manual QA, newest first, a page
    at a time (`total` calls in the sample; the same seed gives the same calls)."""
    with store.session() as s:
        return queues.review_sample(
            s,
            percent,
            seed,
            project=project,
            since=since,
            until=until,
            page=page,
            page_size=page_size,
            population=kpis.call_count(s, since, until, project=project),
        )


@router.get("/rules/precision", response_model=PrecisionReport)
def rule_precision(
    store: StoreDep,
    _: Viewer,
    rubric_id: Identifier,
    project: Identifier | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    from_version: int | None = Query(None, ge=1, le=MAX_ROW_ID),
    to_version: int | None = Query(None, ge=1, le=MAX_ROW_ID),
) -> PrecisionReport:
    """Per rule: machine findings reviewers confirmed, overturned, and added; precision."""
    with store.session() as s:
        report = quality.rule_precision(
            s, rubric_id, project, since, until, from_version, to_version
        )
        return name_calls(s, report)  # examples by agent and call time


@router.get("/flagged", response_model=FlaggedPage)
def flagged(
    store: StoreDep,
    settings: SettingsDep,
    who: Member,
    project: Identifier | None = None,
    agent: Identifier | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    rule: str | None = Query(None, pattern=NO_NUL),
    reviewed: bool | None = None,
    page: int = Query(1, ge=1, le=MAX_ROW_ID),
    page_size: int = Query(50, ge=1, le=500),
) -> FlaggedPage:
    """Calls to listen to: fail, fatal, doubtful recognition, or no speech (not graded); newest
    first. Each call once, with its current evaluation, marked `reviewed` once listened to
    (`reviewed=false`: only those not yet)."""
    cap = settings.flagged_count_limit
    total, rows = store.evaluations.flagged(
        settings.low_confidence,
        cap,
        page,
        page_size,
        rule=rule,
        reviewed=reviewed,
        project=project,
        agent=agent,
        since=since,
        until=until,
        **agents_filter(who),
    )
    heard = store.evaluations.listened([ev.recording_id for ev in rows])
    items = [FlaggedCall.of(ev, settings.low_confidence, ev.recording_id in heard) for ev in rows]
    return FlaggedPage(
        total=min(total, cap), total_exact=total <= cap, page=page, page_size=page_size, items=items
    )


@router.post(
    "/evaluations/{evaluation_id}/reviews", status_code=201, response_model=ReviewWithEvaluation
)
def review(
    evaluation_id: RowId, body: ReviewIn, store: StoreDep, who: Reviewer
) -> ReviewWithEvaluation:
    """Confirm or override the machine's grade or a finding, or add a finding it missed. The
    machine result stays; the review is kept in the trail and applies to every evaluation of
    the call under this rubric id, through rescoring and new versions."""
    with store.session() as s:
        try:
            row = reviews.create_review(
                s, evaluation_id, reviews.ReviewRequest(**body.model_dump()), who.shown
            )
        except ReviewError:
            s.rollback()
            raise
        s.commit()
        view = evaluation_view(s, s.get(Evaluation, evaluation_id), not who.is_admin)
        return _with_evaluation(view, row.id)


@router.post("/reviews/{review_id}/withdraw", response_model=ReviewWithEvaluation)
def withdraw(
    review_id: RowId, store: StoreDep, who: Reviewer, body: WithdrawIn | None = None
) -> ReviewWithEvaluation:
    """Withdraw a review: it stays in the trail, marked; the previous review of the same
    thing, or the machine's result, applies again. Only its author or a QA manager may; an
    appeal's ruling is final and is not withdrawn."""
    with store.session() as s:
        try:
            row = reviews.withdraw_review(
                s,
                review_id,
                who.shown,
                body.comment if body else "",
                manager=who.can(KeyRole.MANAGER),
            )
        except ReviewError:
            s.rollback()
            raise
        s.commit()
        view = evaluation_view(s, s.get(Evaluation, row.evaluation_id), not who.is_admin)
        return _with_evaluation(view, row.id)


@router.get("/reviews/{review_id}", response_model=ReviewOut)
def get_review(review_id: RowId, store: StoreDep, who: Member) -> ReviewOut:
    with store.session() as s:
        row = s.get(Review, review_id)
        if row is None or not who.sees_agent(s.get(Evaluation, row.evaluation_id).agent_id):
            raise NotFound(message("no review {id}", id=review_id))
        return _review_out(row)
