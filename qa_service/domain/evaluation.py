"""The contract: what the API answers (`response_model` of every route, so /docs shows real
schemas) and what `qa-service score --format json` prints (the review routes: README, API).

`CallEvaluation` is one call's result everywhere. It carries every field of the spec's result
JSON (the rubric-and-result spec: recording, rubric, score, grade, fatal,
outcome, duration, findings, utterances, highlights) and extends it (ids, machine grade and
statuses beside reviewed ones, recognition confidence, call metadata, the review trail).
Extend, never break: new fields are optional or defaulted.

One evaluation (a call scored under one rubric version) has three shapes, one per stage:

- `domain.results.CallResult` (a dataclass, with its `Finding`s, `Utterance`s, highlights):
  what the rule engine returns (`rules.scoring.evaluate`) and the scoring service passes on
  to be stored; machine results only, its ids filled in once it is stored.
- `storage.tables.Evaluation` with its `FindingRow`s (and `HighlightRow`s): the stored rows,
  machine values beside reviewed ones and the effective value of each; what KPIs, rollups,
  lists, reviews and reports query.
- `CallEvaluation` (here) and `review.models.EvaluationOut`: the JSON. `CallEvaluation.of_result`
  turns a fresh `CallResult` into what the CLI prints; `EvaluationOut` extends it for
  GET /evaluations/{id}, built from the stored rows with the review trail
  (`review.models.EvaluationItem` is one line of a list).

Times are rounded once, here: seconds to 0.01, similarities and confidences to 0.001.
Date-times are stored in UTC and answered in the call center's zone (QA_TIMEZONE) with its
offset, e.g. `2026-11-20T07:30:00+08:00` (ISO 8601): the same instant, read as the call center
reads its clock. A since/until sent back with its offset selects exactly that instant.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import ConfigDict, model_validator

from qa_service.domain.enums import (
    CallOutcome,
    Category,
    FindingStatus,
    Grade,
)
from qa_service.domain.results import CallResult
from qa_service.domain.schema import Instant, OptionalRatio, Ratio, Schema, Seconds


class RubricRef(Schema):
    id: str
    version: int


class UtteranceOut(Schema):
    role: str
    start: Seconds
    end: Seconds
    text: str
    confidence: Ratio = 1.0


class EvidenceOut(Schema):
    model_config = ConfigDict(extra="allow")  # a check may add its own keys (knowledge, ...)

    role: str
    start: Seconds
    end: Seconds
    text: str
    matched: str | None = None
    """The span of the utterance that matched."""
    phrase: str | None = None
    """The rubric phrase (or `similar` example) it matched."""
    similarity: OptionalRatio = None
    value: str | None = None
    """product_fact: the value as the agent stated it."""
    kb_value: str | None = None
    """product_fact: the knowledge base's value."""


class ResultFinding(Schema):
    id: int | None = None
    """The stored finding (reviews cite it); absent before the result is stored."""
    rule_id: str
    category: Category | str
    status: FindingStatus | str
    """The reviewed status where a reviewer gave one, else the machine's."""
    machine_status: FindingStatus | str | None = None
    deduction: float = 0.0
    name: str = ""
    severity: str = "normal"
    detail: str = ""
    evidence: list[EvidenceOut] = []


class HighlightOut(Schema):
    role: str
    start: Seconds
    end: Seconds
    text: str
    reason: str


class NoScoreWithoutSpeech(Schema):
    """A model with a `score` beside its `grade` (and maybe machine_ and reviewed_ ones): a
    call not graded (Grade.NO_SPEECH) answers its score as null, whatever
    number was stored for it."""

    @model_validator(mode="after")
    def _no_score_without_speech(self) -> NoScoreWithoutSpeech:
        for score, grade in (
            ("score", "grade"),
            ("machine_score", "machine_grade"),
            ("reviewed_score", "reviewed_grade"),
        ):
            if getattr(self, grade, None) == Grade.NO_SPEECH and hasattr(self, score):
                object.__setattr__(self, score, None)
        return self


class CallEvaluation(NoScoreWithoutSpeech):
    """One call scored under one rubric version: the spec's result JSON, extended."""

    recording: str | None
    """The recording's path (hidden from non-admin API keys)."""
    rubric: RubricRef
    score: float | None
    """Null for a call not graded (grade `no_speech`)."""
    grade: Grade
    """The reviewed grade where a reviewer gave one, else the machine's; `no_speech` (not one
    of the spec's grades): the recording holds no speech to judge, so it is not graded (no
    score, no findings, a warning) and counts in no KPI."""
    fatal: bool
    outcome: CallOutcome
    duration: Seconds
    findings: list[ResultFinding] = []
    utterances: list[UtteranceOut] = []
    highlights: list[HighlightOut] = []
    id: int | None = None
    """The evaluation's id (as evaluation_id)."""
    evaluation_id: int | None = None
    recording_id: int | None = None
    agent_id: str | None = None
    project: str | None = None
    call_time: Instant | None = None
    machine_grade: Grade | None = None
    asr_confidence: OptionalRatio = None
    warnings: list[str] = []
    """Where recognition may have lost words (a window short of words after every fallback,
    a channel with far fewer utterances than speech chunks): listen to the call."""

    @classmethod
    def of_result(cls, result: CallResult) -> CallEvaluation:
        """From a pipeline CallResult (what the CLI prints)."""
        return cls(
            recording=result.recording,
            rubric=RubricRef(id=result.rubric_id, version=result.rubric_version),
            score=round(result.score, 2),
            grade=result.grade,
            fatal=result.fatal,
            outcome=result.outcome,
            duration=result.duration,
            findings=[ResultFinding.model_validate(asdict(f)) for f in result.findings],
            utterances=[UtteranceOut.model_validate(u) for u in result.utterances],
            highlights=[HighlightOut.model_validate(h) for h in result.highlights],
            id=result.evaluation_id,
            evaluation_id=result.evaluation_id,
            recording_id=result.recording_id,
            agent_id=result.agent_id,
            project=result.project,
            machine_grade=result.grade,
            # nothing recognized: no confidence in any words (else unknown until stored)
            asr_confidence=0.0 if result.grade == Grade.NO_SPEECH else None,
            warnings=list(result.warnings),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object, leaving out what is unknown (None) rather than printing nulls; a
        call not graded keeps its `"score": null`, the spec's field saying there is none."""
        data = self.model_dump(mode="json", exclude_none=True)
        if self.score is None:
            data = {
                k: data.get(k) for k in self.model_dump(mode="json") if k in data or k == "score"
            }
        return data


class FileError(Schema):
    """A recording that could not be processed (the spec: the others are still scored)."""

    recording: str
    error: str
