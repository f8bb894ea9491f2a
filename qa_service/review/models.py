"""What the review, queue and rule-quality functions return: the same models the API answers
with (and the review request bodies).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool

from qa_service.domain.enums import CallOutcome, FindingSource, FlagReason, Grade
from qa_service.domain.evaluation import (
    CallEvaluation,
    HighlightOut,
    NoScoreWithoutSpeech,
    RubricRef,
)
from qa_service.domain.schema import MAX_ROW_ID, Instant, Schema
from qa_service.storage.callrefs import NamesACall

# Reviews made before keys were named by id stored the reviewer as "name (qa_Ab3dE9f…)": the
# first characters of the secret. They stay stored as written and are shown without them.
_KEY_PREFIX = re.compile(r"\s*\(qa_[A-Za-z0-9_-]{0,9}…\)$")


def shown_reviewer(value: str) -> str:
    """A stored reviewer as the trail shows it: the key's name (and id), no secret's prefix."""
    return _KEY_PREFIX.sub("", value)


ShownReviewer = Annotated[str, AfterValidator(shown_reviewer)]


class FlaggedCall(NoScoreWithoutSpeech):
    evaluation_id: int
    recording_id: int
    agent_id: str
    project: str
    call_time: Instant
    score: float | None
    """Null for a call not graded (grade no_speech, reason no_speech)."""
    grade: Grade
    fatal: bool
    outcome: CallOutcome
    reasons: list[FlagReason]
    reviewed: bool = False
    """Listened to: a review applies, or a review task of the call is done (已复核)."""

    @classmethod
    def of(cls, ev, low_confidence: float, reviewed: bool, **more):
        """The row of a current evaluation (storage.tables.Evaluation) in a list of calls."""
        return cls(
            evaluation_id=ev.id,
            recording_id=ev.recording_id,
            agent_id=ev.agent_id,
            project=ev.project,
            call_time=ev.called_at,
            score=ev.effective_score,
            grade=ev.effective_grade,
            fatal=ev.effective_fatal,
            outcome=ev.outcome,
            reasons=ev.flag_reasons(low_confidence),
            reviewed=reviewed,
            **more,
        )


class FlaggedPage(Schema):
    total: int
    total_exact: bool
    """False when there are more than QA_FLAGGED_COUNT_LIMIT: `total` is then "at least"."""
    page: int
    page_size: int
    items: list[FlaggedCall]


class ReviewIn(Schema):
    """A reviewer's decision. `finding_id` (or `rule_id`) names the finding; `add` needs
    `rule_id`, `value`, `start` and `end`; override and add need a comment."""

    target: Literal["grade", "finding"]
    action: Literal["confirm", "override", "add"]
    finding_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    rule_id: str | None = Field(default=None, max_length=200)
    value: str | None = Field(default=None, max_length=50)  # the new grade or finding status
    start: float | None = Field(default=None, ge=0, le=86400)  # seconds into the recording
    end: float | None = Field(default=None, ge=0, le=86400)
    comment: str = Field(default="", max_length=4000)


class WithdrawIn(Schema):
    comment: str = Field(default="", max_length=4000)


ReviewState = Literal["applied", "needs_rereview", "superseded", "second_opinion", "withdrawn"]


class ReviewOut(Schema):
    id: int
    recording_id: int
    rubric_id: str
    rubric_version: int
    evaluation_id: int
    target: str
    action: str
    rule_id: str | None = None
    category: str | None = None
    start: float | None = None
    end: float | None = None
    machine_value: str | None = None
    old_value: str
    new_value: str
    comment: str
    evidence_text: str
    reviewer: ShownReviewer
    created_at: Instant
    withdrawn_by: ShownReviewer | None = None
    withdrawn_at: Instant | None = None
    withdraw_comment: str = ""
    appeal_id: int | None = None  # the appeal it is the final ruling of
    state: ReviewState | None = None  # for the evaluation it is shown with
    reason: str | None = None  # why it needs re-review


class Result(NoScoreWithoutSpeech):
    score: float | None
    grade: str
    fatal: bool


class ReviewedResult(Result):
    computed_grade: str | None = None  # from the reviewed score, before a grade review
    grade_override: str | None = None


class FindingOut(Schema):
    id: int
    rule_id: str
    category: str
    name: str
    severity: str
    detail: str
    source: FindingSource
    machine_status: str | None = None
    reviewed_status: str | None = None
    status: str
    machine_deduction: float
    deduction: float
    review_id: int | None = None
    allowed_statuses: list[str]
    evidence: list[dict]


class RuleOut(Schema):
    rule_id: str
    category: str
    name: str
    allowed_statuses: list[str]


class EvaluationOut(CallEvaluation):
    """GET /evaluations/{id}: the call's result (CallEvaluation: what the CLI prints too) with
    its machine and reviewed results, findings as reviewed, and the review trail."""

    id: int
    recording_id: int
    recording: str | None = None
    agent_id: str | None = None
    project: str | None = None
    call_time: Instant | None = None
    phase: str
    rubric: RubricRef
    rubric_name: str | None = None
    """The rubric version's title (what people call it); None where the version is not stored."""
    current: bool
    duration: float
    outcome: str
    asr_confidence: float
    machine: Result
    reviewed: ReviewedResult | None = None
    score: float | None
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


