"""Calibration sessions (校准): a QA manager picks calls and reviewers; each reviewer judges
the same items of each call (every rule of its rubric version, and the grade) without seeing
the others' judgements (and, when the session hides it, the machine's); then the session shows
how far they agree.

Agreement per rule and overall: the share of items on which every reviewer said the same
(percent agreement) and Krippendorff's alpha for nominal data (the `krippendorff` package: it
corrects for the agreement chance alone would give). Consensus: the value most reviewers gave
an item (a tie has none). Each reviewer's deviation: the share of the items with a consensus on
which they said otherwise; the machine's agreement: the share of those on which its status (or
grade) is the consensus. Closing a session may apply the consensus as reviews of those calls,
made by "校准 #<id>", where it differs from what stands.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import krippendorff
import numpy as np
from sqlmodel import Session, select

from qa_service.domain.enums import FindingSource
from qa_service.exceptions import CalibrationConflict, CalibrationError, CalibrationNotFound
from qa_service.i18n import codes, message
from qa_service.review.reviews import (
    ReviewRequest,
    allowed_statuses,
    catalog_for,
    create_review,
    current_of,
)
from qa_service.storage.tables import (
    CalibrationScore,
    CalibrationSession,
    Evaluation,
    FindingRow,
    utcnow,
)

GRADE = "grade"  # the item that is the call's grade


def get_session(session: Session, session_id: int) -> CalibrationSession:
    found = session.get(CalibrationSession, session_id)
    if found is None:
        raise CalibrationNotFound(message("no calibration session {id}", id=session_id))
    return found


def create(
    session: Session,
    name: str,
    evaluation_ids: list[int],
    reviewers: list[str],
    hide_machine: bool,
    by: str,
) -> CalibrationSession:
    if len(set(reviewers)) < 2:
        raise CalibrationError(message("a calibration session needs at least two reviewers"))
    evaluations = [session.get(Evaluation, i) for i in dict.fromkeys(evaluation_ids)]
    missing = [i for i, ev in zip(dict.fromkeys(evaluation_ids), evaluations) if ev is None]
    if missing or not evaluations:
        raise CalibrationNotFound(
            message(
                "no evaluation {id}", id=", ".join(map(str, missing)) or message("(none given)")
            )
        )
    rubrics = {ev.rubric_id for ev in evaluations if ev is not None}
    if len(rubrics) != 1:
        names = ", ".join(sorted(rubrics))
        raise CalibrationError(
            message("the calls of a session are scored with one rubric, not {names}", names=names)
        )
    row = CalibrationSession(
        name=name,
        rubric_id=rubrics.pop(),
        hide_machine=hide_machine,
        evaluation_ids=list(dict.fromkeys(evaluation_ids)),
        reviewers=list(dict.fromkeys(reviewers)),
        created_by=by,
    )
    session.add(row)
    session.flush()
    return row


def items_of(session: Session, ev: Evaluation) -> dict[str, list[str]]:
    """What a reviewer judges of a call: each rule of its rubric version (with the statuses it
    may take) and the grade."""
    machine = _machine(session, ev)
    catalog = catalog_for(session, ev, machine)
    items = {rule_id: allowed_statuses(info.category) for rule_id, info in catalog.rules.items()}
    items[GRADE] = ["excellent", "pass", "fail"]
    return items


def names_of(session: Session, ev: Evaluation) -> dict[str, str]:
    """Each rule's name in the call's rubric version: the form shows names, not rule ids."""
    catalog = catalog_for(session, ev, _machine(session, ev))
    return {rule_id: info.name for rule_id, info in catalog.rules.items() if info.name}


def _machine(session: Session, ev: Evaluation) -> list[FindingRow]:
    return list(
        session.exec(
            select(FindingRow).where(
                FindingRow.evaluation_id == ev.id, FindingRow.source == FindingSource.MACHINE
            )
        ).all()
    )


def machine_values(session: Session, ev: Evaluation, standing: bool = False) -> dict[str, str]:
    """Each item's value by the machine (the status of the rule's first finding, the grade),
    or, `standing`, what stands now that reviews apply."""
    out: dict[str, str] = {GRADE: ev.effective_grade if standing else ev.grade}
    for f in sorted(_machine(session, ev), key=lambda f: f.id or 0):
        out.setdefault(f.rule_id, f.effective_status if standing else f.status)
    return out


def score(
    session: Session, session_id: int, reviewer: str, evaluation_id: int, values: dict[str, str]
) -> list[CalibrationScore]:
    cal = get_session(session, session_id)
    if reviewer not in cal.reviewers:
        raise CalibrationNotFound(message("no calibration session {id}", id=session_id))
    if cal.state != "open":
        raise CalibrationConflict(message("calibration session {id} is closed", id=session_id))
    if evaluation_id not in cal.evaluation_ids:
        raise CalibrationError(
            message(
                "evaluation {evaluation} is not in session {session}",
                evaluation=evaluation_id,
                session=session_id,
            )
        )
    ev = session.get(Evaluation, evaluation_id)
    assert ev is not None
    items = items_of(session, ev)
    for item, value in values.items():
        if item not in items:
            raise CalibrationError(
                message(
                    "{item} is not an item of evaluation {evaluation}",
                    item=repr(item),
                    evaluation=evaluation_id,
                )
            )
        if value not in items[item]:
            raise CalibrationError(
                message(
                    "{item}: {value} is not one of {allowed}",
                    item=item,
                    value=repr(value),
                    allowed=codes(items[item]),
                )
            )
    rows = []
    for item, value in values.items():
        row = session.get(CalibrationScore, (session_id, evaluation_id, reviewer, item))
        row = row or CalibrationScore(
            session_id=session_id,
            evaluation_id=evaluation_id,
            reviewer=reviewer,
            rule_id=item,
            value=value,
        )
        row.value, row.created_at = value, utcnow()
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


@dataclass
class Agreement:
    items: int  # items judged by at least two reviewers
    percent: float | None  # share of them every reviewer judged alike
    alpha: float | None  # Krippendorff's alpha, nominal


@dataclass
class Report:
    overall: Agreement
    per_rule: dict[str, Agreement]
    deviation: dict[str, float | None]  # reviewer -> share of consensus items they differ on
    machine: float | None  # share of consensus items where the machine says the consensus
    consensus: dict[tuple[int, str], str] = field(default_factory=dict)
    progress: dict[str, int] = field(default_factory=dict)  # reviewer -> items judged


def agreement(values: list[list[str | None]]) -> Agreement:
    """Reviewers × items (None: not judged): percent agreement and Krippendorff's alpha."""
    columns = [
        [v for v in column if v is not None]
        for column in (zip(*values, strict=True) if values else [])
    ]
    judged = [c for c in columns if len(c) >= 2]
    if not judged:
        return Agreement(0, None, None)
    percent = sum(len(set(c)) == 1 for c in judged) / len(judged)
    codes = {v: i for i, v in enumerate(sorted({v for c in judged for v in c}))}
    if len(codes) < 2:  # one value only: perfect agreement, alpha undefined (no variation)
        return Agreement(len(judged), round(percent, 4), None)
    data = np.array(
        [[codes[v] if v is not None else np.nan for v in row] for row in values], dtype=float
    )
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    return Agreement(len(judged), round(percent, 4), None if math.isnan(alpha) else round(alpha, 4))


