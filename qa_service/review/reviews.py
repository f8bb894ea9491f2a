"""Reviews: reviewers' corrections of the machine, kept as an audit trail and applied to every
evaluation they concern.

A review belongs to a recording and a rule (rubric id, rule id, and for findings that occur
several times, the time span), not to a finding row (qa_service.storage.tables.Review).
`apply_reviews` lays the reviews of a call over whatever the machine found, from scratch, after
each change: a rescoring (same version or a new one), a new review, a withdrawal. So rescoring
never deletes what a review refers to and never fails because of one.

Invariants, after every `apply_reviews` on an evaluation:
- the machine's columns (Evaluation.score/grade/fatal, FindingRow.status/deduction) are
  untouched;
- of the reviews of one key (target, rule, span) the newest not withdrawn decides, except that
  a confirm by another reviewer than the one whose override or addition stands is a second
  opinion (kept in the trail, deciding nothing), and an appeal's ruling (Review.appeal_id)
  decides over every other review of its key; the deciding review applies
  when the evaluation's rubric version has the rule with the category the reviewer saw (and,
  for a finding review, the machine still reports that finding); a grade review applies to the
  version it was made on only. Reviews that do not apply are counted in `needs_rereview`;
- `reviewed_score/grade/fatal` are set when some review applies: the score recomputed by the
  same scoring rules (qa_service.rules.scoring) from the reviewed findings, the grade from that
  score unless a grade review decides it. Otherwise they are None (the machine's result stands).
Callers run it inside `rollup.tracked(...)`, so the rollups follow.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlmodel import Session, select

from qa_service.domain.enums import COSTLY, Category, FindingSource, FindingStatus, Grade, Role
from qa_service.domain.results import Finding
from qa_service.exceptions import (
    Forbidden,
    ReviewConflict,
    ReviewError,
    ReviewNotFound,
    RubricError,
)
from qa_service.i18n import codes, message, name_of
from qa_service.review.models import shown_reviewer
from qa_service.review.tasks import ensure_rereview
from qa_service.rules.rubric import Rubric, Scoring, parse_rubric
from qa_service.rules.scoring import PER_OCCURRENCE, grade_of, score_findings
from qa_service.storage.queries import among
from qa_service.storage.repositories.evaluations import Written
from qa_service.storage.rollups import tracked
from qa_service.storage.tables import (
    Evaluation,
    FindingRow,
    Review,
    RubricRow,
    UtteranceRow,
    utcnow,
)

GRADES = Grade.values()
S, C = FindingStatus, Category
# Allowed statuses per category, the good one first: what machine and reviewers may say.
STATUSES: dict[str, tuple[str, str]] = {
    C.SCRIPT_SECTION: (S.HIT, S.MISSED),
    C.MANDATORY_POINT: (S.HIT, S.MISSED),
    C.FORBIDDEN_PHRASE: (S.DISMISSED, S.VIOLATION),
    C.ATTITUDE_ERROR: (S.DISMISSED, S.VIOLATION),
    C.SILENCE: (S.DISMISSED, S.VIOLATION),
    C.INTERRUPTION: (S.DISMISSED, S.VIOLATION),
    C.SPEECH_RATE: (S.DISMISSED, S.VIOLATION),
    C.OBJECTION: (S.HANDLED, S.UNHANDLED),
}


def allowed_statuses(category: str) -> list[str]:
    """In the order the machine reports them: hit/missed, violation/dismissed, handled/unhandled."""
    good, bad = STATUSES.get(category, (S.DISMISSED, S.VIOLATION))
    return [str(good), str(bad)] if good in (S.HIT, S.HANDLED) else [str(bad), str(good)]


def addable_statuses(category: str) -> list[str]:
    """What a reviewer may add: the bad status, and for objections also a handled one the
    machine did not notice (it is still a finding, it costs nothing)."""
    good, bad = STATUSES.get(category, (S.DISMISSED, S.VIOLATION))
    return [str(bad), str(good)] if category == C.OBJECTION else [str(bad)]


# Rules of a rubric ----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    rule_id: str
    category: str
    name: str
    deduct: float  # what the bad status costs (per occurrence for silence and interruption)
    severity: str = "normal"
    max_deduct: float | None = None


@dataclass(frozen=True)
class Catalog:
    """What reviews need of a rubric version: its rules and its scoring."""

    rules: dict[str, RuleInfo]
    scoring: Scoring
    known: bool = True  # False: the rubric text is not stored, rules were read off the findings


def catalog_of(rubric: Rubric) -> Catalog:
    rules: dict[str, RuleInfo] = {}

    def add(info: RuleInfo) -> None:
        rules.setdefault(info.rule_id, info)

    for r in rubric.script_sections:
        add(RuleInfo(r.id, C.SCRIPT_SECTION, r.name, r.weight))
    for r in rubric.mandatory_points:
        add(RuleInfo(r.id, C.MANDATORY_POINT, r.name, r.weight))
    for r in rubric.forbidden_phrases:
        add(RuleInfo(r.id, C.FORBIDDEN_PHRASE, r.name, r.deduct, r.severity))
    for r in rubric.attitude_errors:
        add(RuleInfo(r.id, C.ATTITUDE_ERROR, r.name, r.deduct, r.severity))
    for r in rubric.objections:
        add(RuleInfo(r.id, C.OBJECTION, r.name, r.weight))
    if rubric.silence:
        add(
            RuleInfo(
                "silence",
                C.SILENCE,
                "静音",
                rubric.silence.deduct,
                "normal",
                rubric.silence.max_deduct,
            )
        )
    if rubric.interruption:
        add(
            RuleInfo(
                "interruption",
                C.INTERRUPTION,
                "抢话",
                rubric.interruption.deduct,
                "normal",
                rubric.interruption.max_deduct,
            )
        )
    if rubric.speech_rate:
        add(RuleInfo("speech_rate", C.SPEECH_RATE, "语速", rubric.speech_rate.deduct))
    return Catalog(rules, rubric.scoring)


@functools.lru_cache(maxsize=64)
def _parsed_catalog(sha256: str, yaml_text: str, label: str) -> Catalog | None:
    try:
        return catalog_of(parse_rubric(yaml_text, label))
    except RubricError:
        return None


def stored_catalog(session: Session, rubric_id: str, version: int) -> Catalog | None:
    row = session.exec(
        select(RubricRow).where(RubricRow.rubric_id == rubric_id, RubricRow.version == version)
    ).first()
    if row is None:
        return None
    return _parsed_catalog(row.sha256, row.yaml_text, f"{rubric_id} v{version}")


def catalog_from_findings(rows: Iterable[FindingRow]) -> Catalog:
    """A rubric whose text was never stored (evaluations written straight through the store):
    its rules as the machine's findings show them, the spec's default scoring. Only a fallback,
    so that rescoring never fails because of a review."""
    rules: dict[str, RuleInfo] = {}
    for f in rows:
        if f.source != FindingSource.MACHINE:
            continue
        known = rules.get(f.rule_id)
        deduct = max(f.deduction, known.deduct if known else 0.0)
        rules[f.rule_id] = RuleInfo(f.rule_id, f.category, f.name, deduct, f.severity)
    return Catalog(rules, Scoring(), known=False)


def catalog_for(session: Session, ev: Evaluation, rows: Iterable[FindingRow]) -> Catalog:
    return stored_catalog(session, ev.rubric_id, ev.rubric_version) or catalog_from_findings(rows)


# Planning: which review applies to what -------------------------------------------------


def span_of(evidence: list[dict]) -> tuple[float | None, float | None]:
    starts = [e["start"] for e in evidence if e.get("start") is not None]
    ends = [e["end"] for e in evidence if e.get("end") is not None]
    return (min(starts), max(ends)) if starts and ends else (None, None)


def _overlap(a: tuple, b: tuple) -> float:
    if None in a or None in b:
        return -1.0
    return min(a[1], b[1]) - max(a[0], b[0])


def thing_key(
    target: str,
    rubric_version: int,
    added: bool,
    rule_id: str | None,
    category: str | None,
    start: float | None,
    end: float | None,
) -> tuple:
    """One key per thing judged (a grade, a finding, an added finding): the newest review of a
    key decides, and an appeal disputes one key."""
    if target == "grade":  # a grade is judged under one rubric version
        return ("grade", rubric_version)
    spanned = added or category in PER_OCCURRENCE
    span = (round(start, 2), round(end or 0.0, 2)) if spanned and start is not None else None
    return ("finding", added, rule_id, span)


def review_key(r: Review) -> tuple:
    return thing_key(
        r.target, r.rubric_version, r.action == "add", r.rule_id, r.category, r.start, r.end
    )


@dataclass
class Plan:
    """The reviews of one call laid over one evaluation's machine findings."""

    states: dict[int, tuple[str, str | None]] = field(
        default_factory=dict
    )  # review -> (state, reason)
    statuses: dict[int, tuple[str, int]] = field(
        default_factory=dict
    )  # finding row -> (status, review)
    additions: list[Review] = field(default_factory=list)
    grade: Review | None = None

    @property
    def applied(self) -> bool:
        return any(state == "applied" for state, _ in self.states.values())

    @property
    def needs_rereview(self) -> int:
        return sum(state == "needs_rereview" for state, _ in self.states.values())


