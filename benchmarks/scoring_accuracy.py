"""Accuracy against labelled calls (the dev corpus's labels.json format).

A call's labelled facts become a set of items, e.g. ("mandatory_point", "monthly_fee") or
("objection", "too_expensive", "handled"); a result becomes the same kind of set. Micro-F1 is
taken over all calls' items; grade agreement compares our grade with the grade the labels
imply under the same rubric and the same scoring code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qa_service.domain.results import Finding
from qa_service.rules.rubric import Rubric
from qa_service.rules.scoring import score_findings


def label_items(label: dict) -> set[tuple]:
    items = {("script_section", s) for s in label.get("sections", [])}
    items |= {("mandatory_point", p) for p in label.get("points", [])}
    items |= {("forbidden_phrase", f) for f in label.get("forbidden", [])}
    items |= {("attitude_error", a) for a in label.get("attitude", [])}
    items |= {("objection", o, status) for o, status in label.get("objections", {}).items()}
    if label.get("silence"):
        items.add(("silence",))
    if label.get("interruption"):
        items.add(("interruption",))
    return items


def result_items(findings: list[Finding]) -> set[tuple]:
    items = set()
    for f in findings:
        if f.category in ("script_section", "mandatory_point") and f.status == "hit":
            items.add((f.category, f.rule_id))
        elif f.category in ("forbidden_phrase", "attitude_error"):
            items.add((f.category, f.rule_id))
        elif f.category == "objection":
            items.add(("objection", f.rule_id, f.status))
        elif f.category in ("silence", "interruption"):
            items.add((f.category,))
    return items


def label_findings(label: dict, rubric: Rubric) -> list[Finding]:
    """The findings the labels imply, for the expected grade."""
    items = label_items(label)
    out = []
    for kind, rules in (
        ("script_section", rubric.script_sections),
        ("mandatory_point", rubric.mandatory_points),
    ):
        for r in rules:
            status = "hit" if (kind, r.id) in items else "missed"
            out.append(Finding(r.id, kind, status, 0 if status == "hit" else r.weight))
    for kind, rules in (
        ("forbidden_phrase", rubric.forbidden_phrases),
        ("attitude_error", rubric.attitude_errors),
    ):
        for r in rules:
            if (kind, r.id) in items:
                out.append(Finding(r.id, kind, "violation", r.deduct, severity=r.severity))
    for r in rubric.objections:
        status = label.get("objections", {}).get(r.id)
        if status:
            out.append(Finding(r.id, "objection", status, r.weight if status == "unhandled" else 0))
    # a hold without reason is the silence it makes: penalised once, under the attitude error
    held = any(
        r.check == "hold_without_reason" and ("attitude_error", r.id) in items
        for r in rubric.attitude_errors
    )
    if (
        label.get("silence")
        and rubric.silence
        and not (held and not rubric.silence.with_attitude_error)
    ):
        out.append(
            Finding(
                "silence",
                "silence",
                "violation",
                min(rubric.silence.deduct, rubric.silence.max_deduct or 1e9),
            )
        )
    if label.get("interruption") and rubric.interruption:
        out.append(Finding("interruption", "interruption", "violation", rubric.interruption.deduct))
    return out


def expected_grade(label: dict, rubric: Rubric) -> str:
    return score_findings(label_findings(label, rubric), rubric.scoring)[1]


def heard_role(turn: dict, heard: Sequence[tuple[str, float, float]]) -> str | None:
    """The role of the utterance (role, start, end) that overlaps a reference turn longest;
    None when none overlaps it (a turn never heard: recognition, not roles). Mono role
    accuracy is the share of heard turns whose role this is: one utterance holding two turns
    of one speaker (joined once roles are known) counts for both, and one holding two
    speakers' turns is wrong for one of them."""
    best, role = 0.0, None
    for who, start, end in heard:
        overlap = min(end, turn["end"]) - max(start, turn["start"])
        if overlap > best:
            best, role = overlap, who
    return role


@dataclass
class AccuracyReport:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    grades_agree: int = 0
    outcomes_agree: int = 0
    calls: int = 0
    errors: list[str] = field(default_factory=list)  # per-call differences, for reading

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def grade_agreement(self) -> float:
        return self.grades_agree / self.calls if self.calls else 0.0

    @property
    def outcome_accuracy(self) -> float:
        return self.outcomes_agree / self.calls if self.calls else 0.0

    def add(
        self,
        call_id: str,
        label: dict,
        rubric: Rubric,
        findings: list[Finding],
        grade: str,
        outcome: str,
    ) -> None:
        truth, got = label_items(label), result_items(findings)
        self.tp += len(truth & got)
        self.fp += len(got - truth)
        self.fn += len(truth - got)
        self.calls += 1
        want_grade = expected_grade(label, rubric)
        self.grades_agree += grade == want_grade
        self.outcomes_agree += outcome == label.get("outcome", "unknown")
        if got != truth or grade != want_grade:
            self.errors.append(
                f"{call_id}: missing {sorted(truth - got)} extra {sorted(got - truth)} "
                f"grade {grade} (labels: {want_grade})"
            )

    def summary(self) -> str:
        return (
            f"calls {self.calls}  findings P {self.precision:.3f} R {self.recall:.3f} "
            f"F1 {self.f1:.3f}  grade agreement {self.grade_agreement:.3f}  "
            f"outcome accuracy {self.outcome_accuracy:.3f}"
        )