def report(session: Session, session_id: int) -> Report:
    cal = get_session(session, session_id)
    scores = session.exec(
        select(CalibrationScore).where(CalibrationScore.session_id == session_id)
    ).all()
    given: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
    for s in scores:
        given[(s.evaluation_id, s.rule_id)][s.reviewer] = s.value
    keys = sorted(given)
    reviewers = list(cal.reviewers)

    def matrix(selected: list[tuple[int, str]]) -> list[list[str | None]]:
        return [[given[k].get(r) for k in selected] for r in reviewers]

    per_rule = {
        rule: agreement(matrix([k for k in keys if k[1] == rule]))
        for rule in sorted({k[1] for k in keys})
    }
    consensus: dict[tuple[int, str], str] = {}
    for k in keys:
        counts = Counter(given[k].values()).most_common()
        if len(given[k]) >= 2 and (len(counts) == 1 or counts[0][1] > counts[1][1]):
            consensus[k] = counts[0][0]
    deviation: dict[str, float | None] = {}
    for r in reviewers:
        judged = [k for k in consensus if r in given[k]]
        deviation[r] = (
            round(sum(given[k][r] != consensus[k] for k in judged) / len(judged), 4)
            if judged
            else None
        )
    machine_hits, machine_n = 0, 0
    for ev_id in cal.evaluation_ids:
        ev = session.get(Evaluation, ev_id)
        if ev is None:
            continue
        standing = machine_values(session, ev)
        for (e, item), value in consensus.items():
            if e == ev_id and item in standing:
                machine_n += 1
                machine_hits += standing[item] == value
    return Report(
        overall=agreement(matrix(keys)),
        per_rule=per_rule,
        deviation=deviation,
        machine=round(machine_hits / machine_n, 4) if machine_n else None,
        consensus=consensus,
        progress={r: sum(r in given[k] for k in keys) for r in reviewers},
    )


def close(session: Session, session_id: int, apply: bool) -> tuple[CalibrationSession, int]:
    """Close the session; with `apply`, the consensus becomes the reviews of those calls where it
    differs from what stands (findings by their rule; the grade). Returns how many reviews."""
    cal = get_session(session, session_id)
    if cal.state != "open":
        raise CalibrationConflict(
            message("calibration session {id} is closed already", id=session_id)
        )
    made = 0
    if apply:
        rep = report(session, session_id)
        by = f"校准 #{session_id}"
        for (ev_id, item), value in sorted(rep.consensus.items()):
            ev = session.get(Evaluation, ev_id)
            if ev is None:
                continue
            current = current_of(session, ev)
            standing = machine_values(session, current, standing=True)
            if standing.get(item) == value:
                continue
            comment = f"校准会议「{cal.name}」的一致意见"
            if item == GRADE:
                request = ReviewRequest("grade", "override", value=value, comment=comment)
            else:
                finding = next((f for f in _machine(session, current) if f.rule_id == item), None)
                if finding is None:
                    continue  # the rule has no finding to review on this call
                request = ReviewRequest(
                    "finding", "override", finding_id=finding.id, value=value, comment=comment
                )
            create_review(session, current.id, request, by)
            made += 1
        cal.applied = True
    cal.state, cal.closed_at = "closed", utcnow()
    session.add(cal)
    session.flush()
    return cal, made