def plan(
    ev: Evaluation, machine: list[FindingRow], reviews: list[Review], catalog: Catalog
) -> Plan:
    """Pure: which of `reviews` (all of this call under this rubric id, any version, oldest
    first) apply to evaluation `ev`, and how."""
    out = Plan()
    newest: dict[tuple, Review] = {}
    for r in reviews:
        if r.withdrawn_at is not None:
            out.states[r.id] = ("withdrawn", None)
            continue
        key = review_key(r)
        standing = newest.get(key)
        if standing is not None and second_opinion(standing, r):
            out.states[r.id] = ("second_opinion", None)
            continue
        if standing is not None:
            out.states[standing.id] = ("superseded", None)
        newest[key] = r
    own_grade = ("grade", ev.rubric_version) in newest
    for key, r in newest.items():
        if key[0] == "grade" and key != ("grade", ev.rubric_version) and own_grade:
            out.states[r.id] = ("superseded", None)  # this version has its own grade review
            continue
        reason = _why_not(ev, r, catalog)
        if reason is None and r.target == "grade":
            out.grade = r
        elif reason is None and r.action == "add":
            reason = _add(out, r, machine)
        elif reason is None:
            reason = _override(out, r, machine)
        out.states[r.id] = ("needs_rereview", reason) if reason else ("applied", None)
    return out


