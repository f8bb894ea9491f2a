"""Reports of an outbound project's QA process, stage by stage.

Trial phase (试呼): refusal reasons (objections raised, how often answered, the
success rate of the calls where each was raised), the guide map (引导地图: per selling point,
how often agents say it and how the customer's next turn takes it, in four quadrants), and
the highlight-script library ranked by the success of the calls they came from.
In flight (上线跟踪): the first 2, 4 and 6 hours of a project's production calls.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import func
from sqlmodel import Session, select

from qa_service.config import (
    LIKED,
    PROPOSAL_LIFT,
    PROPOSAL_MIN_CALLS,
    SAME_MEANING,
    SAY_OFTEN,
    VOICE_MAX_DISTINCT,
)
from qa_service.domain.enums import (
    PASSING,
    CallOutcome,
    Category,
    FindingStatus,
    Phase,
    Role,
    SectionKind,
)
from qa_service.domain.evaluation import RubricRef
from qa_service.exceptions import BadInput
from qa_service.i18n import message
from qa_service.metrics.kpis import nested_windows
from qa_service.metrics.models import (
    CustomerVoice,
    DropOff,
    GuidePoint,
    HighlightDecisionIn,
    HighlightExample,
    HighlightProposal,
    HighlightScript,
    InflightReport,
    InflightWindow,
    RefusalReason,
    TrialReport,
    VoiceExample,
    VoiceGroup,
)
from qa_service.metrics.voice import Detector, Kind, clauses, group_by_meaning
from qa_service.rules.normalize import normalize
from qa_service.rules.rubric import Rubric
from qa_service.rules.semantic import embed_texts, get_embedder
from qa_service.storage.queries import EVALUATION, filters
from qa_service.storage.repositories.recordings import utterances_by_recording
from qa_service.storage.tables import (
    Evaluation,
    FindingRow,
    HighlightProposalRow,
    HighlightRow,
    Recording,
    utcnow,
)

QUADRANT_RULE = (
    "a point's reaction is what the customer did next (their next utterance): a question, an "
    "objection, a refusal, acceptance (positive), or nothing (a backchannel such as 然后呢 or "
    "这样啊, or anything else); positive_rate = positive / (positive + objection + refusal), "
    "questions and nothing not judged; quadrant 1: said in at least half the calls and "
    "positive_rate >= 0.5, 2: said that often and below 0.5, 3: said less often and below 0.5, "
    "4: said less often and >= 0.5; a point with no judged reply has positive_rate and "
    "quadrant null: listed apart, not placed"
)
VOICE_RULE = (
    "every customer utterance is read clause by clause: a refusal (general words such as 不需要, "
    "不用了, 没兴趣, 算了, and the rubric's refusal phrases), an objection the rubric names, a "
    "question (a question mark, a final 吗 or 呢, an asking word: 什么, 怎么, 多少, 哪, 几, "
    "是不是, 能不能 ...), or neither (backchannels such as 嗯, 然后呢, 这样啊 are neither); "
    "questions, and refusals with objections, are grouped by meaning (sentence vectors, cosine "
    f"with the group's centroid >= {SAME_MEANING}), each named by its medoid; a group's "
    "section is the last script section said before it; drop-off: calls that ended in "
    "refusal, by the last section said before the customer's last refusal"
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


def detector_of(rubric: Rubric) -> Detector:
    """How customer utterances are read in this rubric's calls: the general words plus its
    objections, refusal and success phrases."""
    return Detector(
        objections={o.id: o.customer_says for o in rubric.objections},
        refusal=rubric.outcome.refusal,
        success=rubric.outcome.success,
    )


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
    utterances = utterances_by_recording(s, [r.id for _, r in rows])
    detector = detector_of(rubric)
    decisions = _decisions(s, project)
    proposals, average = _proposals(rows, findings, utterances, detector, decisions)
    return TrialReport(
        project=project,
        phase=phase,
        rubric=RubricRef(id=rubric.id, version=rubric.version),
        calls=calls,
        success_rate=round(successes / calls, 4) if calls else None,
        refusal_reasons=refusals,
        guide_map=_guide_map(rubric, rows, findings, calls, utterances, detector),
        quadrant_rule=QUADRANT_RULE,
        highlights=_highlight_library(s, rows, decisions, proposals),
        customer_voice=customer_voice(rubric, rows, findings, utterances, detector),
        highlight_proposals=proposals,
        acceptance_after_lines=average,
    )


REACTIONS = {
    Kind.OBJECTION: "objection",
    Kind.REFUSAL: "refusal",
    Kind.QUESTION: "question",
    Kind.ACCEPTANCE: "positive",
}


def _guide_map(rubric, rows, findings, calls, utterances, detector) -> list[GuidePoint]:
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
        asked: Counter[str] = Counter()
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
            took = reaction(detector, nxt.text if nxt is not None else None)
            replies[took] += 1
            if nxt is not None and took == "question":
                asked[nxt.text.strip()] += 1
        said_rate = len(hits) / calls if calls else 0.0
        judged = replies["positive"] + replies["objection"] + replies["refusal"]
        liked = replies["positive"] / judged if judged else None
        quadrant = place(said_rate, liked)
        out.append(
            GuidePoint(
                point_id=point.id,
                name=point.name,
                said_in_calls=len(hits),
                said_rate=round(said_rate, 4),
                customer_replies=dict(replies),
                positive_rate=round(liked, 4) if liked is not None else None,
                quadrant=quadrant,
                asked=[t for t, _ in asked.most_common(3)],
            )
        )
    return out


def place(said_rate: float, positive_rate: float | None) -> int | None:
    """The quadrant of QUADRANT_RULE; None when no reply could be judged."""
    if positive_rate is None:
        return None
    we_say, they_like = said_rate >= SAY_OFTEN, positive_rate >= LIKED
    return {(True, True): 1, (True, False): 2, (False, False): 3, (False, True): 4}[
        (we_say, they_like)
    ]


def reaction(detector: Detector, reply: str | None) -> str:
    """How the guide map counts the customer's next utterance after a point: question,
    objection, refusal, positive, nothing (a backchannel or anything else), none (no reply)."""
    if reply is None:
        return "none"
    return REACTIONS.get(detector.kind(reply).kind, "nothing")


def line_key(text: str) -> str:
    """A highlight line's key: its normalized text, hashed (one decision per line and project)."""
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()


