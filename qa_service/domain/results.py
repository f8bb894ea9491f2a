"""Plain result dataclasses, shaped as the rubric-and-result spec defines them (their JSON
form is evaluation.CallEvaluation, the same for the CLI and the API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa_service.domain.enums import CallOutcome, Category, FindingStatus, Grade, Role


@dataclass
class Utterance:
    """One spoken turn of one speaker."""

    role: Role
    start: float
    end: float
    text: str  # simplified Chinese as recognized, punctuation kept for reading
    confidence: float = 1.0  # mean token probability from the recognizer (1.0 for hand-made)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Evidence:
    role: Role
    start: float
    end: float
    text: str
    matched: str | None = None  # the span of the utterance that matched
    phrase: str | None = None  # the rubric phrase it matched
    similarity: float | None = None  # 1.0 for exact matches
    value: str | None = None  # product_fact: the value as the agent stated it (99元)
    kb_value: str | None = None  # product_fact: the knowledge base's value (96元)

    @classmethod
    def of(cls, utt: Utterance, **match: Any) -> Evidence:
        return cls(role=utt.role, start=utt.start, end=utt.end, text=utt.text, **match)


@dataclass
class Finding:
    rule_id: str
    category: Category
    status: FindingStatus
    deduction: float = 0.0
    name: str = ""
    severity: str = "normal"  # normal | fatal
    detail: str = ""
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def fatal(self) -> bool:
        return self.severity == "fatal" and self.status == FindingStatus.VIOLATION


@dataclass
class Highlight:
    role: Role
    start: float
    end: float
    text: str
    reason: str  # objection_handled:<id> | persuasion | closing


@dataclass
class CallResult:
    recording: str
    rubric_id: str
    rubric_version: int
    score: float  # 0 and meaningless when grade is NO_SPEECH (not graded; the JSON says null)
    grade: Grade
    fatal: bool
    outcome: CallOutcome
    duration: float
    findings: list[Finding] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    highlights: list[Highlight] = field(default_factory=list)
    # Where recognition may have lost words (transcript.Transcript.warnings, stored with the
    # recording): a reviewer reads them beside the transcript; the call is flagged.
    warnings: list[str] = field(default_factory=list)
    recording_id: int | None = None
    evaluation_id: int | None = None
    agent_id: str | None = None
    project: str | None = None