def second_opinion(standing: Review, later: Review) -> bool:
    """Whether `later` leaves `standing` deciding: an appeal's ruling is final, and a confirm
    does not silently undo another reviewer's override or addition."""
    if standing.appeal_id is not None:
        return later.appeal_id is None
    return (
        later.appeal_id is None
        and later.action == "confirm"
        and standing.action in ("override", "add")
        and standing.reviewer != later.reviewer
    )


def _why_not(ev: Evaluation, r: Review, catalog: Catalog) -> str | None:
    if r.target == "grade":
        return None if r.rubric_version == ev.rubric_version else "rubric_version_changed"
    info = catalog.rules.get(r.rule_id or "")
    if info is None:
        return "rule_removed"
    if r.category is not None and info.category != r.category:
        return "category_changed"
    return None


def _targets(r: Review, machine: list[FindingRow]) -> list[FindingRow]:
    rows = [f for f in machine if f.rule_id == r.rule_id]
    if r.category in PER_OCCURRENCE and r.start is not None:
        span = (r.start, r.end)
        best = max(rows, key=lambda f: _overlap(span_of(f.evidence), span), default=None)
        return [best] if best is not None and _overlap(span_of(best.evidence), span) >= 0 else []
    return rows


def _override(out: Plan, r: Review, machine: list[FindingRow]) -> str | None:
    rows = _targets(r, machine)
    if not rows:
        return "finding_gone"
    for f in rows:
        out.statuses[f.id] = (r.new_value, r.id)
    return None


