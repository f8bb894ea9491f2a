"""The contract: what the API answers (`response_model` of every route, so /docs shows real
schemas) and what `qa-service score --format json` prints (docs in /work/notes/reviews-api.md
for the review part).

`CallEvaluation` is one call's result everywhere. It carries every field of the spec's result
JSON (../shared/docs/rubric-and-result-spec.md: recording, rubric, score, grade, fatal,
outcome, duration, findings, utterances, highlights) and extends it (ids, machine grade and
statuses beside reviewed ones, recognition confidence, call metadata, the review trail).
Extend, never break: new fields are optional or defaulted.

Times are rounded once, here: seconds to 0.01, similarities and confidences to 0.001.
Date-times are stored in UTC and answered in the call center's zone (QA_TIMEZONE) with its
offset, e.g. `2026-11-20T07:30:00+08:00` (ISO 8601): the same instant, read as the call center
reads its clock. A since/until sent back with its offset selects exactly that instant.
"""
from __future__ import annotations

from datetime import datetime
from dataclasses import asdict
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from qa_service.config import in_call_center_zone
from qa_service.enums import CallOutcome, Category, FindingStatus, FlagReason, Grade, JobState

# A stored time (naive UTC) answered in the call center's zone, with its offset.
Instant = Annotated[datetime, PlainSerializer(in_call_center_zone, return_type=datetime)]
Seconds = Annotated[float, PlainSerializer(lambda v: round(v, 2), return_type=float)]
Ratio = Annotated[float, PlainSerializer(lambda v: round(v, 3), return_type=float)]
OptionalRatio = Annotated[Optional[float],
                          PlainSerializer(lambda v: None if v is None else round(v, 3),
                                          return_type=Optional[float])]


MAX_ROW_ID = 2**31 - 1  # integer primary keys (PostgreSQL int4): a larger id is a 422, not a 500


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, use_attribute_docstrings=True)


# Rubrics ------------------------------------------------------------------------------
class RubricRef(Schema):
    id: str
    version: int


class RubricSummary(Schema):
    id: str
    version: int
    name: str
    project_type: str
    created_at: Instant


class RubricListItem(RubricSummary):
    active_for: list[str] = []
    """Projects whose new recordings are scored with this version."""


class RubricDetail(RubricSummary):
    yaml: str
    """The rubric text as uploaded."""


class RubricProblem(Schema):
    line: Optional[int]
    field: str
    reason: str


class Activation(Schema):
    project: str
    rubric: RubricRef


class RescoreAccepted(Schema):
    """A rescoring request, kept like an upload (GET /jobs/{job_id} follows it)."""

    job_id: str
    project: Optional[str]
    rubric: Optional[RubricRef] = None
    status: Optional[JobState] = None
    detail: Optional[str] = None


# Recordings and jobs ------------------------------------------------------------------
class Submission(Schema):
    """The answer to an upload or import: the request's job, queued once per rubric version."""

    job_id: str
    recording_id: Optional[int] = None
    sha256: str
    rubric: RubricRef
    status: JobState
    duplicate: Optional[bool] = None
    """True when the same audio under the same rubric version was already queued or scored."""
    detail: Optional[str] = None
    """Why the request is still pending (the queue is away: 503)."""


class JobOut(Schema):
    """A scoring request as the job table keeps it."""

    id: str
    kind: str
    path: str
    sha256: str
    rubric_id: str
    rubric_version: int
    agent_channel: Optional[str] = None
    status: JobState
    error: str = ""
    attempts: int = 0
    created_at: Instant
    updated_at: Instant
    recording_id: Optional[int] = None
    """Known from the upload on."""
    evaluation_id: Optional[int] = None
    """Set when the job finished."""


class RecordingEvaluation(Schema):
    id: int
    rubric: RubricRef
    score: float
    grade: Grade
    machine_score: Optional[float] = None
    machine_grade: Grade
    fatal: bool
    reviewed: Optional[bool] = None
    outcome: CallOutcome
    current: bool
    """The recording's newest evaluation: the one KPIs count."""