class EvaluationItem(NoScoreWithoutSpeech):
    evaluation_id: int
    recording_id: int
    agent_id: str
    project: str
    call_time: Instant
    rubric: RubricRef
    machine_score: float | None
    """Null where the machine did not grade the call (machine_grade no_speech)."""
    machine_grade: str
    reviewed_score: float | None = None
    reviewed_grade: str | None = None
    score: float | None
    """Null for a call not graded (grade no_speech)."""
    grade: str
    fatal: bool
    outcome: str
    reviewed: bool
    needs_rereview: int
    current: bool
    reasons: list[FlagReason] = []
    """Why the call is flagged for review, as in the flagged list (none: it is not flagged)."""


class EvaluationPage(Schema):
    total: int
    total_exact: bool = True
    """False when there are more than QA_FLAGGED_COUNT_LIMIT: `total` is then "at least"."""
    page: int
    page_size: int
    items: list[EvaluationItem]


class ReviewSample(Schema):
    project: str | None = None
    percent: float
    seed: str
    since: Instant | None = None
    until: Instant | None = None
    population: int
    sample_size: int
    # the sample, newest first, a page at a time: `total` is sample_size (pages never overlap)
    total: int
    page: int
    page_size: int
    items: list[EvaluationItem]


class ReviewExample(NamesACall):
    review_id: int
    evaluation_id: int
    rubric_version: int
    machine_status: str | None = None
    reviewed_status: str
    start: float | None = None
    end: float | None = None
    evidence_text: str
    comment: str
    reviewer: ShownReviewer


class RulePrecision(Schema):
    rule_id: str
    category: str | None = None
    name: str
    confirmed: int
    overturned: int
    added: int
    turned_bad: int
    precision: float | None = None
    overturned_examples: list[ReviewExample]
    added_examples: list[ReviewExample]


class PrecisionReport(Schema):
    rubric_id: str
    project: str | None = None
    versions: list[int]
    since: Instant | None = None
    until: Instant | None = None
    rules: list[RulePrecision]


class ScoredAs(Schema):
    evaluation_id: int
    score: float
    grade: str


class GradeChange(NamesACall):
    """A call whose grade the newer version changes; `call` names it (name_calls)."""

    agent_id: str
    call_time: Instant
    from_: ScoredAs = Field(alias="from")
    to: ScoredAs

    model_config = {"populate_by_name": True}


class HistogramBucket(Schema):
    bucket: str
    """The score range, e.g. 60-70 (90-100 takes 100 too)."""
    count: int


class ScoreDistribution(Schema):
    mean: float | None = None
    median: float | None = None
    min: float | None = None
    max: float | None = None
    histogram: list[HistogramBucket]


class RuleRate(Schema):
    bad: int
    bad_rate: float | None = None
    hit: int
    hit_rate: float | None = None


class RuleComparison(Schema):
    rule_id: str
    category: str
    name: str
    from_: RuleRate | None = Field(default=None, alias="from")
    to: RuleRate | None = None

    model_config = {"populate_by_name": True}


class RubricComparison(Schema):
    rubric_id: str
    from_: int = Field(alias="from")
    to: int
    project: str | None = None
    phase: str | None = None
    """The calls compared: of this phase only (试呼 trial or production), else all."""
    calls: int
    changed_grade_count: int
    changed_grade: list[GradeChange]
    grades: dict[str, dict[str, int]]
    scores: dict[str, ScoreDistribution]
    rules: list[RuleComparison]

    model_config = {"populate_by_name": True}


# Appeals, review tasks, sampling plans ---------------------------------------------------------


class AppealIn(Schema):
    """An agent's appeal of the call's grade (target grade) or of one finding (finding_id)."""

    target: Literal["grade", "finding"]
    finding_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)
    reason: str = Field(min_length=1, max_length=4000)


class AppealAssign(Schema):
    reviewer: str = Field(min_length=1, max_length=64)