def _add(out: Plan, r: Review, machine: list[FindingRow]) -> str | None:
    span = (r.start, r.end)
    found = [
        f
        for f in machine
        if f.rule_id == r.rule_id
        and f.status == r.new_value
        and (r.category not in PER_OCCURRENCE or _overlap(span_of(f.evidence), span) >= 0)
    ]
    if not found:  # the machine sees it now (a new rubric version): nothing to add
        out.additions.append(r)
    return None


# Scoring the reviewed findings ----------------------------------------------------------


@dataclass
class ReviewedFinding:
    row: FindingRow | None  # None for an addition
    rule_id: str
    category: str
    status: str
    severity: str
    start: float | None
    deduction: float = 0.0


def reviewed_findings(
    machine: list[FindingRow], p: Plan, catalog: Catalog
) -> list[ReviewedFinding]:
    """The machine's findings with the reviewed statuses and the additions, each with the
    deduction its status costs under the rubric (the machine's own where nothing changed)."""
    out = []
    for f in machine:
        status = p.statuses.get(f.id, (f.status, None))[0]
        out.append(
            ReviewedFinding(f, f.rule_id, f.category, status, f.severity, span_of(f.evidence)[0])
        )
    for r in p.additions:
        info = catalog.rules[r.rule_id]
        out.append(
            ReviewedFinding(None, r.rule_id, info.category, r.new_value, info.severity, r.start)
        )
    capped: dict[str, float] = defaultdict(float)
    for rf in sorted(out, key=lambda x: (x.start is None, x.start or 0.0)):
        info = catalog.rules.get(rf.rule_id)
        if rf.status not in COSTLY:
            rf.deduction = 0.0
        elif (
            rf.row is not None
            and rf.row.status == rf.status
            and (rf.category not in PER_OCCURRENCE or info is None)
        ):
            rf.deduction = rf.row.deduction
        elif info is None:
            rf.deduction = max(
                (f.deduction for f in machine if f.rule_id == rf.rule_id), default=0.0
            )
        elif rf.category in PER_OCCURRENCE and info.max_deduct is not None:
            rf.deduction = max(0.0, min(info.deduct, info.max_deduct - capped[rf.rule_id]))
            capped[rf.rule_id] += rf.deduction
        else:
            rf.deduction = info.deduct
    return out


def reviewed_score(
    findings: list[ReviewedFinding], p: Plan, scoring: Scoring
) -> tuple[float, str, bool, str]:
    """(score, grade, fatal, computed grade): the same scoring rules as the machine's; a grade
    review's value wins over the computed grade."""
    score, computed, fatal = score_findings(
        [
            Finding(f.rule_id, f.category, f.status, f.deduction, severity=f.severity)
            for f in findings
        ],
        scoring,
    )
    grade = p.grade.new_value if p.grade is not None else computed
    return score, grade, fatal, computed


# Applying -------------------------------------------------------------------------------


def reviews_of(
    session: Session, recording_ids: Iterable[int], rubric_ids: Iterable[str]
) -> dict[tuple[int, str], list[Review]]:
    out: dict[tuple[int, str], list[Review]] = defaultdict(list)
    ids = sorted(set(recording_ids))
    if not ids:
        return out
    for r in session.exec(
        select(Review)
        .where(among(Review.recording_id, ids, session), Review.rubric_id.in_(set(rubric_ids)))
        .order_by(Review.id)
    ).all():
        out[r.recording_id, r.rubric_id].append(r)
    return out


def apply_reviews(session: Session, evaluations: list[Evaluation]) -> None:
    """Lay each call's reviews over these evaluations' machine findings, from scratch (see the
    module's invariants). Run inside `rollup.tracked(...)` of the same recordings."""
    if not evaluations:
        return
    reviews = reviews_of(
        session, (e.recording_id for e in evaluations), (e.rubric_id for e in evaluations)
    )
    touched = [
        e
        for e in evaluations
        if reviews.get((e.recording_id, e.rubric_id))
        or e.reviewed_grade is not None
        or e.needs_rereview
    ]
    for ev in evaluations:
        ev.reviewed_score = ev.reviewed_grade = ev.reviewed_fatal = None
        ev.needs_rereview = 0
        session.add(ev)
    _apply_touched(session, touched, reviews)


