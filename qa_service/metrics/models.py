"""What the KPI, report and wrap-up functions return: the same models the API answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer

from qa_service.domain.evaluation import RubricRef
from qa_service.domain.schema import Instant, Schema
from qa_service.storage.callrefs import NamesACall, NamesCalls
from qa_service.storage.queries import GROUPS
from qa_service.storage.rollups import KpiSums


class KpiRow(Schema):
    """One group's KPIs: the group's own key is set, the others absent."""

    agent: str | None = None
    project: str | None = None
    day: str | None = None
    hour: int | None = None
    rubric: str | None = None
    evaluated: int
    passed: int
    excellent: int
    success: int
    fatal: int
    pass_rate: float | None
    """机器质检合格率: pass or excellent over the calls the machine scored."""
    excellent_rate: float | None
    """质检优秀率."""
    success_rate: float | None
    """外呼在线成功率: outcome success over calls."""
    average_talk_seconds: float | None
    """项目呼出均长."""
    no_speech: int = 0
    """Calls not graded for want of speech (grade no_speech): in none of the counts, rates and
    averages above."""
    listened: int | None = None
    """Calls people listened to (review task done) among them."""
    listened_passed: int | None = None
    listened_pass_rate: float | None = None
    """监听合格率, as seed 000 counts it: pass or excellent over the calls listened to, each
    with the grade it has now (reviewed, or ruled on appeal)."""

    calling_hours: int | None = None
    """Hours (a date's hour, the call center's) in which these calls were made."""
    calls_per_hour: float | None = None
    """每小时呼叫次数 (seed 001): calls over their calling hours; per hour of day, the hour's
    calls over the dates it had calls, not a sum across dates."""

    def with_hours(self, hours: int) -> KpiRow:
        self.calling_hours = hours
        self.calls_per_hour = round(self.evaluated / hours, 2) if hours else None
        return self

    def with_listened(self, heard: int, passed: int) -> KpiRow:
        self.listened, self.listened_passed = heard, passed
        self.listened_pass_rate = round(passed / heard, 4) if heard else None
        return self

    @classmethod
    def of_sums(cls, sums: KpiSums, **key: object) -> KpiRow:
        """The counts and rates of summed calls; `key` is the group's own key (day=..., ...),
        the only one set, so a report's JSON (dumped with exclude_unset) names only it."""
        n = sums.evaluated
        return cls(
            **key,
            evaluated=int(n),
            passed=int(sums.passed),
            excellent=int(sums.excellent),
            success=int(sums.success),
            fatal=int(sums.fatal),
            pass_rate=round(sums.passed / n, 4) if n else None,
            excellent_rate=round(sums.excellent / n, 4) if n else None,
            success_rate=round(sums.success / n, 4) if n else None,
            average_talk_seconds=round(sums.talk_seconds / n, 2) if n else None,
            no_speech=int(sums.no_speech),
        )

    def ungrouped(self) -> KpiRow:
        """The same counts and rates naming no group (a whole project, one of its phases)."""
        return KpiRow(**self.model_dump(exclude=set(GROUPS)))


class CommonError(NamesCalls):
    """共性错误: a rule that cost points, by how many calls it hit."""

    rule_id: str
    category: str
    name: str
    count: int
    share: float | None


class RefusalReason(Schema):
    objection_id: str
    name: str
    raised_in_calls: int
    share_of_calls: float | None
    handled: int
    handled_rate: float | None
    success_rate_after: float | None


class VoiceExample(NamesACall):
    """Where one utterance of a group was said."""

    evaluation_id: int
    agent_id: str | None
    start: float
    text: str


class VoiceGroup(Schema):
    """客户问题/拒绝原因: customer utterances that mean the same, named by the most typical one."""

    label: str
    """The group's medoid: the utterance closest in meaning to all the others."""
    kind: Literal["question", "refusal"]
    utterances: int
    calls: int
    share_of_calls: float | None
    objection_id: str | None = None
    """The rubric's objection most of them match (None: the rubric does not name it)."""
    objection_name: str | None = None
    after_section: str | None
    """The script section most of them followed (None: said before any section)."""
    after_section_name: str | None
    after_sections: dict[str, int]
    """Script section id ("" before any) -> utterances said after it."""
    variants: list[str]
    """Its different wordings, the most said first (at most 5)."""
    examples: list[VoiceExample]