class RecordingOut(Schema):
    id: int
    sha256: str
    duration: float
    channels: int
    separation: str
    agent_id: Optional[str] = None
    project: Optional[str] = None
    call_time: Optional[Instant] = None
    phase: str
    asr_model: str
    asr_warnings: list[str] = []
    """Recognition warnings of the stored transcript (CallEvaluation.warnings)."""
    created_at: Instant
    evaluations: list[RecordingEvaluation] = []


# One call's result (the spec's result JSON, extended) ----------------------------------
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
    matched: Optional[str] = None
    """The span of the utterance that matched."""
    phrase: Optional[str] = None
    """The rubric phrase (or `similar` example) it matched."""
    similarity: OptionalRatio = None
    value: Optional[str] = None
    """product_fact: the value as the agent stated it."""
    kb_value: Optional[str] = None
    """product_fact: the knowledge base's value."""


class ResultFinding(Schema):
    id: Optional[int] = None
    """The stored finding (reviews cite it); absent before the result is stored."""
    rule_id: str
    category: Union[Category, str]
    status: Union[FindingStatus, str]
    """The reviewed status where a reviewer gave one, else the machine's."""
    machine_status: Optional[Union[FindingStatus, str]] = None
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


class CallEvaluation(Schema):
    """One call scored under one rubric version: the spec's result JSON, extended."""

    recording: Optional[str]
    """The recording's path (hidden from non-admin API keys)."""
    rubric: RubricRef
    score: float
    grade: Grade
    """The reviewed grade where a reviewer gave one, else the machine's."""
    fatal: bool
    outcome: CallOutcome
    duration: Seconds
    findings: list[ResultFinding] = []
    utterances: list[UtteranceOut] = []
    highlights: list[HighlightOut] = []
    id: Optional[int] = None
    """The evaluation's id (as evaluation_id)."""
    evaluation_id: Optional[int] = None
    recording_id: Optional[int] = None
    agent_id: Optional[str] = None
    project: Optional[str] = None
    call_time: Optional[Instant] = None
    machine_grade: Optional[Grade] = None
    asr_confidence: OptionalRatio = None
    warnings: list[str] = []
    """Where recognition may have lost words (a window short of words after every fallback,
    a channel with far fewer utterances than speech chunks): listen to the call."""

    @classmethod
    def of_result(cls, result) -> "CallEvaluation":
        """From a pipeline CallResult (what the CLI prints)."""
        return cls(recording=result.recording,
                   rubric=RubricRef(id=result.rubric_id, version=result.rubric_version),
                   score=round(result.score, 2), grade=result.grade, fatal=result.fatal,
                   outcome=result.outcome, duration=result.duration,
                   findings=[ResultFinding.model_validate(asdict(f)) for f in result.findings],
                   utterances=[UtteranceOut.model_validate(u) for u in result.utterances],
                   highlights=[HighlightOut.model_validate(h) for h in result.highlights],
                   id=result.evaluation_id, evaluation_id=result.evaluation_id,
                   recording_id=result.recording_id, agent_id=result.agent_id,
                   project=result.project, machine_grade=result.grade,
                   warnings=list(result.warnings))

    def to_json(self) -> dict:
        """The JSON object, leaving out what is unknown (None) rather than printing nulls."""
        return self.model_dump(mode="json", exclude_none=True)


class FileError(Schema):
    """A recording that could not be processed (the spec: the others are still scored)."""

    recording: str
    error: str


# Lists, KPIs, reports -------------------------------------------------------------------
class FlaggedCall(Schema):
    evaluation_id: int
    recording_id: int
    agent_id: str
    project: str
    call_time: Instant
    score: float
    grade: Grade
    fatal: bool
    outcome: CallOutcome
    reasons: list[FlagReason]


class FlaggedPage(Schema):
    total: int
    total_exact: bool
    """False when there are more than QA_FLAGGED_COUNT_LIMIT: `total` is then "at least"."""
    page: int
    page_size: int
    items: list[FlaggedCall]


class KpiRow(Schema):
    """One group's KPIs (rollup.KpiSums.rates): the group's own key is set, the others absent."""

    agent: Optional[str] = None
    project: Optional[str] = None
    day: Optional[str] = None
    hour: Optional[int] = None
    rubric: Optional[str] = None
    evaluated: int
    passed: int
    excellent: int
    success: int
    fatal: int
    pass_rate: Optional[float]
    """监听合格率: pass or excellent over evaluated calls."""
    excellent_rate: Optional[float]
    """质检优秀率."""
    success_rate: Optional[float]
    """外呼在线成功率: outcome success over calls."""
    average_talk_seconds: Optional[float]
    """项目呼出均长."""