def apply_written(session: Session, written: list[Written]) -> None:
    """apply_reviews over evaluations just stored (Evaluations.write, which stored them without
    a reviewed result): only those of calls with reviews, or that replaced a reviewed row, are
    read as objects. Run inside `rollup.tracked(...)` of the same recordings."""
    if not written:
        return
    reviews = reviews_of(session, (w.recording_id for w in written), (w.rubric_id for w in written))
    ids = [w.id for w in written if reviews.get((w.recording_id, w.rubric_id)) or w.was_reviewed]
    if not ids:
        return
    loaded = {
        ev.id: ev
        for ev in session.exec(select(Evaluation).where(among(Evaluation.id, ids, session))).all()
    }
    # in the order written, as apply_reviews goes: added findings and tasks take ids in it
    _apply_touched(session, [loaded[i] for i in dict.fromkeys(ids)], reviews)


def _apply_touched(
    session: Session,
    touched: list[Evaluation],
    reviews: dict[tuple[int, str], list[Review]],
) -> None:
    """The reviews laid over these evaluations, their reviewed results cleared already."""
    if not touched:
        return
    ids = [e.id for e in touched]
    session.exec(
        delete(FindingRow).where(
            FindingRow.evaluation_id.in_(ids), FindingRow.source != FindingSource.MACHINE
        )
    )
    rows: dict[int, list[FindingRow]] = defaultdict(list)
    for f in session.exec(
        select(FindingRow).where(FindingRow.evaluation_id.in_(ids)).order_by(FindingRow.id)
    ).all():
        rows[f.evaluation_id].append(f)
    for ev in touched:
        _apply(session, ev, rows[ev.id], reviews.get((ev.recording_id, ev.rubric_id), []))
        if ev.is_current and ev.needs_rereview:
            # a review the new version cannot carry: people judge the call again (a task)
            ensure_rereview(session, ev)
    session.flush()


def _apply(
    session: Session, ev: Evaluation, machine: list[FindingRow], reviews: list[Review]
) -> None:
    catalog = catalog_for(session, ev, machine)
    p = plan(ev, machine, reviews, catalog)
    findings = reviewed_findings(machine, p, catalog)
    for rf in findings:
        if rf.row is not None:
            status, review_id = p.statuses.get(rf.row.id, (None, None))
            rf.row.reviewed_status, rf.row.review_id = status, review_id
            rf.row.reviewed_deduction = rf.deduction if status is not None else None
            session.add(rf.row)
    for rf, r in zip([f for f in findings if f.row is None], p.additions):
        info = catalog.rules[r.rule_id]
        session.add(
            FindingRow(
                evaluation_id=ev.id,
                rule_id=r.rule_id,
                category=info.category,
                status="",
                deduction=0.0,
                name=info.name,
                severity=info.severity,
                detail=message("added by a reviewer"),
                evidence=[{"start": r.start, "end": r.end, **said_by(r.evidence_text)}],
                reviewed_status=r.new_value,
                reviewed_deduction=rf.deduction,
                source=FindingSource.REVIEWER,
                review_id=r.id,
            )
        )
    ev.needs_rereview = p.needs_rereview
    if p.applied:
        ev.reviewed_score, ev.reviewed_grade, ev.reviewed_fatal, _ = reviewed_score(
            findings, p, catalog.scoring
        )
        if ev.grade == Grade.NO_SPEECH and p.grade is None and not ev.reviewed_fatal:
            # the machine heard no speech: reviewed findings alone do not grade the call (a
            # fatal one does, as in rules.scoring), a grade review does (the reviewer judged it)
            ev.reviewed_grade = Grade.NO_SPEECH
    session.add(ev)


def current_of(session: Session, ev: Evaluation) -> Evaluation:
    """The call's current evaluation under `ev`'s rubric id (a rescoring since made a new
    one), else `ev` itself: what a ruling, a consensus or a done task is laid on."""
    current = session.exec(
        select(Evaluation).where(
            Evaluation.recording_id == ev.recording_id,
            Evaluation.rubric_id == ev.rubric_id,
            Evaluation.is_current,
        )
    ).first()
    return current or ev


