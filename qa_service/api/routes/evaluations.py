from datetime import datetime
from typing import Literal, Optional

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlmodel import select

from qa_service.api.deps import Reviewer, SettingsDep, StoreDep, Viewer
from qa_service.db import Evaluation, FindingRow, HighlightRow, Recording, Review, utcnow
from qa_service.enums import FindingStatus, Grade
from qa_service.masking import mask
from qa_service.rollup import tracked
from qa_service.schemas import CallEvaluation, FlaggedPage, ReviewOut

router = APIRouter(tags=["evaluations"])
GRADES = Grade.values()
FINDING_STATUSES = FindingStatus.values()


def _masked_evidence(evidence: list[dict], hide: bool) -> list[dict]:
    return [{**e, "text": mask(e["text"])} if hide and "text" in e else e for e in evidence]


@router.get("/evaluations/{evaluation_id}", response_model=CallEvaluation)
def get_evaluation(evaluation_id: int, store: StoreDep, key: Viewer) -> dict:
    """Score, grade, outcome, findings with evidence, highlights and the review trail."""
    hide = key.role != "admin"
    with store.session() as s:
        ev = s.get(Evaluation, evaluation_id)
        if ev is None:
            raise HTTPException(404, f"no evaluation {evaluation_id}")
        rec = s.get(Recording, ev.recording_id)
        findings = s.exec(select(FindingRow).where(FindingRow.evaluation_id == ev.id)
                          .order_by(FindingRow.id)).all()
        highlights = s.exec(select(HighlightRow).where(HighlightRow.evaluation_id == ev.id)
                            .order_by(HighlightRow.start)).all()
        reviews = s.exec(select(Review).where(Review.evaluation_id == ev.id)
                         .order_by(Review.id)).all()
    return {
        "id": ev.id, "recording_id": ev.recording_id, "recording": rec.source_path if not hide else None,
        "agent_id": rec.agent_id, "project": rec.project, "call_time": rec.call_time,
        "rubric": {"id": ev.rubric_id, "version": ev.rubric_version},
        "score": ev.score, "grade": ev.effective_grade, "machine_grade": ev.grade,
        "fatal": ev.fatal, "outcome": ev.outcome, "duration": rec.duration,
        "asr_confidence": round(ev.asr_confidence, 3),
        "findings": [{"id": f.id, "rule_id": f.rule_id, "category": f.category, "name": f.name,
                      "status": f.effective_status, "machine_status": f.status,
                      "deduction": f.deduction, "severity": f.severity, "detail": f.detail,
                      "evidence": _masked_evidence(f.evidence, hide)} for f in findings],
        "highlights": [{"role": h.role, "start": h.start, "end": h.end,
                        "text": mask(h.text) if hide else h.text, "reason": h.reason}
                       for h in highlights],
        "utterances": [{"role": u.role, "start": u.start, "end": u.end, "confidence": u.confidence,
                        "text": mask(u.text) if hide else u.text}
                       for u in store.utterances(ev.recording_id)],
        "reviews": [r.model_dump() for r in reviews],
    }


@router.get("/flagged", response_model=FlaggedPage)
def flagged(store: StoreDep, settings: SettingsDep, _: Viewer,
            project: Optional[str] = None, agent: Optional[str] = None,
            since: Optional[datetime] = None, until: Optional[datetime] = None,
            rule: Optional[str] = None, page: int = Query(1, ge=1),
            page_size: int = Query(50, ge=1, le=500)) -> dict:
    """Calls to listen to: fail, fatal, or doubtful recognition; newest first. Each call once,
    with its current evaluation."""
    cap = settings.flagged_count_limit
    total, rows = store.flagged(settings.low_confidence, cap, page, page_size, rule=rule,
                                project=project, agent=agent, since=since, until=until)
    items = []
    for ev in rows:
        reasons = ev.flag_reasons(settings.low_confidence)
        items.append({"evaluation_id": ev.id, "recording_id": ev.recording_id, "agent_id": ev.agent_id,
                      "project": ev.project, "call_time": ev.called_at, "score": ev.score,
                      "grade": ev.effective_grade, "fatal": ev.fatal,
                      "outcome": ev.outcome, "reasons": reasons})
    return {"total": min(total, cap), "total_exact": total <= cap, "page": page,
            "page_size": page_size, "items": items}


class ReviewIn(BaseModel):
    target: Literal["grade", "finding"]
    action: Literal["confirm", "override"]
    finding_id: Optional[int] = None
    value: Optional[str] = None  # the new grade or finding status, for override
    comment: str = ""


def _decision(body: ReviewIn, current: str, allowed: tuple[str, ...]) -> str:
    """The value after the review: the current one confirmed, or the reviewer's override."""
    new = current if body.action == "confirm" else body.value
    if new not in allowed:
        raise HTTPException(422, f"value must be one of {', '.join(allowed)}")
    return new


@router.post("/evaluations/{evaluation_id}/reviews", status_code=201, response_model=ReviewOut)
def review(evaluation_id: int, body: ReviewIn, store: StoreDep, key: Reviewer) -> dict:
    """Confirm or override the machine's grade or one finding. The machine result stays; the
    review is kept in the trail, and KPIs use the reviewed value."""
    with store.session() as s:
        ev = s.get(Evaluation, evaluation_id)
        if ev is None:
            raise HTTPException(404, f"no evaluation {evaluation_id}")
        with tracked(s, [ev.recording_id]):  # KPIs and common errors use the reviewed value
            if body.target == "grade":
                old = ev.effective_grade
                ev.reviewed_grade = new = _decision(body, old, GRADES)
                s.add(ev)
            else:
                finding = s.get(FindingRow, body.finding_id) if body.finding_id else None
                if finding is None or finding.evaluation_id != ev.id:
                    raise HTTPException(404, f"no finding {body.finding_id} in evaluation {evaluation_id}")
                old = finding.effective_status
                finding.reviewed_status = new = _decision(body, old, FINDING_STATUSES)
                s.add(finding)
        row = Review(evaluation_id=ev.id, finding_id=body.finding_id if body.target == "finding" else None,
                     reviewer=f"{key.name} ({key.prefix}…)", target=body.target, action=body.action,
                     old_value=old, new_value=new, comment=body.comment, created_at=utcnow())
        s.add(row)
        s.commit()
        s.refresh(row)
        return row.model_dump()