class CommonError(Schema):
    """共性错误: a rule that cost points, by how many calls it hit."""

    rule_id: str
    category: str
    name: str
    count: int
    share: Optional[float]
    example_recordings: list[int]


class RefusalReason(Schema):
    objection_id: str
    name: str
    raised_in_calls: int
    share_of_calls: Optional[float]
    handled: int
    handled_rate: Optional[float]
    success_rate_after: Optional[float]


class GuidePoint(Schema):
    """引导地图: a selling point, how often agents say it and how customers take it."""

    point_id: str
    name: str
    said_in_calls: int
    said_rate: float
    customer_replies: dict[str, int]
    positive_rate: Optional[float]
    quadrant: int
    """1 we say it and they like it, 2 we say it and they do not, 3 neither, 4 they like it
    but we rarely say it."""


class HighlightExample(Schema):
    recording_id: int
    agent_id: Optional[str]
    start: float


class HighlightScript(Schema):
    reason: str
    text: str
    calls: int
    successes: int
    success_rate: float
    examples: list[HighlightExample]


class TrialReport(Schema):
    project: str
    phase: Optional[str]
    rubric: RubricRef
    calls: int
    success_rate: Optional[float]
    refusal_reasons: list[RefusalReason]
    guide_map: list[GuidePoint]
    highlights: list[HighlightScript]


class InflightWindow(Schema):
    hours: int
    until: Instant
    kpis: Optional[KpiRow]
    common_errors: list[CommonError]


class InflightReport(Schema):
    project: str
    start: Optional[Instant]
    windows: list[InflightWindow]


class Health(Schema):
    status: str
    database: str
    queue: str
    """rq (Redis) or embedded (jobs in the API process)."""
    redis: Optional[str] = None
    unavailable: Optional[list[str]] = None
    """What is down (database, redis): the database makes it a 503, Redis alone `degraded`."""
    detail: Optional[str] = None


# Evaluations and reviews -----------------------------------------------------------------

class ReviewIn(BaseModel):
    """A reviewer's decision. `finding_id` (or `rule_id`) names the finding; `add` needs
    `rule_id`, `value`, `start` and `end`; override and add need a comment."""

    target: Literal["grade", "finding"]
    action: Literal["confirm", "override", "add"]
    finding_id: Optional[int] = Field(default=None, ge=1, le=MAX_ROW_ID)
    rule_id: Optional[str] = Field(default=None, max_length=200)
    value: Optional[str] = Field(default=None, max_length=50)  # the new grade or finding status
    start: Optional[float] = Field(default=None, ge=0, le=86400)  # seconds into the recording
    end: Optional[float] = Field(default=None, ge=0, le=86400)
    comment: str = Field(default="", max_length=4000)


class WithdrawIn(BaseModel):
    comment: str = Field(default="", max_length=4000)


ReviewState = Literal["applied", "needs_rereview", "superseded", "withdrawn"]


class ReviewOut(BaseModel):
    id: int
    recording_id: int
    rubric_id: str
    rubric_version: int
    evaluation_id: int
    target: str
    action: str
    rule_id: Optional[str] = None
    category: Optional[str] = None
    start: Optional[float] = None
    end: Optional[float] = None
    machine_value: Optional[str] = None
    old_value: str
    new_value: str
    comment: str
    evidence_text: str
    reviewer: str
    created_at: Instant
    withdrawn_by: Optional[str] = None
    withdrawn_at: Optional[Instant] = None
    withdraw_comment: str = ""
    state: Optional[ReviewState] = None  # for the evaluation it is shown with
    reason: Optional[str] = None  # why it needs re-review


class Result(BaseModel):
    score: float
    grade: str
    fatal: bool


class ReviewedResult(Result):
    computed_grade: Optional[str] = None  # from the reviewed score, before a grade review
    grade_override: Optional[str] = None