def reapply(session: Session, recording_id: int, rubric_id: str) -> list[Evaluation]:
    """After a review or a withdrawal: every evaluation of the call under that rubric id,
    with the rollups kept in step."""
    with tracked(session, [recording_id]):
        evaluations = list(
            session.exec(
                select(Evaluation).where(
                    Evaluation.recording_id == recording_id, Evaluation.rubric_id == rubric_id
                )
            ).all()
        )
        apply_reviews(session, evaluations)
    return evaluations


# Creating and withdrawing reviews -------------------------------------------------------


@dataclass
class ReviewRequest:
    target: str  # grade | finding
    action: str  # confirm | override | add
    finding_id: int | None = None
    rule_id: str | None = None
    value: str | None = None
    start: float | None = None
    end: float | None = None
    comment: str = ""


def create_review(
    session: Session,
    evaluation_id: int,
    req: ReviewRequest,
    reviewer: str,
    appeal_id: int | None = None,
) -> Review:
    """Check the request against the evaluation and its rubric, keep it in the trail, and
    apply it (to this evaluation and every other of the call under the same rubric id).
    `appeal_id`: the review is that appeal's final ruling (review/appeals.py)."""
    ev = session.get(Evaluation, evaluation_id)
    if ev is None:
        raise ReviewNotFound(message("no evaluation {id}", id=evaluation_id))
    comment = (req.comment or "").strip()
    if req.action in ("override", "add") and not comment:
        raise ReviewError(message("a comment is required for override and add"))
    row = Review(
        recording_id=ev.recording_id,
        rubric_id=ev.rubric_id,
        rubric_version=ev.rubric_version,
        evaluation_id=ev.id,
        target=req.target,
        action=req.action,
        comment=comment,
        reviewer=reviewer,
        new_value="",
        created_at=utcnow(),
        appeal_id=appeal_id,
    )
    if req.target == "grade":
        _grade_review(row, ev, req)
    elif req.target == "finding" and req.action == "add":
        _addition(session, row, ev, req)
    elif req.target == "finding":
        _finding_review(session, row, ev, req)
    else:
        raise ReviewError(
            message("{field} must be {a} or {b}", field="target", a="grade", b="finding")
        )
    session.add(row)
    session.flush()
    reapply(session, ev.recording_id, ev.rubric_id)
    return row


def _decide(action: str, value: str | None, current: str, allowed: list[str], what: str) -> str:
    if action == "confirm":
        if value is not None and value != current:
            raise ReviewError(
                message(
                    "confirm keeps the current {what} {current}; use override to set {value}",
                    what=message(what),
                    current=repr(current),
                    value=repr(value),
                )
            )
        return current
    if action != "override":
        raise ReviewError(
            message("action must be confirm or override for a {what}", what=message(what))
        )
    if value not in allowed:
        raise ReviewError(
            message(
                "{what} {value} is not allowed; allowed: {allowed}",
                what=message(what),
                value=repr(value),
                allowed=codes(allowed),
            )
        )
    return value


def _grade_review(row: Review, ev: Evaluation, req: ReviewRequest) -> None:
    if req.action == "add":
        raise ReviewError(message("add is for findings; a grade is confirmed or overridden"))
    row.machine_value, row.old_value = ev.grade, ev.effective_grade
    row.new_value = _decide(req.action, req.value, ev.effective_grade, list(GRADES), "grade")


def _finding_review(session: Session, row: Review, ev: Evaluation, req: ReviewRequest) -> None:
    finding = _the_finding(session, ev, req)
    if finding.source != FindingSource.MACHINE:
        raise ReviewConflict(
            message(
                "finding {finding} was added by review {review}; withdraw that review instead",
                finding=finding.id,
                review=finding.review_id,
            )
        )
    allowed = allowed_statuses(finding.category)
    current = finding.effective_status
    try:
        row.new_value = _decide(req.action, req.value, current, allowed, "status")
    except ReviewError as exc:
        if req.action == "override" and req.value not in allowed:
            raise ReviewError(
                message(
                    "status {value} is not valid for {category} rule {rule}; allowed: {allowed}",
                    value=repr(req.value),
                    category=name_of(finding.category),
                    rule=repr(finding.rule_id),
                    allowed=codes(allowed),
                )
            ) from None
        raise exc
    row.rule_id, row.category = finding.rule_id, finding.category
    row.start, row.end = span_of(finding.evidence)
    row.machine_value, row.old_value = finding.status, current
    row.evidence_text = " / ".join(e.get("text", "") for e in finding.evidence)[:2000]


