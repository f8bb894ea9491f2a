"""Reports of the QA process (seed 003).

Trial phase (试呼, key point 2): refusal reasons (objections raised, how often answered, the
success rate of the calls where each was raised), the guide map (引导地图: per selling point,
how often agents say it and how the customer's next turn takes it, in four quadrants), and
the highlight-script library ranked by the success of the calls they came from.
In flight (key point 3): the first 2, 4 and 6 hours of a project's production calls.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Optional

from sqlalchemy import func
from sqlmodel import Session, select

from qa_service.storage.tables import Evaluation, FindingRow, HighlightRow, Recording
from qa_service.domain.enums import CallOutcome, FindingStatus, SectionKind
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.rules.matching import PhraseMatcher, prepare
from qa_service.rules.rubric import Rubric
from qa_service.storage.store import utterances_by_recording

# A customer reply with one of these and no objection or refusal counts as positive.
POSITIVE = ["好的", "可以", "行", "不错", "挺好", "划算", "那就办", "办一下", "然后呢", "还有呢", "这样啊"]
# Script parts that carry selling points: the guide map places them with the mandatory points.
GUIDE_MAP_SECTIONS = (SectionKind.PRODUCT_INTRO, SectionKind.PERSUASION)
SAY_OFTEN = 0.5  # agents say a point in at least half the calls: "we like to say it"
LIKED = 0.5  # at least half of the customer's replies to it are positive: "customers like it"


def _evaluations(s: Session, rubric: Rubric, project: str, phase: Optional[str]):
    q = (select(Evaluation, Recording).join(Recording, Recording.id == Evaluation.recording_id)
         .where(Evaluation.rubric_id == rubric.id, Evaluation.rubric_version == rubric.version,
                Recording.project == project))
    if phase:
        q = q.where(Recording.phase == phase)
    return s.exec(q).all()


def trial_report(s: Session, rubric: Rubric, project: str, phase: Optional[str] = "trial") -> dict:
    rows = _evaluations(s, rubric, project, phase)
    calls = len(rows)
    outcome = {e.id: e.outcome for e, _ in rows}
    findings = s.exec(select(FindingRow).where(FindingRow.evaluation_id.in_(list(outcome)))).all()

    refusals = []
    for objection in rubric.objections:
        raised = [f for f in findings if f.rule_id == objection.id]
        handled = [f for f in raised if f.effective_status == FindingStatus.HANDLED]
        success = sum(outcome[f.evaluation_id] == CallOutcome.SUCCESS for f in raised)
        refusals.append({
            "objection_id": objection.id, "name": objection.name, "raised_in_calls": len(raised),
            "share_of_calls": round(len(raised) / calls, 4) if calls else None,
            "handled": len(handled), "handled_rate": round(len(handled) / len(raised), 4) if raised else None,
            "success_rate_after": round(success / len(raised), 4) if raised else None})
    refusals.sort(key=lambda r: -r["raised_in_calls"])

    guide = _guide_map(s, rubric, rows, findings, calls)
    highlights = _highlight_library(s, rows)
    return {"project": project, "phase": phase, "rubric": {"id": rubric.id, "version": rubric.version},
            "calls": calls, "success_rate": round(sum(o == CallOutcome.SUCCESS for o in outcome.values()) / calls, 4)
            if calls else None, "refusal_reasons": refusals, "guide_map": guide,
            "highlights": highlights}


def _guide_map(s, rubric, rows, findings, calls) -> list[dict]:
    objections = PhraseMatcher(any=[p for o in rubric.objections for p in o.customer_says], fuzzy=1.0)
    refusal = PhraseMatcher(any=rubric.outcome.refusal, fuzzy=1.0)
    positive = PhraseMatcher(any=rubric.outcome.success + POSITIVE, fuzzy=1.0)
    utterances = utterances_by_recording(s, [r.id for _, r in rows])
    recording_of = {e.id: r.id for e, r in rows}
    points = [p for p in rubric.mandatory_points] + [
        sec for sec in rubric.script_sections if sec.kind in GUIDE_MAP_SECTIONS]
    out = []
    for point in points:
        hits = [f for f in findings if f.rule_id == point.id and f.effective_status == FindingStatus.HIT]
        replies = defaultdict(int)
        for f in hits:
            said_at = f.evidence[0]["start"] if f.evidence else None
            call = utterances.get(recording_of[f.evaluation_id], [])
            nxt = next((u for u in call if u.role == "customer" and said_at is not None
                        and u.start > said_at), None)
            if nxt is None:
                replies["none"] += 1
                continue
            text = prepare(nxt.text)
            if objections.match(text):
                replies["objection"] += 1
            elif refusal.match(text):
                replies["refusal"] += 1
            elif positive.match(text):
                replies["positive"] += 1
            else:
                replies["neutral"] += 1
        said_rate = len(hits) / calls if calls else 0.0
        judged = replies["positive"] + replies["objection"] + replies["refusal"]
        liked = replies["positive"] / judged if judged else None
        we_say = said_rate >= SAY_OFTEN
        they_like = liked is not None and liked >= LIKED
        quadrant = {(True, True): 1, (True, False): 2, (False, False): 3, (False, True): 4}[(we_say, they_like)]
        out.append({"point_id": point.id, "name": point.name, "said_in_calls": len(hits),
                    "said_rate": round(said_rate, 4), "customer_replies": dict(replies),
                    "positive_rate": round(liked, 4) if liked is not None else None,
                    "quadrant": quadrant})
    return out


def _highlight_library(s, rows) -> list[dict]:
    by_eval = {e.id: (e, r) for e, r in rows}
    items = s.exec(select(HighlightRow).where(HighlightRow.evaluation_id.in_(list(by_eval)))).all()
    groups: dict[tuple[str, str], dict] = {}
    for h in items:
        key = (h.reason, prepare(h.text).norm)
        e, r = by_eval[h.evaluation_id]
        g = groups.setdefault(key, {"reason": h.reason, "text": h.text, "calls": 0, "successes": 0,
                                    "examples": []})
        g["calls"] += 1
        g["successes"] += e.outcome == CallOutcome.SUCCESS
        if len(g["examples"]) < 3:
            g["examples"].append({"recording_id": r.id, "agent_id": r.agent_id, "start": h.start})
    ranked = sorted(groups.values(), key=lambda g: (-g["successes"] / g["calls"], -g["calls"]))
    for g in ranked:
        g["success_rate"] = round(g["successes"] / g["calls"], 4)
    return ranked


def _first_call(s: Session, project: str):
    """When the project's first production call was, on the clock the windows count on.

    Read from the current evaluations' called_at (the recording's call time, else when it was
    stored; UTC, like every stored time, and the fallback below): the index ix_evaluation_current_project_called
    answers it with one index probe, where min() over the recordings read all of the project's
    recordings. A project whose calls are stored but none evaluated yet falls back to the
    recordings (their project index), as before."""
    first = s.exec(select(Evaluation.called_at)
                   .where(Evaluation.is_current, Evaluation.project == project,
                          Evaluation.phase == "production")
                   .order_by(Evaluation.called_at).limit(1)).first()
    if first is not None:
        return first
    return s.exec(select(func.min(func.coalesce(Recording.call_time, Recording.created_at)))
                  .where(Recording.project == project, Recording.phase == "production")).one()


def inflight_report(s: Session, project: str, hours: tuple[int, ...] = (2, 4, 6)) -> dict:
    """The first hours of a project's production calls: where common errors show first."""
    first = _first_call(s, project)
    if first is None:
        return {"project": project, "start": None, "windows": []}
    windows = []
    for h in hours:
        until = first + timedelta(hours=h)
        kw = {"project": project, "phase": "production", "since": first, "until": until}
        totals = kpi_rows(s, "project", **kw)
        windows.append({"hours": h, "until": until, "kpis": totals[0] if totals else None,
                        "common_errors": common_errors(s, limit=5, **kw)})
    return {"project": project, "start": first, "windows": windows}