class AppealRuling(Schema):
    decision: Literal["upheld", "overturned"]
    comment: str = Field(min_length=1, max_length=4000)
    grade: Literal["pass", "excellent"] | None = None
    """An overturned grade appeal: the grade the call gets."""


class AppealOut(Schema):
    id: int
    evaluation_id: int
    recording_id: int
    rubric_id: str
    rubric_version: int
    agent_id: str | None = None
    project: str | None = None
    target: str
    rule_id: str | None = None
    rule_name: str | None = None
    """The rule's name in the call's rubric version (none for the grade)."""
    category: str | None = None
    start: float | None = None
    end: float | None = None
    contested_value: str
    contested_by: ShownReviewer
    reason: str
    filed_by: ShownReviewer
    filed_at: Instant
    state: str
    """filed (待分配) | assigned (待裁定) | upheld (维持原判) | overturned (改判)."""
    assigned_to: str | None = None
    assigned_at: Instant | None = None
    ruling_comment: str = ""
    ruled_by: ShownReviewer | None = None
    ruled_at: Instant | None = None
    review_id: int | None = None
    seen_at: Instant | None = None


class AppealRateRow(Schema):
    key: str
    name: str | None = None
    """By rule: the rule's name (key is its id, or "grade")."""
    appeals: int
    ruled: int
    overturned: int
    calls: int
    appeal_rate: float | None
    """Appeals per call scored (per agent only: the other tables have no call count); over 1
    where calls were appealed more than once."""
    appealed_calls: int = 0
    """Calls with at least one appeal."""
    appealed_call_rate: float | None = None
    """Calls appealed over calls scored (per agent only), at most 1."""
    overturn_rate: float | None
    """Overturned per ruling."""


class AppealRates(Schema):
    by_rule: list[AppealRateRow]
    by_reviewer: list[AppealRateRow]
    """Per whose decision was contested: a reviewer, or "machine"."""
    by_agent: list[AppealRateRow]


class PlanIn(Schema):
    """A sampling plan: `criteria` say which calls (fatal, low_confidence, score_bands,
    duration_bands, random_percent, min_per_agent, per day|week), `reviewers` who listens and
    how many tasks each takes per period."""

    project: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    criteria: dict = Field(default_factory=dict)
    reviewers: list[dict] = Field(default_factory=list, max_length=200)
    seed: str = Field(default="", max_length=200)
    due_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    active: StrictBool = True


class PlanOut(PlanIn):
    id: int
    created_by: str
    created_at: Instant


class TaskOut(Schema):
    id: int
    recording_id: int
    evaluation_id: int
    project: str | None = None
    agent_id: str | None = None
    call_time: Instant | None = None
    plan_id: int | None = None
    run: str
    reason: str
    state: str
    """unassigned (待分配) | assigned (待复核) | in_progress (复核中) | done (已复核) |
    overdue (逾期)."""
    assignee: str | None = None
    due_at: Instant | None = None
    done_at: Instant | None = None
    done_by: str | None = None
    grade: str | None = None


class PlanRunOut(Schema):
    run: str
    candidates: int
    """Calls of the period the plan looked at."""
    created: int
    by_reason: dict[str, int]
    by_reviewer: dict[str, int]
    """Tasks assigned per reviewer ("": waiting unassigned beyond every quota)."""
    tasks: list[TaskOut]


class ReviewerLoadOut(Schema):
    reviewer: str
    open: int
    overdue: int
    done: int


class FieldChange(Schema):
    field: str
    """The YAML key (pass_score)."""
    label: str = ""
    """What people call it (合格分): rules/field_labels.py."""
    before: str | None
    """The value in the older version as YAML would write it; null where it is not set."""
    after: str | None


class RuleChange(Schema):
    rule_id: str
    """A rule's id, or `scoring` for the rubric's scoring settings."""
    name: str
    change: Literal["added", "removed", "changed"]
    fields: list[FieldChange] = []


class RubricDiff(Schema):
    """Two versions of a rubric rule by rule: what to check before activating the newer."""

    rubric_id: str
    from_: int = Field(alias="from")
    to: int
    rules: list[RuleChange]

    model_config = {"populate_by_name": True}


class SearchHit(Schema):
    """An utterance of the call that holds every searched word: where to start listening."""

    seq: int
    role: str
    start: float
    end: float
    text: str


class SearchCall(FlaggedCall):
    """A call whose transcript holds the searched words, with its first few hits."""

    hit_count: int
    """Utterances of the call that hold every searched word."""
    hits: list[SearchHit]


class SearchPage(Schema):
    q: str
    total: int
    total_exact: bool
    """False when more calls match than the count goes to: `total` is then "at least"."""
    page: int
    page_size: int
    items: list[SearchCall]