def _the_finding(session: Session, ev: Evaluation, req: ReviewRequest) -> FindingRow:
    if req.finding_id is not None:
        finding = session.get(FindingRow, req.finding_id)
        if finding is None or finding.evaluation_id != ev.id:
            raise ReviewNotFound(
                message(
                    "no finding {finding} in evaluation {evaluation}",
                    finding=req.finding_id,
                    evaluation=ev.id,
                )
            )
        return finding
    if not req.rule_id:
        raise ReviewError(
            message("{a} or {b} is required for a finding review", a="finding_id", b="rule_id")
        )
    rows = [
        f
        for f in session.exec(
            select(FindingRow)
            .where(
                FindingRow.evaluation_id == ev.id,
                FindingRow.rule_id == req.rule_id,
                FindingRow.source == FindingSource.MACHINE,
            )
            .order_by(FindingRow.id)
        ).all()
    ]
    if not rows:
        raise ReviewNotFound(
            message(
                "no finding of rule {rule} in evaluation {id} (a finding the machine missed is "
                "added with action add)",
                rule=repr(req.rule_id),
                id=ev.id,
            )
        )
    if len(rows) > 1 and rows[0].category in PER_OCCURRENCE:
        if req.start is None:
            raise ReviewError(
                message(
                    "rule {rule} has {n} findings in evaluation {id}; give finding_id (or start "
                    "and end)",
                    rule=repr(req.rule_id),
                    n=len(rows),
                    id=ev.id,
                )
            )
        span = (req.start, req.end if req.end is not None else req.start)
        return max(rows, key=lambda f: _overlap(span_of(f.evidence), span))
    return rows[0]


def _addition(session: Session, row: Review, ev: Evaluation, req: ReviewRequest) -> None:
    machine = list(
        session.exec(
            select(FindingRow).where(
                FindingRow.evaluation_id == ev.id, FindingRow.source == FindingSource.MACHINE
            )
        ).all()
    )
    catalog = catalog_for(session, ev, machine)
    if not req.rule_id:
        raise ReviewError(message("{field} is required to add a finding", field="rule_id"))
    info = catalog.rules.get(req.rule_id)
    if info is None:
        raise ReviewError(
            message(
                "rule {rule} is not in rubric {rubric} version {version}; its rules: {rules}",
                rule=repr(req.rule_id),
                rubric=ev.rubric_id,
                version=ev.rubric_version,
                rules=codes(sorted(catalog.rules)),
            )
        )
    if req.start is None or req.end is None or not 0 <= req.start < req.end:
        raise ReviewError(
            message("start and end (seconds, start < end) are required to add a finding")
        )
    if ev.duration and req.start > ev.duration:
        raise ReviewError(
            message(
                "start {start:g} s is after the end of the call ({duration:g} s)",
                start=req.start,
                duration=ev.duration,
            )
        )
    allowed = addable_statuses(info.category)
    if req.value not in allowed:
        raise ReviewError(
            message(
                "status {value} cannot be added for {category} rule {rule}; allowed: {allowed}",
                value=repr(req.value),
                category=name_of(info.category),
                rule=repr(info.rule_id),
                allowed=codes(allowed),
            )
        )
    same = [f for f in machine if f.rule_id == info.rule_id]
    if same and info.category not in PER_OCCURRENCE:
        raise ReviewConflict(
            message(
                "rule {rule} already has finding {finding} ({status}); override it instead",
                rule=info.name or info.rule_id,
                finding=same[0].id,
                status=name_of(same[0].status),
            )
        )
    row.rule_id, row.category = info.rule_id, info.category
    row.start, row.end = float(req.start), float(req.end)
    row.old_value, row.new_value = "", req.value
    row.evidence_text = spoken_between(session, ev.recording_id, row.start, row.end)