class FindingOut(BaseModel):
    id: int
    rule_id: str
    category: str
    name: str
    severity: str
    detail: str
    source: Literal["machine", "reviewer"]
    machine_status: Optional[str] = None
    reviewed_status: Optional[str] = None
    status: str
    machine_deduction: float
    deduction: float
    review_id: Optional[int] = None
    allowed_statuses: list[str]
    evidence: list[dict]


class RuleOut(BaseModel):
    rule_id: str
    category: str
    name: str
    allowed_statuses: list[str]


class EvaluationOut(CallEvaluation):
    """GET /evaluations/{id}: the call's result (CallEvaluation: what the CLI prints too) with
    its machine and reviewed results, findings as reviewed, and the review trail."""

    id: int
    recording_id: int
    recording: Optional[str] = None
    agent_id: Optional[str] = None
    project: Optional[str] = None
    call_time: Optional[Instant] = None
    phase: str
    rubric: RubricRef
    current: bool
    duration: float
    outcome: str
    asr_confidence: float
    machine: Result
    reviewed: Optional[ReviewedResult] = None
    score: float
    grade: str
    fatal: bool
    machine_grade: str
    needs_rereview: int
    findings: list[FindingOut]
    highlights: list[HighlightOut]
    rules: list[RuleOut]
    reviews: list[ReviewOut]


class ReviewWithEvaluation(ReviewOut):
    evaluation: EvaluationOut


class EvaluationItem(BaseModel):
    evaluation_id: int
    recording_id: int
    agent_id: str
    project: str
    call_time: Instant
    rubric: RubricRef
    machine_score: float
    machine_grade: str
    reviewed_score: Optional[float] = None
    reviewed_grade: Optional[str] = None
    score: float
    grade: str
    fatal: bool
    outcome: str
    reviewed: bool
    needs_rereview: int
    current: bool


class EvaluationPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[EvaluationItem]


class ReviewSample(BaseModel):
    project: Optional[str] = None
    percent: float
    seed: str
    since: Optional[Instant] = None
    until: Optional[Instant] = None
    population: int
    sample_size: int
    items: list[EvaluationItem]


# Rule precision and rubric comparison ----------------------------------------------------

class ReviewExample(BaseModel):
    review_id: int
    evaluation_id: int
    recording_id: int
    rubric_version: int
    machine_status: Optional[str] = None
    reviewed_status: str
    start: Optional[float] = None
    end: Optional[float] = None
    evidence_text: str
    comment: str
    reviewer: str


class RulePrecision(BaseModel):
    rule_id: str
    category: Optional[str] = None
    name: str
    confirmed: int
    overturned: int
    added: int
    turned_bad: int
    precision: Optional[float] = None
    overturned_examples: list[ReviewExample]
    added_examples: list[ReviewExample]


class PrecisionReport(BaseModel):
    rubric_id: str
    project: Optional[str] = None
    versions: list[int]
    since: Optional[Instant] = None
    until: Optional[Instant] = None
    rules: list[RulePrecision]


class ScoredAs(BaseModel):
    evaluation_id: int
    score: float
    grade: str


class GradeChange(BaseModel):
    recording_id: int
    agent_id: str
    call_time: Instant
    from_: ScoredAs = Field(alias="from")
    to: ScoredAs

    model_config = {"populate_by_name": True}


class ScoreDistribution(BaseModel):
    mean: Optional[float] = None
    median: Optional[float] = None
    min: Optional[float] = None
    max: Optional[float] = None
    histogram: list[dict]


class RuleRate(BaseModel):
    bad: int
    bad_rate: Optional[float] = None
    hit: int
    hit_rate: Optional[float] = None


class RuleComparison(BaseModel):
    rule_id: str
    category: str
    name: str
    from_: Optional[RuleRate] = Field(default=None, alias="from")
    to: Optional[RuleRate] = None

    model_config = {"populate_by_name": True}


class RubricComparison(BaseModel):
    rubric_id: str
    from_: int = Field(alias="from")
    to: int
    project: Optional[str] = None
    calls: int
    changed_grade_count: int
    changed_grade: list[GradeChange]
    grades: dict[str, dict[str, int]]
    scores: dict[str, ScoreDistribution]
    rules: list[RuleComparison]

    model_config = {"populate_by_name": True}
