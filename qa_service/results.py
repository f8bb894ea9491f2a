"""Plain result dataclasses, shaped as docs/rubric-and-result-spec.md defines them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from qa_service.enums import CallOutcome, Category, FindingStatus, Grade


@dataclass
class Utterance:
    """One spoken turn of one speaker."""

    role: str  # agent | customer
    start: float
    end: float
    text: str  # simplified Chinese as recognized, punctuation kept for reading
    confidence: float = 1.0  # mean token probability from the recognizer (1.0 for hand-made)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass
class Evidence:
    role: str
    start: float
    end: float
    text: str
    matched: Optional[str] = None  # the span of the utterance that matched
    phrase: Optional[str] = None  # the rubric phrase it matched
    similarity: Optional[float] = None  # 1.0 for exact matches
    value: Optional[str] = None  # product_fact: the value as the agent stated it (99元)
    kb_value: Optional[str] = None  # product_fact: the knowledge base's value (96元)

    @classmethod
    def of(cls, utt: Utterance, **match) -> "Evidence":
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
    role: str
    start: float
    end: float
    text: str
    reason: str  # objection_handled:<id> | persuasion | closing


@dataclass
class CallResult:
    recording: str
    rubric_id: str
    rubric_version: int
    score: float
    grade: Grade
    fatal: bool
    outcome: CallOutcome
    duration: float
    findings: list[Finding] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    highlights: list[Highlight] = field(default_factory=list)
    recording_id: Optional[int] = None
    evaluation_id: Optional[int] = None
    agent_id: Optional[str] = None
    project: Optional[str] = None

    def to_dict(self) -> dict:
        """The result JSON of the spec, plus our extra fields (extend, never break)."""
        out = {
            "recording": self.recording,
            "rubric": {"id": self.rubric_id, "version": self.rubric_version},
            "score": round(self.score, 2),
            "grade": self.grade,
            "fatal": self.fatal,
            "outcome": self.outcome,
            "duration": round(self.duration, 2),
            "findings": [_clean(asdict(f)) for f in self.findings],
            "utterances": [_round_times(asdict(u)) for u in self.utterances],
            "highlights": [_round_times(asdict(h)) for h in self.highlights],
        }
        for key in ("recording_id", "evaluation_id", "agent_id", "project"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def error_result(recording: str, message: str) -> dict:
    return {"recording": recording, "error": message}


def _round_times(d: dict) -> dict:
    for key in ("start", "end", "similarity", "confidence"):
        if isinstance(d.get(key), float):
            d[key] = round(d[key], 3 if key in ("similarity", "confidence") else 2)
    return d


def _clean(finding: dict) -> dict:
    finding["evidence"] = [
        _round_times({k: v for k, v in e.items() if v is not None}) for e in finding["evidence"]
    ]
    return finding