def spoken_between(session: Session, recording_id: int, start: float, end: float) -> str:
    """What was said in the span: the utterances it covers for at least half of the shorter
    of the two (a span that only grazes the next utterance does not take its words); in a
    pause, the utterance it overlaps most."""
    rows = session.exec(
        select(UtteranceRow)
        .where(
            UtteranceRow.recording_id == recording_id,
            UtteranceRow.end > start,
            UtteranceRow.start < end,
        )
        .order_by(UtteranceRow.seq)
    ).all()

    def overlap(u: UtteranceRow) -> float:
        return min(u.end, end) - max(u.start, start)

    kept = [u for u in rows if overlap(u) >= 0.5 * min(u.end - u.start, end - start)]
    if not kept and rows:
        kept = [max(rows, key=overlap)]
    return " / ".join(f"{u.role}: {u.text}" for u in kept)[:2000]


def said_by(evidence_text: str) -> dict[str, str]:
    """A reviewer-added finding's evidence: the speaker's role and words when one speaker said
    them all, else every part with its speaker (role `any`)."""
    parts = [p.partition(": ") for p in evidence_text.split(" / ")] if evidence_text else []
    roles = {role for role, sep, _ in parts if sep and role in (Role.AGENT, Role.CUSTOMER)}
    if len(roles) == 1 and all(sep for _, sep, _ in parts):
        return {"role": roles.pop(), "text": " / ".join(text for _, _, text in parts)}
    return {"role": Role.ANY, "text": evidence_text}


def withdraw_review(
    session: Session, review_id: int, reviewer: str, comment: str = "", manager: bool = True
) -> Review:
    """The review stays in the trail, marked withdrawn; what it decided goes back to the
    previous review of the same thing, or to the machine. Its author withdraws it, or a QA
    manager (`manager`); an appeal's ruling is final."""
    row = session.get(Review, review_id)
    if row is None:
        raise ReviewNotFound(message("no review {id}", id=review_id))
    if row.appeal_id is not None:
        raise ReviewConflict(
            message(
                "review {review} is the final ruling of appeal {appeal}; it stands",
                review=review_id,
                appeal=row.appeal_id,
            )
        )
    if not manager and row.reviewer != reviewer:
        raise Forbidden(
            message(
                "review {review} is {who}'s: only its author or a QA manager may withdraw it",
                review=review_id,
                who=shown_reviewer(row.reviewer),
            )
        )
    if row.withdrawn_at is not None:
        raise ReviewConflict(
            message(
                "review {review} was already withdrawn by {who} at {when}",
                review=review_id,
                who=shown_reviewer(row.withdrawn_by or ""),
                when=f"{row.withdrawn_at:%Y-%m-%d %H:%M:%S}",
            )
        )
    row.withdrawn_by, row.withdrawn_at, row.withdraw_comment = (
        reviewer,
        utcnow(),
        (comment or "").strip(),
    )
    session.add(row)
    session.flush()
    reapply(session, row.recording_id, row.rubric_id)
    return row


def review_states(session: Session, ev: Evaluation) -> tuple[list[Review], Plan]:
    """The trail of the call under the evaluation's rubric id, and how it applies to `ev`."""
    reviews = reviews_of(session, [ev.recording_id], [ev.rubric_id]).get(
        (ev.recording_id, ev.rubric_id), []
    )
    machine = list(
        session.exec(
            select(FindingRow)
            .where(FindingRow.evaluation_id == ev.id, FindingRow.source == FindingSource.MACHINE)
            .order_by(FindingRow.id)
        ).all()
    )
    return reviews, plan(ev, machine, reviews, catalog_for(session, ev, machine))


def computed_grade(ev: Evaluation, catalog: Catalog) -> str | None:
    """The grade the reviewed score gives, before any grade review."""
    if ev.reviewed_score is None:
        return None
    return grade_of(ev.reviewed_score, bool(ev.reviewed_fatal), catalog.scoring)