class DropOff(Schema):
    """Calls that ended in refusal right after a script section (the last one said before the
    customer's final refusal)."""

    section_id: str | None
    name: str
    reached: int
    """Calls in which the section was said."""
    refused_after: int
    refused_share: float | None
    """refused_after over reached."""


class CustomerVoice(Schema):
    """客户意见与实际需求: every question and every refusal customers said, grouped by meaning,
    and where in the script calls ended in refusal."""

    calls: int
    questions: list[VoiceGroup]
    refusals: list[VoiceGroup]
    drop_off: list[DropOff]
    rule: str = ""
    """How utterances are read and grouped (reports.VOICE_RULE)."""


class GuidePoint(Schema):
    """引导地图: a selling point, how often agents say it and how customers take it."""

    point_id: str
    name: str
    said_in_calls: int
    said_rate: float
    customer_replies: dict[str, int]
    positive_rate: float | None
    quadrant: int | None
    """1 we say it and they like it, 2 we say it and they do not, 3 neither, 4 they like it
    but we rarely say it; None when no reply to it could be judged (listed apart, not placed)."""
    asked: list[str] = []
    """What customers asked right after it, the most asked first (at most 3)."""


class HighlightExample(NamesACall):
    agent_id: str | None
    start: float
    end: float | None = None
    """Where the highlight's words end (a player stops there)."""


class HighlightScript(Schema):
    reason: str
    """A script section's kind, objection_handled:<id>, or agent_line (a proposal accepted)."""
    text: str
    """A reviewer's wording where one corrected it, else the recognizer's."""
    calls: int
    successes: int
    success_rate: float
    examples: list[HighlightExample]
    key: str = ""
    """Names it in highlight decisions (reviewers correct, accept, reject)."""
    asr_text: str | None = None
    """What the recognizer wrote, when a reviewer corrected it."""


class HighlightProposal(Schema):
    """A line agents said that is not in the script, after which customers accepted more often
    than after the project's lines on average: proposed as a new highlight (亮点话术)."""

    key: str
    text: str
    """The group's medoid (a reviewer's wording once decided with one)."""
    asr_text: str
    variants: list[str]
    said: int
    calls: int
    accepted_after: int
    """Times the customer's next utterance accepted."""
    acceptance_rate: float
    lift: float
    """acceptance_rate over the project's average after any agent line."""
    examples: list[VoiceExample]
    status: Literal["proposed", "accepted", "rejected"] = "proposed"
    decided_by: str | None = None
    decided_at: Instant | None = None


class HighlightDecisionIn(Schema):
    """A reviewer's decision on a proposed highlight or a library line: accept (with a corrected
    wording if the recognizer got it wrong) or reject."""

    asr_text: str = Field(min_length=1, max_length=2000)
    """The line as the report shows it (its key is computed from it)."""
    decision: Literal["accepted", "rejected"]
    text: str | None = Field(default=None, max_length=2000)
    """The corrected wording; None keeps the recognizer's."""
    # strict: JSON true is no number here (the schema says number or null)
    lift: float | None = Field(default=None, ge=0, le=1e6, strict=True)
    calls: int | None = Field(default=None, ge=0, le=10**9, strict=True)
    comment: str = Field(default="", max_length=4000)


class HighlightDecisionOut(Schema):
    id: int
    project: str
    key: str
    asr_text: str
    text: str
    status: str
    lift: float | None
    calls: int | None
    reviewer: str
    decided_at: Instant
    comment: str


class TrialReport(Schema):
    project: str
    phase: str | None
    rubric: RubricRef
    calls: int
    success_rate: float | None
    refusal_reasons: list[RefusalReason]
    guide_map: list[GuidePoint]
    highlights: list[HighlightScript]
    quadrant_rule: str = ""
    """How the guide map reads reactions and places points (reports.QUADRANT_RULE)."""
    customer_voice: CustomerVoice | None = None
    highlight_proposals: list[HighlightProposal] = []
    acceptance_after_lines: float | None = None
    """The project's average: how often the customer's next utterance after an agent line
    accepts (what a proposal's lift is measured against)."""