def _decisions(s: Session, project: str) -> dict[str, HighlightProposalRow]:
    rows = s.exec(select(HighlightProposalRow).where(HighlightProposalRow.project == project))
    return {r.key: r for r in rows.all()}


def decide_highlight(
    s: Session, project: str, decision: HighlightDecisionIn, reviewer: str
) -> HighlightProposalRow:
    """Store a reviewer's decision on a line (replacing an earlier one on the same line)."""
    asr_text = decision.asr_text.strip()
    if not normalize(asr_text):
        raise BadInput(message("{field}: the line has no words", field="asr_text"))
    text = (decision.text or "").strip() or asr_text
    key = line_key(asr_text)
    row = s.exec(
        select(HighlightProposalRow).where(
            HighlightProposalRow.project == project, HighlightProposalRow.key == key
        )
    ).first() or HighlightProposalRow(
        project=project,
        key=key,
        asr_text=asr_text,
        text=text,
        status=decision.decision,
        reviewer=reviewer,
    )
    row.asr_text, row.text, row.status = asr_text, text, decision.decision
    row.lift, row.calls, row.comment = decision.lift, decision.calls, decision.comment
    row.reviewer, row.decided_at = reviewer, utcnow()
    s.add(row)
    s.commit()
    s.refresh(row)
    return row


def highlight_decisions(s: Session, project: str) -> list[HighlightProposalRow]:
    return list(
        s.exec(
            select(HighlightProposalRow)
            .where(HighlightProposalRow.project == project)
            .order_by(HighlightProposalRow.decided_at.desc(), HighlightProposalRow.id.desc())
        ).all()
    )


