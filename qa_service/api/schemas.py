"""Request and answer bodies that belong to the HTTP API alone (rubrics, uploads, jobs, health)."""

from __future__ import annotations

from qa_service.domain.enums import (
    CallOutcome,
    Grade,
    JobState,
)
from qa_service.domain.evaluation import (
    RubricRef,
)
from qa_service.domain.schema import Instant, Schema


class RubricSummary(Schema):
    id: str
    version: int
    name: str
    project_type: str
    created_at: Instant


class RubricUploaded(RubricSummary):
    created: bool = True
    """False when this version was already stored with the same text: nothing new was saved."""


class RubricListItem(RubricSummary):
    active_for: list[str] = []
    """Projects whose new recordings are scored with this version."""


class RubricDetail(RubricSummary):
    yaml: str
    """The rubric text as uploaded."""


class RubricProblem(Schema):
    line: int | None
    field: str
    reason: str


class Activation(Schema):
    project: str
    rubric: RubricRef
    warnings: list[str] = []
    """三统一: the project's script has not passed the audit, or was audited with another
    rubric version (activation goes ahead: audit the script again)."""


class RescoreAccepted(Schema):
    """A rescoring request, kept like an upload (GET /jobs/{job_id} follows it)."""

    job_id: str
    project: str | None
    rubric: RubricRef | None = None
    status: JobState | None = None
    detail: str | None = None
    scope: str | None = None
    """Which calls it scores again, in a sentence (how many, of which project or rubric)."""


class Submission(Schema):
    """The answer to an upload or import: the request's job, queued once per rubric version."""

    job_id: str
    recording_id: int | None = None
    sha256: str
    rubric: RubricRef
    status: JobState
    duplicate: bool | None = None
    """True when the same audio under the same rubric version was already queued or scored."""
    detail: str | None = None
    """Why the request is still pending (the queue is away: 503)."""


class JobOut(Schema):
    """A scoring request as the job table keeps it."""

    id: str
    kind: str
    path: str
    sha256: str
    rubric_id: str
    rubric_version: int
    agent_channel: str | None = None
    status: JobState
    error: str = ""
    attempts: int = 0
    created_at: Instant
    updated_at: Instant
    recording_id: int | None = None
    """Known from the upload on."""
    evaluation_id: int | None = None
    """Set when the job finished."""
    scheduled_for: Instant | None = None
    """When a `scheduled` job (a retry waiting out its backoff) is due to be queued again, as
    the queue has it (GET /jobs/{id} only)."""


class RecordingEvaluation(Schema):
    id: int
    rubric: RubricRef
    score: float
    grade: Grade
    machine_score: float | None = None
    machine_grade: Grade
    fatal: bool
    reviewed: bool | None = None
    outcome: CallOutcome
    current: bool
    """The recording's newest evaluation: the one KPIs count."""


class RecordingOut(Schema):
    id: int
    sha256: str
    duration: float
    channels: int
    separation: str
    agent_id: str | None = None
    project: str | None = None
    call_time: Instant | None = None
    phase: str
    asr_model: str
    asr_warnings: list[str] = []
    """Recognition warnings of the stored transcript (CallEvaluation.warnings)."""
    created_at: Instant
    evaluations: list[RecordingEvaluation] = []


class Health(Schema):
    status: str
    database: str
    queue: str
    """rq (Redis) or embedded (jobs in the API process)."""
    redis: str | None = None
    unavailable: list[str] | None = None
    """What is down (database, redis): the database makes it a 503, Redis alone `degraded`."""
    detail: str | None = None


class Problem(Schema):
    """One thing to fix: the request field (or the rubric's line and field) and why."""

    field: str | None = None
    """`query parameter page`, `body.comment`, a rubric's `rules[2].keywords`..."""
    line: int | None = None
    """The rubric YAML's line (rubric problems only)."""
    reason: str


class ErrorBody(Schema):
    """Every answer that is not a success (api/errors.py): a sentence a QA admin understands,
    with `problems` where there is more than one thing to fix."""

    detail: str
    problems: list[Problem] | None = None


class KnowledgeRef(Schema):
    id: str
    version: int


class KnowledgeSummary(Schema):
    id: str
    version: int
    product: str
    created_at: Instant


class KnowledgeUploaded(KnowledgeSummary):
    created: bool = True
    """False when this version was already stored with the same text: nothing new was saved."""


class KnowledgeListItem(KnowledgeSummary):
    active_for: list[str] = []
    """Projects that run this version (三统一)."""


class KnowledgeFactOut(Schema):
    id: str
    name: str
    type: str
    """元 个月 天 分钟 小时 % 兆 GB, date or bool."""
    value: str
    """As reports print it: 96元, 2026-12-31, 是/否."""


class KnowledgeDetail(KnowledgeSummary):
    yaml: str
    """The knowledge base text as uploaded."""
    facts: list[KnowledgeFactOut]


class KnowledgeActivation(Schema):
    project: str
    knowledge_base: KnowledgeRef
    warnings: list[str] = []
    """三统一: the project's script has not passed the audit, or was audited with other
    versions (activation goes ahead: audit the script again)."""