class InflightWindow(Schema):
    hours: int
    until: Instant
    kpis: KpiRow | None
    common_errors: list[CommonError]


class InflightReport(Schema):
    project: str
    start: Instant | None
    windows: list[InflightWindow]
    customer_voice: CustomerVoice | None = None
    """Customers' questions and refusals in the widest window (with the project's rubric)."""


class ErrorDay(Schema):
    """One day of a common error over a project's run."""

    day: str
    calls: int
    share: float | None
    """Of the day's evaluated calls."""


class ErrorTrend(CommonError):
    """A common error over a project's whole run, day by day."""

    by_day: list[ErrorDay]
    trend: Literal["rising", "falling", "steady"]
    """The mean daily share of the later half of the days against the earlier half."""


class FactExample(NamesACall):
    agent_id: str | None
    start: float | None
    text: str | None
    said: str | None


class FactViolation(Schema):
    """知识库核对: a product fact agents stated with a value the knowledge base contradicts."""

    rule_id: str
    name: str
    calls: int
    values_said: dict[str | None, int]
    kb_value: str | None
    examples: list[FactExample]


class WrapupRubric(Schema):
    id: str
    version: int
    name: str
    project_type: str
    knowledge_base: str | None
    """What the rubric names: a stored knowledge base's id, or a file's path."""
    knowledge_base_name: str | None = None
    """The knowledge base's own name (its product), None where it cannot be read."""
    knowledge_base_version: int | None = None


# Written by isoformat, as the saved wrap-up reports always were (pydantic's JSON writes Z for UTC).
LocalTime = Annotated[
    datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")
]


class WrapupPeriod(Schema):
    first_call: LocalTime | None
    """In the call center's zone, with its offset."""
    last_call: LocalTime | None
    days: int
    agents: int


class WrapupReport(Schema):
    """项目总结: what the next similar project starts from. A KPI row names only its own group
    (kpis_by_day: the day) or none (the whole project, a phase)."""

    project: str
    generated_at: str
    """When it was made, in the call center's zone, to the second."""
    rubric: WrapupRubric
    period: WrapupPeriod
    kpis: KpiRow
    kpis_by_phase: dict[str, KpiRow]
    kpis_by_day: list[KpiRow]
    guide_map: list[GuidePoint]
    common_errors: list[ErrorTrend]
    highlights: list[HighlightScript]
    refusal_reasons: list[RefusalReason]
    product_fact_violations: list[FactViolation]
    customer_voice: CustomerVoice | None = None
    setup: ProjectSetup | None = None
    """三统一: the script, rubric and knowledge-base versions the project ran."""

    def to_dict(self) -> dict:
        """The report as `qa-service wrapup` saves and prints it (times as Python objects);
        unset, so left out: the group keys a KPI row does not name."""
        return self.model_dump(exclude_unset=True)


class VersionRef(Schema):
    id: str
    version: int


class ScriptRecord(Schema):
    """An outbound script a project stored, with its audit's verdict."""

    version: int
    name: str
    clean: bool
    """The audit found no problem."""
    problems: int
    rubric: VersionRef
    """The rubric version it was audited with."""
    knowledge_base: VersionRef | None
    """The stored knowledge-base version it was audited with (none: a file, or none named)."""
    created_at: Instant


class ProjectSetup(Schema):
    """三统一: the script, the rubric version and the knowledge-base version a project runs, and
    what does not line up."""

    project: str
    script: ScriptRecord | None
    rubric: VersionRef | None
    """The active rubric version, else the one most of its calls were scored with."""
    knowledge_base: VersionRef | None
    """The stored knowledge-base version its rubric reads for this project."""
    unified: bool
    """All three recorded, the script passed the audit with these very versions."""
    warnings: list[str]


class CarriedOver(Schema):
    """下一个项目从上一个开始: what a new project starts from, taken from an earlier project's
    wrap-up when it was carried over (its example calls are the earlier project's)."""

    project: str
    source_project: str
    source_rubric: VersionRef
    carried_at: Instant
    highlights: list[HighlightScript]
    common_errors: list[ErrorTrend]
    refusal_reasons: list[RefusalReason]
    product_fact_violations: list[FactViolation]
    other: dict[str, list[Any]] = {}
    """Every other list of the wrap-up (customers' questions and needs, ...), as it was."""
