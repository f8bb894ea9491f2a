"""Reports of an outbound project's QA process, stage by stage.

Trial phase (试呼): refusal reasons (objections raised, how often answered, the
success rate of the calls where each was raised), the guide map (引导地图: per selling point,
how often agents say it and how the customer's next turn takes it, in four quadrants), and
the highlight-script library ranked by the success of the calls they came from.
In flight (上线跟踪): the first 2, 4 and 6 hours of a project's production calls.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from qa_service.config import LIKED, SAY_OFTEN
from qa_service.domain.enums import PASSING, CallOutcome, FindingStatus, Phase, Role, SectionKind
from qa_service.domain.evaluation import RubricRef
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.metrics.models import (
    GuidePoint,
    HighlightExample,
    HighlightScript,
    InflightReport,
    InflightWindow,
    RefusalReason,
    TrialReport,
)
from qa_service.rules.matching import PhraseMatcher, prepare
from qa_service.rules.rubric import Rubric
from qa_service.storage.repositories.recordings import utterances_by_recording
from qa_service.storage.tables import Evaluation, FindingRow, HighlightRow, Recording

# A customer reply with one of these and no objection or refusal takes the point well.
POSITIVE = [
    "好的",
    "可以",
    "行",
    "不错",
    "挺好",
    "划算",
    "那就办",
    "办一下",
]
# Backchannels: the customer keeps listening, which says nothing of the point.
BACKCHANNELS = ["然后呢", "还有呢", "这样啊", "是吗", "哦", "嗯", "对", "啊"]
# A customer question about what was just said: a question mark, or asking words.
QUESTION = re.compile(
    r"[？?]|吗$|多少|怎么|什么|哪|几[个天月年块元]|能不能|可不可以|是不是|有没有|要不要"
)
QUADRANT_RULE = (
    "a point's reaction is the customer's next utterance: an objection, a refusal, a question, "
    "acceptance (positive), or nothing (a backchannel such as 然后呢 or anything else); "
    "positive_rate = positive / (positive + objection + refusal), questions and nothing not "
    "judged; quadrant 1: said in at least half the calls and positive_rate >= 0.5, 2: said that "
    "often and below 0.5, 3: said less often and below 0.5, 4: said less often and >= 0.5; "
    "a point with no judged reply has positive_rate null and is listed, not placed by a rate"
)
# Script parts that carry selling points: the guide map places them with the mandatory points.
GUIDE_MAP_SECTIONS = (SectionKind.PRODUCT_INTRO, SectionKind.PERSUASION)


def _evaluations(s: Session, rubric: Rubric, project: str, phase: str | None):
    q = (
        select(Evaluation, Recording)
        .join(Recording, Recording.id == Evaluation.recording_id)
        .where(
            Evaluation.rubric_id == rubric.id,
            Evaluation.rubric_version == rubric.version,
            Recording.project == project,
        )
    )
    if phase:
        q = q.where(Recording.phase == phase)
    return s.exec(q).all()


def trial_report(
    s: Session, rubric: Rubric, project: str, phase: Phase | None = Phase.TRIAL
) -> TrialReport:
    rows = _evaluations(s, rubric, project, phase)
    calls = len(rows)
    outcome = {e.id: e.outcome for e, _ in rows}
    findings = s.exec(select(FindingRow).where(FindingRow.evaluation_id.in_(list(outcome)))).all()

    refusals = []
    for objection in rubric.objections:
        raised = [f for f in findings if f.rule_id == objection.id]
        handled = [f for f in raised if f.effective_status == FindingStatus.HANDLED]
        success = sum(outcome[f.evaluation_id] == CallOutcome.SUCCESS for f in raised)
        refusals.append(
            RefusalReason(
                objection_id=objection.id,
                name=objection.name,
                raised_in_calls=len(raised),
                share_of_calls=round(len(raised) / calls, 4) if calls else None,
                handled=len(handled),
                handled_rate=round(len(handled) / len(raised), 4) if raised else None,
                success_rate_after=round(success / len(raised), 4) if raised else None,
            )
        )
    refusals.sort(key=lambda r: -r.raised_in_calls)

    successes = sum(o == CallOutcome.SUCCESS for o in outcome.values())
    return TrialReport(
        project=project,
        phase=phase,
        rubric=RubricRef(id=rubric.id, version=rubric.version),
        calls=calls,
        success_rate=round(successes / calls, 4) if calls else None,
        refusal_reasons=refusals,
        guide_map=_guide_map(s, rubric, rows, findings, calls),
        quadrant_rule=QUADRANT_RULE,
        highlights=_highlight_library(s, rows),
    )


def _guide_map(s, rubric, rows, findings, calls) -> list[GuidePoint]:
    objections = PhraseMatcher(
        any=[p for o in rubric.objections for p in o.customer_says], fuzzy=1.0
    )
    refusal = PhraseMatcher(any=rubric.outcome.refusal, fuzzy=1.0)
    positive = PhraseMatcher(any=rubric.outcome.success + POSITIVE, fuzzy=1.0)
    backchannel = PhraseMatcher(any=BACKCHANNELS, fuzzy=1.0)
    utterances = utterances_by_recording(s, [r.id for _, r in rows])
    recording_of = {e.id: r.id for e, r in rows}
    points = [p for p in rubric.mandatory_points] + [
        sec for sec in rubric.script_sections if sec.kind in GUIDE_MAP_SECTIONS
    ]
    out = []
    for point in points:
        hits = [
            f for f in findings if f.rule_id == point.id and f.effective_status == FindingStatus.HIT
        ]
        replies: defaultdict[str, int] = defaultdict(int)
        for f in hits:
            said_at = f.evidence[0]["start"] if f.evidence else None
            call = utterances.get(recording_of[f.evaluation_id], [])
            nxt = next(
                (
                    u
                    for u in call
                    if u.role == Role.CUSTOMER and said_at is not None and u.start > said_at
                ),
                None,
            )
            if nxt is None:
                replies["none"] += 1
                continue
            text = prepare(nxt.text)
            if objections.match(text):
                replies["objection"] += 1
            elif refusal.match(text):
                replies["refusal"] += 1
            elif backchannel.match(text) and len(text.norm) <= 4:
                replies["nothing"] += 1
            elif QUESTION.search(nxt.text.strip()):
                replies["question"] += 1
            elif positive.match(text):
                replies["positive"] += 1
            else:
                replies["nothing"] += 1
        said_rate = len(hits) / calls if calls else 0.0
        judged = replies["positive"] + replies["objection"] + replies["refusal"]
        liked = replies["positive"] / judged if judged else None
        we_say = said_rate >= SAY_OFTEN
        they_like = liked is not None and liked >= LIKED
        quadrant = {(True, True): 1, (True, False): 2, (False, False): 3, (False, True): 4}[
            (we_say, they_like)
        ]
        out.append(
            GuidePoint(
                point_id=point.id,
                name=point.name,
                said_in_calls=len(hits),
                said_rate=round(said_rate, 4),
                customer_replies=dict(replies),
                positive_rate=round(liked, 4) if liked is not None else None,
                quadrant=quadrant,
            )
        )
    return out


def _highlight_library(s, rows) -> list[HighlightScript]:
    """The highlights of the calls worth copying (passed, nothing fatal, ended in success), one
    script per reason and normalized text, the most successful first."""
    by_eval = {
        e.id: (e, r)
        for e, r in rows
        if e.effective_grade in PASSING
        and not e.effective_fatal
        and e.outcome == CallOutcome.SUCCESS
    }
    items = s.exec(select(HighlightRow).where(HighlightRow.evaluation_id.in_(list(by_eval)))).all()
    groups: dict[tuple[str, str], list[HighlightRow]] = defaultdict(list)
    for h in items:
        groups[(h.reason, prepare(h.text).norm)].append(h)
    library = []
    for said in groups.values():
        successes = sum(by_eval[h.evaluation_id][0].outcome == CallOutcome.SUCCESS for h in said)
        library.append(
            HighlightScript(
                reason=said[0].reason,
                text=said[0].text,
                calls=len(said),
                successes=successes,
                success_rate=round(successes / len(said), 4),
                examples=[
                    HighlightExample(
                        recording_id=by_eval[h.evaluation_id][1].id,
                        agent_id=by_eval[h.evaluation_id][1].agent_id,
                        start=h.start,
                        end=h.end,
                    )
                    for h in said[:3]
                ],
            )
        )
    return sorted(library, key=lambda g: (-g.successes / g.calls, -g.calls))


def _first_call(s: Session, project: str):
    """When the project's first production call was, on the clock the windows count on.

    Read from the current evaluations' called_at (the recording's call time, else when it was
    stored; UTC, like every stored time, and the fallback below): the index
    ix_evaluation_current_project_called answers it with one index probe, where min() over the
    recordings read all of the project's recordings. A project whose calls are stored but none
    evaluated yet falls back to the recordings (their project index), as before."""
    first = s.exec(
        select(Evaluation.called_at)
        .where(
            Evaluation.is_current,
            Evaluation.project == project,
            Evaluation.phase == Phase.PRODUCTION,
        )
        .order_by(Evaluation.called_at)
        .limit(1)
    ).first()
    if first is not None:
        return first
    return s.exec(
        select(func.min(func.coalesce(Recording.call_time, Recording.created_at))).where(
            Recording.project == project, Recording.phase == Phase.PRODUCTION
        )
    ).one()


def inflight_report(s: Session, project: str, hours: tuple[int, ...] = (2, 4, 6)) -> InflightReport:
    """The first hours of a project's production calls: where common errors show first."""
    first = _first_call(s, project)
    if first is None:
        return InflightReport(project=project, start=None, windows=[])
    windows = []
    for h in hours:
        until = first + timedelta(hours=h)
        kw = {"project": project, "phase": Phase.PRODUCTION, "since": first, "until": until}
        totals = kpi_rows(s, "project", **kw)
        windows.append(
            InflightWindow(
                hours=h,
                until=until,
                kpis=totals[0] if totals else None,
                common_errors=common_errors(s, limit=5, **kw),
            )
        )
    return InflightReport(project=project, start=first, windows=windows)
