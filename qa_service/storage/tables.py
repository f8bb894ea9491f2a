"""Storage models (SQLModel): SQLite by default, Postgres by URL (QA_DATABASE_URL)."""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, func, or_, text
from sqlmodel import Field, SQLModel

from qa_service.domain.enums import FindingSource, FlagReason, Grade, Phase
from qa_service.domain.sampling import DEFAULT_SEED, sample_rank


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def utcfromtimestamp(seconds: float) -> datetime:
    """A Unix time as the stored clock (naive UTC)."""
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


class Recording(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(index=True, unique=True, max_length=64)  # content hash: the identity
    source_path: str
    duration: float
    channels: int
    separation: str = "stereo"  # stereo (roles by channel) | mono (roles by clustering)
    agent_id: str | None = Field(default=None, index=True)
    project: str | None = Field(default=None, index=True)
    call_time: NaiveDatetime | None = Field(default=None, index=True)
    phase: str = Field(default=Phase.PRODUCTION, index=True)  # a Phase
    asr_model: str = ""
    # Recognition warnings of the stored transcript (transcript.Transcript.warnings): the call's
    # evaluations carry them and a confidence no higher than config.DOUBTFUL_CONFIDENCE (flagged).
    asr_warnings: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: NaiveDatetime = Field(default_factory=utcnow)


# Indexes a migration makes that the models cannot describe on every database: the
# transcript search's bigram index (0011, PostgreSQL only; review/search.py queries it).
SEARCH_INDEX = "ix_utterance_text_bigrams"
MIGRATION_ONLY_INDEXES = frozenset({SEARCH_INDEX})


class UtteranceRow(SQLModel, table=True):
    __tablename__ = "utterance"
    __table_args__ = (Index("ix_utterance_recording_seq", "recording_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id")
    seq: int
    role: str
    start: float
    end: float
    text: str = Field(sa_column=Column(Text, nullable=False))
    confidence: float = 1.0


class TranscriptVectors(SQLModel, table=True):
    """Sentence vectors of a recording's utterances (semantic.py), one row per recording:
    embedded once when the transcript is stored, so rescoring embeds only a rubric's examples.
    Packed arrays (semantic.pack_vectors): segment owners and spans int16, vectors int8."""

    __tablename__ = "transcript_vectors"
    recording_id: int = Field(foreign_key="recording.id", primary_key=True)
    model: str  # vectors of another model are never compared: re-embedded instead
    dim: int
    owners: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    spans: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    vectors: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class TranscriptTexts(SQLModel, table=True):
    """The prepared texts of a recording's utterances (rules/text_forms.py), one row per
    recording: prepared once when the transcript is stored, so rescoring reads them."""

    __tablename__ = "transcript_texts"
    recording_id: int = Field(foreign_key="recording.id", primary_key=True)
    form: str  # texts of another form are prepared again (text_forms.FORM)
    texts: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # text_forms.pack


class RubricRow(SQLModel, table=True):
    __tablename__ = "rubric"
    __table_args__ = (UniqueConstraint("rubric_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    rubric_id: str = Field(index=True)
    version: int
    name: str = ""
    project_type: str = "marketing"
    yaml_text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


def _default_rank(context) -> int:
    return sample_rank(DEFAULT_SEED, context.get_current_parameters()["recording_id"])


def _current() -> dict:
    """Partial index over the current evaluations only (what KPIs and the flagged list read)."""
    return dict(postgresql_where=text("is_current"), sqlite_where=text("is_current"))


# The columns Evaluation.flagged_sql reads (its low-confidence threshold is a setting).
FLAG_COLUMNS = ["grade", "reviewed_grade", "fatal", "reviewed_fatal", "asr_confidence"]


class Evaluation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("recording_id", "rubric_id", "rubric_version"),
        # newest first with the id's tie-break, carrying the recording and what flags a call:
        # search and the flagged list walk these alone (migrations 0016, 0017)
        Index(
            "ix_evaluation_current_called",
            "called_at",
            "id",
            postgresql_include=["recording_id", *FLAG_COLUMNS],
            **_current(),
        ),
        Index(
            "ix_evaluation_current_project_called",
            "project",
            "called_at",
            "id",
            postgresql_include=["recording_id", *FLAG_COLUMNS],
            **_current(),
        ),
        # The rubric most of a project's calls were scored with (wrapup.project_rubric_key).
        Index(
            "ix_evaluation_current_project_rubric",
            "project",
            "rubric_id",
            "rubric_version",
            **_current(),
        ),
        Index(
            "ix_evaluation_current_agent_called",
            "agent_id",
            "called_at",
            "id",
            postgresql_include=["recording_id", *FLAG_COLUMNS],
            **_current(),
        ),
        # the review sample's order, carrying the call time it pages by (migration 0017)
        Index(
            "ix_evaluation_current_project_rank",
            "project",
            "sample_rank",
            "recording_id",
            "id",
            postgresql_include=["called_at"],
            **_current(),
        ),
        Index(
            "ix_evaluation_current_rank",
            "sample_rank",
            "recording_id",
            "id",
            postgresql_include=["called_at"],
            **_current(),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", index=True)
    rubric_id: str = Field(index=True)
    rubric_version: int
    score: float
    grade: str = Field(index=True)
    fatal: bool = False
    outcome: str = "unknown"
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    # The reviewed result, once a review applies (qa_service.review.reviews keeps these in step with
    # the reviews and with every rescoring): the score recomputed by the same scoring rules from
    # the reviewed findings, its grade (a reviewer's grade override wins) and fatal flag. KPIs,
    # rollups and lists read the effective_* forms (reviewed, else the machine's).
    reviewed_score: float | None = Field(default=None)
    reviewed_grade: str | None = Field(default=None)
    reviewed_fatal: bool | None = Field(default=None)
    # Reviews of this call kept in the trail that no longer apply to this evaluation (their rule
    # left the rubric or changed category, the finding is gone): someone should listen again.
    needs_rereview: int = 0
    # Mean word probability over the call's speech (weighted by duration): a low value flags the
    # call for listening, the recognition itself is in doubt (noise, dialect, another language).
    asr_confidence: float = 1.0
    # The recording's latest evaluation is its current one: KPIs, rollups and the flagged list
    # count each call once, however often it was rescored and with whichever rubric.
    is_current: bool = True
    # Copied from the recording (kept in step when its metadata changes), so the metrics
    # queries filter and sort on one table's indexes instead of joining a million recordings.
    project: str = ""
    agent_id: str = ""
    phase: str = Phase.PRODUCTION
    called_at: NaiveDatetime = Field(default_factory=utcnow)  # call time, else when stored
    duration: float = 0.0
    # The call's place in the default review sample (sampling.sample_rank with DEFAULT_SEED),
    # set on insert from recording_id: a sample of a project's calls walks an index.
    sample_rank: int | None = Field(default=None, sa_column_kwargs={"default": _default_rank})

    @property
    def effective_grade(self) -> str:
        """The reviewer's grade where there is one, else the machine's: what KPIs and lists use."""
        return self.reviewed_grade or self.grade

    @classmethod
    def effective_grade_sql(cls):
        return func.coalesce(cls.reviewed_grade, cls.grade)

    @property
    def effective_score(self) -> float:
        return self.score if self.reviewed_score is None else self.reviewed_score

    @property
    def effective_fatal(self) -> bool:
        return self.fatal if self.reviewed_fatal is None else self.reviewed_fatal

    @classmethod
    def effective_fatal_sql(cls):
        return func.coalesce(cls.reviewed_fatal, cls.fatal)

    @property
    def reviewed(self) -> bool:
        return self.reviewed_grade is not None

    def flag_reasons(self, low_confidence: float) -> list[FlagReason]:
        """Why this call should be listened to (none: it need not be). The one definition of
        "flagged", used by the API's /flagged and the nightly report; flagged_sql is its SQL."""
        reasons = []
        if self.effective_grade == Grade.FAIL:
            reasons.append(FlagReason.FAIL)
        if self.effective_fatal:
            reasons.append(FlagReason.FATAL)
        if self.asr_confidence < low_confidence:
            reasons.append(FlagReason.LOW_CONFIDENCE)
        if self.effective_grade == Grade.NO_SPEECH:  # not graded: is the recording really empty?
            reasons.append(FlagReason.NO_SPEECH)
        return reasons

    @classmethod
    def flagged_sql(cls, low_confidence: float):
        return flagged_where(cls, low_confidence)


def flagged_where(t, low_confidence: float):
    """Evaluation.flag_reasons as SQL over a table with the FLAG_COLUMNS: an evaluation, or
    its copy in CostlyRule."""
    grade = func.coalesce(t.reviewed_grade, t.grade)
    return or_(
        grade == Grade.FAIL,
        func.coalesce(t.reviewed_fatal, t.fatal),
        t.asr_confidence < low_confidence,
        grade == Grade.NO_SPEECH,
    )


class FindingRow(SQLModel, table=True):
    __tablename__ = "finding"
    # Recent example calls for a rule: walk this index backwards and stop after a few.
    # (carrying the status: is a call's finding of a rule costly, from the index alone)
    __table_args__ = (
        Index(
            "ix_finding_rule_evaluation",
            "rule_id",
            "evaluation_id",
            postgresql_include=["status", "reviewed_status"],
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id", index=True)
    rule_id: str
    category: str
    status: str
    deduction: float = 0.0
    name: str = ""
    severity: str = "normal"
    detail: str = ""
    evidence: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reviewed_status: str | None = None  # a reviewer's confirmed or overridden status
    # The deduction under the reviewed status (the machine's `deduction` stays as it was).
    reviewed_deduction: float | None = None
    # machine: the checks found it (status is theirs) | reviewer: added by a review, the
    # machine saw nothing (status is ""); rows of both kinds are replaced on rescoring.
    source: str = FindingSource.MACHINE
    review_id: int | None = None  # the review that decides reviewed_status (no FK: see Review)

    @property
    def effective_status(self) -> str:
        """The reviewer's status where there is one, else the machine's."""
        return self.reviewed_status or self.status

    @classmethod
    def effective_status_sql(cls):
        return func.coalesce(cls.reviewed_status, cls.status)


def _costly_walk(name: str, *lead: str) -> Index:
    """Newest first within a rule (and a project or an agent), carrying what the flagged list
    filters on: `/flagged?rule=` reads this index alone."""
    return Index(
        name,
        "rule_id",
        *lead,
        "called_at",
        "evaluation_id",
        postgresql_include=["recording_id", *FLAG_COLUMNS],
    )


class CostlyRule(SQLModel, table=True):
    """A rule that costs a current evaluation points (a finding of it with a costly effective
    status), with a copy of the evaluation's filter and flag columns: one row per evaluation
    and rule. Derived, like the rollups: `costly_rules.refresh` rewrites a call's rows inside
    every `rollups.tracked` change and `costly_rules.rebuild` all of them (migration 0020)."""

    __tablename__ = "costly_rule"
    __table_args__ = (
        _costly_walk("ix_costly_rule_called"),
        _costly_walk("ix_costly_rule_project_called", "project"),
        _costly_walk("ix_costly_rule_agent_called", "agent_id"),
    )
    # no foreign key: derived rows, rewritten with the evaluation's (a check per row would
    # cost every rescore and the backfill)
    evaluation_id: int = Field(primary_key=True)
    rule_id: str = Field(primary_key=True)
    recording_id: int
    project: str
    agent_id: str
    called_at: NaiveDatetime
    grade: str
    reviewed_grade: str | None = None
    fatal: bool
    reviewed_fatal: bool | None = None
    asr_confidence: float

    @classmethod
    def flagged_sql(cls, low_confidence: float):
        return flagged_where(cls, low_confidence)


class HighlightRow(SQLModel, table=True):
    __tablename__ = "highlight"
    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id", index=True)
    role: str
    start: float
    end: float
    text: str = Field(sa_column=Column(Text, nullable=False))
    reason: str


class HighlightProposalRow(SQLModel, table=True):
    """A reviewer's decision on a highlight line of a project (亮点话术): a line agents invented
    that the trial report proposes, or a library line; accepted (with the reviewer's wording
    where the recognizer got it wrong) or rejected. One row per project and line (its key: the
    line's normalized text, hashed); a new decision replaces the old."""

    __tablename__ = "highlight_proposal"
    __table_args__ = (UniqueConstraint("project", "key", name="uq_highlight_proposal_key"),)
    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(max_length=64)
    key: str = Field(max_length=40)
    asr_text: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    status: str  # accepted | rejected
    lift: float | None = None
    calls: int | None = None
    reviewer: str
    decided_at: NaiveDatetime = Field(default_factory=utcnow)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    role: str  # a KeyRole
    key_hash: str = Field(index=True, unique=True, max_length=64)  # sha256 of the secret
    prefix: str = Field(max_length=12)  # first characters, to tell keys apart in lists
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    revoked: bool = False
    # the person the key belongs to (None: an integration's key of its own); a person's key
    # has the person's role and sees what the person sees
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)


class User(SQLModel, table=True):
    """A person who signs in: QA staff, a team lead (组长) or an agent (坐席). The password is
    stored as an argon2 hash only. An agent is bound to the agent id their calls carry; a team
    lead leads a team (TeamMember rows say which agent ids are in it)."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)  # what they sign in with
    display_name: str = Field(default="", max_length=64)
    role: str  # a KeyRole
    password_hash: str = Field(max_length=200)
    agent_id: str | None = Field(default=None, index=True, max_length=64)
    team: str | None = Field(default=None, index=True, max_length=64)
    active: bool = True
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class TeamMember(SQLModel, table=True):
    """Which agent ids are in a team (a team lead sees their calls)."""

    __tablename__ = "team_member"
    team: str = Field(primary_key=True, max_length=64)
    agent_id: str = Field(primary_key=True, index=True, max_length=64)


class EndedSession(SQLModel, table=True):
    """A web session signed out before its cookie expired: its nonce is refused until then."""

    __tablename__ = "ended_session"
    nonce: str = Field(primary_key=True, max_length=64)
    until: NaiveDatetime = Field(index=True)


class Review(SQLModel, table=True):
    """The audit trail of reviewers' decisions: who, when, about what, from what to what, and
    who withdrew it. A review belongs to the recording and the rule (rubric id, rule id, and for
    findings that occur several times the time span), not to a finding row: rescoring replaces
    finding rows and never touches reviews; qa_service.review.reviews applies them again to whatever
    the machine found. The machine result itself is never overwritten."""

    __table_args__ = (Index("ix_review_recording_rubric", "recording_id", "rubric_id"),)
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id")
    rubric_id: str
    rubric_version: int  # the version the reviewer was looking at
    evaluation_id: int = Field(foreign_key="evaluation.id")  # evaluations are kept, never deleted
    target: str  # grade | finding
    action: str  # confirm | override | add
    rule_id: str | None = None  # None for grade reviews
    category: str | None = None  # the rule's category when reviewed
    start: float | None = None  # the finding's time span (per-occurrence rules, additions)
    end: float | None = None
    machine_value: str | None = None  # the machine's status or grade when reviewed
    old_value: str = ""  # what the reviewer saw (machine or an earlier review)
    new_value: str
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    evidence_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    reviewer: str
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    withdrawn_by: str | None = None
    withdrawn_at: NaiveDatetime | None = None
    withdraw_comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    # the appeal this review is the final ruling of: it decides over every other review of the
    # same thing (qa_service.review.reviews.plan) and cannot be withdrawn
    appeal_id: int | None = Field(default=None, index=True)


class Appeal(SQLModel, table=True):
    """An agent's appeal (申诉) of a grade or a finding of one call: filed by the agent or their
    team lead within the appeal window, assigned by a QA manager to a reviewer who did not make
    the contested decision, ruled upheld or overturned; the ruling is a Review (appeal_id)."""

    __table_args__ = (Index("ix_appeal_state_filed", "state", "filed_at"),)
    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id", index=True)
    recording_id: int = Field(foreign_key="recording.id", index=True)
    rubric_id: str
    rubric_version: int
    agent_id: str | None = Field(default=None, index=True)
    project: str | None = Field(default=None, index=True)
    target: str  # grade | finding
    rule_id: str | None = None
    category: str | None = None
    start: float | None = None
    end: float | None = None
    contested_value: str  # the status or grade the agent disputes, as shown when filed
    contested_by: str  # who made that decision: "machine" or the reviewer
    reason: str = Field(sa_column=Column(Text, nullable=False))
    filed_by: str
    filed_at: NaiveDatetime = Field(default_factory=utcnow)
    state: str = Field(default="filed", index=True)  # an AppealState
    assigned_to: str | None = Field(default=None, index=True)
    assigned_by: str | None = None
    assigned_at: NaiveDatetime | None = None
    ruling_comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    ruled_by: str | None = None
    ruled_at: NaiveDatetime | None = None
    review_id: int | None = None  # the ruling's review
    seen_at: NaiveDatetime | None = None  # the agent read the ruling


class Acknowledgement(SQLModel, table=True):
    """An agent's 已阅 of a scored call: they saw the score and the findings."""

    recording_id: int = Field(foreign_key="recording.id", primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    evaluation_id: int = Field(foreign_key="evaluation.id")
    acknowledged_at: NaiveDatetime = Field(default_factory=utcnow)


class SamplingPlan(SQLModel, table=True):
    """A project's sampling plan (抽检计划): which calls people listen to and who does.
    `criteria` and `reviewers` are checked by qa_service.review.tasks (PlanCriteria)."""

    __tablename__ = "sampling_plan"
    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(index=True)
    name: str
    criteria: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reviewers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    seed: str = ""
    due_hours: float = 24.0
    active: bool = True
    created_by: str = ""
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class ReviewTask(SQLModel, table=True):
    """A call put before a reviewer (复核任务). At most one open task per recording; a call
    counts as listened to (监听) once its task is done."""

    __tablename__ = "review_task"
    __table_args__ = (
        Index("ix_review_task_assignee_state", "assignee", "state"),
        Index("ix_review_task_project_done", "project", "state", "called_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    recording_id: int = Field(foreign_key="recording.id", index=True)
    evaluation_id: int = Field(foreign_key="evaluation.id")
    project: str | None = None
    agent_id: str | None = Field(default=None, index=True)
    called_at: NaiveDatetime | None = None  # the call's time (UTC), what 监听合格率 counts by
    plan_id: int | None = Field(default=None, index=True)
    run: str = ""  # the plan run that made it (plan id and period), for the audit
    reason: str  # a TaskReason
    state: str = Field(default="unassigned", index=True)  # a TaskState
    assignee: str | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    due_at: NaiveDatetime | None = None
    claimed_at: NaiveDatetime | None = None
    done_at: NaiveDatetime | None = None
    done_by: str | None = None
    grade: str | None = None  # the call's grade as the reviewer left it


class CalibrationSession(SQLModel, table=True):
    """A calibration session (校准): reviewers score the same calls blind; agreement and
    consensus are computed when they have, and closing may apply the consensus as reviews."""

    __tablename__ = "calibration_session"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    rubric_id: str
    hide_machine: bool = True
    state: str = "open"  # open | closed
    evaluation_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reviewers: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = ""
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    closed_at: NaiveDatetime | None = None
    applied: bool = False


class CalibrationScore(SQLModel, table=True):
    """One reviewer's judgement of one item of one call in a session: a rule's status, or the
    grade (rule_id "grade")."""

    __tablename__ = "calibration_score"
    session_id: int = Field(foreign_key="calibration_session.id", primary_key=True)
    evaluation_id: int = Field(primary_key=True)
    reviewer: str = Field(primary_key=True, max_length=64)
    rule_id: str = Field(primary_key=True)
    value: str
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class ActiveRubric(SQLModel, table=True):
    __tablename__ = "active_rubric"
    project: str = Field(primary_key=True)
    rubric_id: str
    version: int
    activated_at: NaiveDatetime = Field(default_factory=utcnow)


class KnowledgeBaseRow(SQLModel, table=True):
    """A knowledge base version (知识库), stored like a rubric version: never overwritten. A
    rubric's `knowledge_base:` names one by id (id@version pins a version)."""

    __tablename__ = "knowledge_base"
    __table_args__ = (UniqueConstraint("kb_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    kb_id: str = Field(index=True, max_length=64)
    version: int
    product: str = ""
    yaml_text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class ActiveKnowledge(SQLModel, table=True):
    """The knowledge-base version a project runs (三统一), where it chose one."""

    __tablename__ = "active_knowledge"
    project: str = Field(primary_key=True, max_length=64)
    kb_id: str = Field(max_length=64)
    version: int
    activated_at: NaiveDatetime = Field(default_factory=utcnow)


class ProjectScript(SQLModel, table=True):
    """An outbound script a project runs, stored with its audit (试呼前评估核查) against the
    rubric and knowledge-base versions it was audited with (三统一). Versions per project."""

    __tablename__ = "project_script"
    __table_args__ = (UniqueConstraint("project", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(index=True, max_length=64)
    version: int
    name: str = ""
    text: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    rubric_id: str
    rubric_version: int
    kb_id: str | None = None
    kb_version: int | None = None
    clean: bool = False  # the audit found no problem
    audit: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = ""
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class ProjectCarryover(SQLModel, table=True):
    """What a new project starts from: the wrap-up of an earlier one (highlights, common errors,
    refusal reasons, questions ...), as it was when carried over."""

    __tablename__ = "project_carryover"
    project: str = Field(primary_key=True, max_length=64)
    source_project: str = Field(max_length=64)
    body: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = ""
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class Bulletin(SQLModel, table=True):
    """An hourly bulletin (整点通报) of a project in its first day after launch (上线后)."""

    __tablename__ = "bulletin"
    __table_args__ = (UniqueConstraint("project", "hour"),)
    id: int | None = Field(default=None, primary_key=True)
    project: str = Field(index=True, max_length=64)
    hour: NaiveDatetime  # the whole hour (UTC) it reports up to
    hours_since_launch: int
    body: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class JobRecord(SQLModel, table=True):
    """Every scoring request, kept in the database so nothing is lost while Redis is away:
    `pending` until it is on a queue, then the queue's status."""

    __tablename__ = "job"
    id: str = Field(primary_key=True, max_length=200)  # the idempotency key (rq job id)
    kind: str = "score"
    path: str
    sha256: str = Field(index=True, max_length=64)
    rubric_id: str
    rubric_version: int
    agent_channel: str | None = None
    status: str = Field(
        default="pending", index=True
    )  # pending|queued|scheduled|started|finished|failed
    error: str = Field(default="", sa_column=Column(Text, nullable=False))
    attempts: int = 0
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
    recording_id: int | None = None  # known from the upload on
    evaluation_id: int | None = None  # set when the job finished
    project: str | None = None  # a rescore's project (None: what the rubric chose)


class _ProjectCell(SQLModel):
    """A rollup cell's place: which rubric, project and phase (trial 试呼 or production)."""

    rubric_id: str = Field(primary_key=True)
    project: str = Field(primary_key=True, index=True)
    phase: str = Field(primary_key=True)


class _AgentCell(_ProjectCell):
    agent_id: str = Field(primary_key=True, index=True)


class _KpiSums(SQLModel):
    # evaluated and the sums after it count graded calls only; no_speech counts the calls not
    # graded for want of speech (Grade.NO_SPEECH), which are in no other sum.
    evaluated: int = 0
    passed: int = 0
    excellent: int = 0
    success: int = 0
    fatal: int = 0
    talk_seconds: float = 0.0
    no_speech: int = 0
    # graded calls listened to (a review task of the call done), and of them those passing:
    # 监听合格率 = listened_passed / listened
    listened: int = 0
    listened_passed: int = 0


class _ErrorCount(SQLModel):
    rule_id: str = Field(primary_key=True)
    category: str = Field(primary_key=True)
    name: str = ""
    calls: int = 0


KPI_SUM_COLUMNS = list(_KpiSums.model_fields)


class KpiRollup(_AgentCell, _KpiSums, table=True):
    """Sums of the current evaluations per rubric, project, phase, agent and hour: KPI queries
    by agent read these (a few rows per agent-hour) instead of every evaluation."""

    __tablename__ = "kpi_rollup"
    # An agent's or a project's agents' cells with their sums, in the order they are grouped:
    # read from the index alone (migration 0017).
    __table_args__ = (
        Index(
            "ix_kpi_rollup_project_agent_hour",
            "project",
            "agent_id",
            "hour",
            postgresql_include=["rubric_id", "phase", *KPI_SUM_COLUMNS],
        ),
        Index(
            "ix_kpi_rollup_agent_hour",
            "agent_id",
            "hour",
            postgresql_include=["rubric_id", "project", "phase", *KPI_SUM_COLUMNS],
        ),
    )
    hour: NaiveDatetime = Field(primary_key=True, index=True)


class ProjectKpiRollup(_ProjectCell, _KpiSums, table=True):
    """The same sums without the agent: what project, day and hour KPIs read (a few rows per
    project-hour however many agents work on it)."""

    __tablename__ = "kpi_rollup_project"
    hour: NaiveDatetime = Field(primary_key=True, index=True)


class ErrorRollup(_AgentCell, _ErrorCount, table=True):
    """Calls per rule that cost points (missed, violation, unhandled), per rubric, project,
    phase, agent and day: the common-errors (共性错误) ranking of one agent reads these."""

    __tablename__ = "error_rollup"
    day: NaiveDatetime = Field(primary_key=True, index=True)


class ProjectErrorRollup(_ProjectCell, _ErrorCount, table=True):
    """The same counts without the agent, for rankings of a project or of everything."""

    __tablename__ = "error_rollup_project"
    day: NaiveDatetime = Field(primary_key=True, index=True)