def _highlight_library(s, rows, decisions, proposals) -> list[HighlightScript]:
    """The highlights of the calls worth copying (passed, nothing fatal, ended in success), one
    script per reason and normalized text, the most successful first. A reviewer's wording
    replaces the recognizer's; a line a reviewer rejected is left out; proposals accepted join
    as agent_line."""
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
        groups[(h.reason, normalize(h.text))].append(h)
    library = []
    for said in groups.values():
        key = line_key(said[0].text)
        decided = decisions.get(key)
        if decided is not None and decided.status == "rejected":
            continue
        text = decided.text if decided is not None else said[0].text
        successes = sum(by_eval[h.evaluation_id][0].outcome == CallOutcome.SUCCESS for h in said)
        library.append(
            HighlightScript(
                reason=said[0].reason,
                text=text,
                asr_text=said[0].text if text != said[0].text else None,
                key=key,
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
    for p in proposals:
        if p.status == "accepted":
            library.append(
                HighlightScript(
                    reason="agent_line",
                    text=p.text,
                    asr_text=p.asr_text if p.text != p.asr_text else None,
                    key=p.key,
                    calls=p.calls,
                    successes=p.accepted_after,
                    success_rate=p.acceptance_rate,
                    examples=[
                        HighlightExample(
                            recording_id=x.recording_id, agent_id=x.agent_id, start=x.start
                        )
                        for x in p.examples[:3]
                    ],
                )
            )
    return sorted(library, key=lambda g: (-g.successes / g.calls, -g.calls))


# Customers' questions and refusals -------------------------------------------------------


@dataclass
class _Said:
    """One utterance a report groups, where it was said."""

    evaluation_id: int
    recording_id: int
    agent_id: str | None
    start: float
    text: str
    objection_id: str | None = None
    after: str = ""  # the last script section said before it ("" none)
    accepted: bool = False  # agent lines: the customer's next utterance accepted


def _sections_said(rubric: Rubric, findings) -> dict[int, list[tuple[float, str]]]:
    """Per evaluation, (start, section id) of every script section said, in time order."""
    ids = {sec.id for sec in rubric.script_sections}
    out: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for f in findings:
        if f.rule_id in ids and f.effective_status == FindingStatus.HIT and f.evidence:
            out[f.evaluation_id].append((float(f.evidence[0]["start"]), f.rule_id))
    for said in out.values():
        said.sort()
    return out


def _after(sections: list[tuple[float, str]], start: float) -> str:
    last = ""
    for at, section in sections:
        if at >= start:
            break
        last = section
    return last


def _grouped(items: Sequence[_Said]) -> list[tuple[list[_Said], str]]:
    """Items grouped by meaning: (members, the medoid's text), the most said first. The
    VOICE_MAX_DISTINCT most said wordings are embedded; rarer ones group by exact text."""
    by_text: dict[str, list[_Said]] = defaultdict(list)
    for item in items:
        by_text[normalize(item.text) or item.text].append(item)
    distinct = sorted(by_text, key=lambda t: -len(by_text[t]))
    embedded, rest = distinct[:VOICE_MAX_DISTINCT], distinct[VOICE_MAX_DISTINCT:]
    out: list[tuple[list[_Said], str]] = []
    if embedded:
        shown = [by_text[t][0].text for t in embedded]
        vectors = embed_texts(get_embedder(), shown)
        weights = [len(by_text[t]) for t in embedded]
        for g in group_by_meaning(vectors, weights, SAME_MEANING):
            members = [item for i in g.members for item in by_text[embedded[i]]]
            out.append((members, shown[g.medoid]))
    out += [(by_text[t], by_text[t][0].text) for t in rest]
    return sorted(out, key=lambda g: -len(g[0]))


def _examples(members: Sequence[_Said], n: int = 3) -> list[VoiceExample]:
    """One utterance from each of the first `n` calls."""
    seen: set[int] = set()
    out = []
    for m in members:
        if m.evaluation_id not in seen:
            seen.add(m.evaluation_id)
            out.append(
                VoiceExample(
                    evaluation_id=m.evaluation_id,
                    recording_id=m.recording_id,
                    agent_id=m.agent_id or None,
                    start=m.start,
                    text=m.text,
                )
            )
        if len(out) == n:
            break
    return out


def _variants(members: Sequence[_Said], n: int = 5) -> list[str]:
    counts = Counter(m.text.strip() for m in members)
    return [t for t, _ in counts.most_common(n)]


def customer_voice(rubric, rows, findings, utterances, detector) -> CustomerVoice:
    """Every customer question and refusal of these calls, grouped by meaning, and per script
    section the calls that ended in refusal right after it."""
    names = {sec.id: sec.name or sec.id for sec in rubric.script_sections}
    objection_names = {o.id: o.name or o.id for o in rubric.objections}
    sections = _sections_said(rubric, findings)
    questions: list[_Said] = []
    refusals: list[_Said] = []
    last_refusal: dict[int, str] = {}
    refused_calls = [e.id for e, _ in rows if e.outcome == CallOutcome.REFUSAL]
    for e, r in rows:
        said = sections.get(e.id, [])
        last_customer = None
        for u in utterances.get(r.id, []):
            if u.role != Role.CUSTOMER:
                continue
            last_customer = u
            reading = detector.kind(u.text)
            if reading.kind not in (Kind.QUESTION, Kind.REFUSAL, Kind.OBJECTION):
                continue
            item = _Said(e.id, r.id, r.agent_id, u.start, u.text, reading.objection_id)
            item.after = _after(said, u.start)
            if reading.kind == Kind.QUESTION:
                questions.append(item)
            else:
                refusals.append(item)
                last_refusal[e.id] = item.after
        if e.outcome == CallOutcome.REFUSAL and e.id not in last_refusal and last_customer:
            last_refusal[e.id] = _after(said, last_customer.start)
    calls = len(rows)

    def groups(items: list[_Said], kind: str) -> list[VoiceGroup]:
        # What the rubric names one objection is one reason, however it is worded; the rest
        # group by meaning.
        named: dict[str, list[_Said]] = defaultdict(list)
        for item in items:
            if item.objection_id:
                named[item.objection_id].append(item)
        found = _grouped([item for item in items if not item.objection_id])
        for said in named.values():
            parts = _grouped(said)  # the most said wording names it
            found.append(([m for members, _label in parts for m in members], parts[0][1]))
        out = []
        for members, label in found:
            in_calls = len({m.evaluation_id for m in members})
            after = Counter(m.after for m in members)
            top_after = after.most_common(1)[0][0]
            objections = Counter(m.objection_id for m in members if m.objection_id)
            top_objection = objections.most_common(1)[0][0] if objections else None
            out.append(
                VoiceGroup(
                    label=label.strip(),
                    kind=kind,
                    utterances=len(members),
                    calls=in_calls,
                    share_of_calls=round(in_calls / calls, 4) if calls else None,
                    objection_id=top_objection,
                    objection_name=objection_names.get(top_objection) if top_objection else None,
                    after_section=top_after or None,
                    after_section_name=names.get(top_after) if top_after else None,
                    after_sections=dict(after.most_common()),
                    variants=_variants(members),
                    examples=_examples(members),
                )
            )
        return sorted(out, key=lambda g: (-g.calls, -g.utterances, g.label))

    reached = Counter(sec for said in sections.values() for sec in {x for _, x in said})
    ended = Counter(last_refusal[e] for e in refused_calls if e in last_refusal)
    drop_off = [
        DropOff(
            section_id=sec.id,
            name=sec.name or sec.id,
            reached=reached[sec.id],
            refused_after=ended[sec.id],
            refused_share=round(ended[sec.id] / reached[sec.id], 4) if reached[sec.id] else None,
        )
        for sec in rubric.script_sections
    ]
    if ended[""]:
        drop_off.insert(
            0,
            DropOff(
                section_id=None,
                name="",
                reached=calls,
                refused_after=ended[""],
                refused_share=round(ended[""] / calls, 4) if calls else None,
            ),
        )
    return CustomerVoice(
        calls=calls,
        questions=groups(questions, "question"),
        refusals=groups(refusals, "refusal"),
        drop_off=drop_off,
        rule=VOICE_RULE,
    )


# Lines agents invented ---------------------------------------------------------------------
# An agent line shorter than this (normalized characters) says too little to copy (好的, 您好).
LINE_MIN_CHARS = 6


def _proposals(
    rows, findings, utterances, detector, decisions
) -> tuple[list[HighlightProposal], float | None]:
    """Agent lines that are no rubric rule's evidence (not in the script), from calls without
    a fatal finding, grouped by meaning; a group whose lines the customer's next utterance
    accepts at least PROPOSAL_LIFT times as often as after the project's agent lines on
    average, in PROPOSAL_MIN_CALLS calls or more, is proposed. Returns them and the average."""
    scripted: dict[int, set[float]] = defaultdict(set)
    for f in findings:
        if f.category in (Category.SILENCE, Category.INTERRUPTION, Category.SPEECH_RATE):
            continue
        for ev in f.evidence:
            if ev.get("role") != Role.CUSTOMER and ev.get("start") is not None:
                scripted[f.evaluation_id].add(round(float(ev["start"]), 2))
    lines: list[_Said] = []
    total = accepted = 0
    for e, r in rows:
        call = utterances.get(r.id, [])
        for i, u in enumerate(call):
            if u.role != Role.AGENT:
                continue
            nxt = next((x for x in call[i + 1 :] if x.role == Role.CUSTOMER), None)
            took = nxt is not None and detector.kind(nxt.text).kind == Kind.ACCEPTANCE
            total += 1
            accepted += took
            if (
                e.effective_fatal
                or round(u.start, 2) in scripted[e.id]
                or len(normalize(u.text)) < LINE_MIN_CHARS
                or not clauses(u.text)
            ):
                continue
            lines.append(_Said(e.id, r.id, r.agent_id, u.start, u.text, accepted=took))
    average = accepted / total if total else None
    if not average or not any(x.accepted for x in lines):
        return [], round(average, 4) if average is not None else None
    out = []
    for members, label in _grouped(lines):
        took = sum(m.accepted for m in members)
        in_calls = len({m.evaluation_id for m in members if m.accepted})
        rate = took / len(members)
        lift = rate / average
        if lift < PROPOSAL_LIFT or in_calls < PROPOSAL_MIN_CALLS:
            continue
        key = line_key(label)
        decided = decisions.get(key)
        out.append(
            HighlightProposal(
                key=key,
                text=decided.text if decided is not None else label.strip(),
                asr_text=label.strip(),
                variants=_variants(members),
                said=len(members),
                calls=len({m.evaluation_id for m in members}),
                accepted_after=took,
                acceptance_rate=round(rate, 4),
                lift=round(lift, 2),
                examples=_examples([m for m in members if m.accepted]),
                status=decided.status if decided is not None else "proposed",
                decided_by=decided.reviewer if decided is not None else None,
                decided_at=decided.decided_at if decided is not None else None,
            )
        )
    return sorted(out, key=lambda p: (-p.lift, -p.calls)), round(average, 4)


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


class _Call(NamedTuple):
    """What the customers' words read of an evaluation: not the whole row."""

    id: int
    outcome: str | None


class _Rec(NamedTuple):
    id: int
    agent_id: str | None


class _SectionFinding(NamedTuple):
    evaluation_id: int
    rule_id: str
    effective_status: str
    evidence: list


def _window_voice(s: Session, rubric: Rubric, project: str, since, until) -> CustomerVoice:
    """The customers' words of the production calls in [since, until), reading only the
    columns customer_voice uses: the calls' ids, outcomes and agents, the script sections'
    findings, and the customers' utterances (ORM rows with every finding cost more than the
    grouping itself)."""
    in_window = filters(
        EVALUATION, project=project, phase=Phase.PRODUCTION, since=since, until=until
    )
    # the evaluation's copy of the call's agent (copy_metadata): no probe of each recording
    calls = s.exec(
        select(
            Evaluation.id, Evaluation.outcome, Evaluation.recording_id, Evaluation.agent_id
        ).where(in_window)
    ).all()
    rows = [(_Call(e_id, outcome), _Rec(r_id, agent)) for e_id, outcome, r_id, agent in calls]
    sections = [sec.id for sec in rubric.script_sections]
    findings: list[_SectionFinding] = []
    if sections and rows:
        findings = [
            _SectionFinding(e_id, rule_id, reviewed or status, evidence)
            for e_id, rule_id, status, reviewed, evidence in s.exec(
                select(
                    FindingRow.evaluation_id,
                    FindingRow.rule_id,
                    FindingRow.status,
                    FindingRow.reviewed_status,
                    FindingRow.evidence,
                )
                .join(Evaluation, Evaluation.id == FindingRow.evaluation_id)
                .where(in_window, FindingRow.rule_id.in_(sections))
            ).all()
        ]
    utterances = utterances_by_recording(s, [r.id for _, r in rows], role=Role.CUSTOMER)
    return customer_voice(rubric, rows, findings, utterances, detector_of(rubric))


def inflight_report(
    s: Session, project: str, hours: tuple[int, ...] = (2, 4, 6), rubric: Rubric | None = None
) -> InflightReport:
    """The first hours of a project's production calls: where common errors show first; with
    `rubric` (the project's), also the customers' questions and refusals of the widest window."""
    first = _first_call(s, project)
    if first is None:
        return InflightReport(project=project, start=None, windows=[])
    untils = [first + timedelta(hours=h) for h in hours]
    found = (
        nested_windows(s, first, untils, project=project, phase=Phase.PRODUCTION) if hours else []
    )
    windows = [
        InflightWindow(hours=h, until=until, kpis=kpis, common_errors=errors)
        for h, until, (kpis, errors) in zip(hours, untils, found, strict=True)
    ]
    voice = None
    if rubric is not None and hours:
        voice = _window_voice(s, rubric, project, first, first + timedelta(hours=max(hours)))
    return InflightReport(project=project, start=first, windows=windows, customer_voice=voice)
