"""The closed sets of values the service speaks in: grades, finding statuses and categories,
call outcomes, job states, script-section kinds, speaker roles, phases, finding sources and
API-key roles.

`str` Enums (as rq's JobStatus): a member *is* its string, so it compares equal to the text
stored in the database, prints as it, and goes into JSON as it. Code names members
(`Grade.FAIL`), never the literal.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """str() and format() give the value (enum.StrEnum is 3.11+; we support 3.10)."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return format(str.__str__(self), spec)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


class Grade(StrEnum):
    EXCELLENT = "excellent"
    PASS = "pass"
    FAIL = "fail"
    # Not graded: the recording holds no speech, or too little to judge (silence, noise, a dead
    # line; config.NO_SPEECH_MIN_CHARS / NO_SPEECH_MIN_SECONDS). Its score is null, it has no
    # findings, it counts in no KPI (pass rate, averages, common errors) but in `no_speech`,
    # and it is flagged for a person to listen to (FlagReason.NO_SPEECH).
    NO_SPEECH = "no_speech"


PASSING = (Grade.PASS, Grade.EXCELLENT)  # counted by 监听合格率
GRADED = (Grade.EXCELLENT, Grade.PASS, Grade.FAIL)  # what the KPIs count (not NO_SPEECH)


class FindingStatus(StrEnum):
    HIT = "hit"  # a required section or point was said
    MISSED = "missed"  # ... and was not
    VIOLATION = "violation"  # a forbidden phrase, an attitude error, a limit crossed
    HANDLED = "handled"  # an objection answered in time
    UNHANDLED = "unhandled"  # ... and not
    DISMISSED = "dismissed"  # a reviewer's verdict: the machine was wrong


COSTLY = (FindingStatus.MISSED, FindingStatus.VIOLATION, FindingStatus.UNHANDLED)  # cost points
MET = (FindingStatus.HIT, FindingStatus.HANDLED)  # the rule was satisfied


class Category(StrEnum):
    """What kind of rule a finding comes from (the spec's finding `category`)."""

    SCRIPT_SECTION = "script_section"
    MANDATORY_POINT = "mandatory_point"
    FORBIDDEN_PHRASE = "forbidden_phrase"
    ATTITUDE_ERROR = "attitude_error"
    OBJECTION = "objection"
    SILENCE = "silence"
    INTERRUPTION = "interruption"
    SPEECH_RATE = "speech_rate"
    PRODUCT_FACT = "product_fact"  # a product fact the knowledge base contradicts


class CallOutcome(StrEnum):
    SUCCESS = "success"
    REFUSAL = "refusal"
    UNKNOWN = "unknown"


class JobState(StrEnum):
    """A scoring request's state (the `job` table). rq's own states map onto these."""

    PENDING = "pending"  # stored, not yet on a queue (Redis was away)
    QUEUED = "queued"
    # failed for a transient reason, its retry booked on rq's scheduler for later (rq's own
    # `scheduled`; GET /jobs/{id} says when)
    SCHEDULED = "scheduled"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"


DONE = (JobState.FINISHED, JobState.FAILED)


class SectionKind(StrEnum):
    """The six parts of the outbound script: 首问语 开场白 产品介绍 建议说服 总结成交 结束语."""

    GREETING = "greeting"
    OPENING = "opening"
    PRODUCT_INTRO = "product_intro"
    PERSUASION = "persuasion"
    CLOSING = "closing"
    FAREWELL = "farewell"


class FlagReason(StrEnum):
    """Why a call is flagged for listening (Evaluation.flag_reasons: the one definition)."""

    FAIL = "fail"  # graded fail (the reviewer's grade where there is one)
    FATAL = "fatal"  # a fatal finding (一票否决)
    LOW_CONFIDENCE = "low_confidence"  # the recognition itself is in doubt (QA_LOW_CONFIDENCE)
    NO_SPEECH = "no_speech"  # nothing or next to nothing recognized: not graded


class Role(StrEnum):
    """Who speaks an utterance; `ANY` is for a rule's role only (whoever says it)."""

    AGENT = "agent"
    CUSTOMER = "customer"
    ANY = "any"


class Phase(StrEnum):
    """A recording's phase: a project's trial calls (试呼) come before its production calls."""

    TRIAL = "trial"
    PRODUCTION = "production"


class FindingSource(StrEnum):
    """Who made a stored finding: the rule engine, or a reviewer adding what it missed."""

    MACHINE = "machine"
    REVIEWER = "reviewer"


class KeyRole(StrEnum):
    """A person's (and their API keys') role. Agents (坐席) and team leads (组长) see the calls
    of their agent id or their team only; the rest are QA staff, in order, each able to do what
    the ones before it can: viewer, reviewer (质检员), QA manager (质检主管), admin."""

    AGENT = "agent"
    TEAM_LEAD = "team_lead"
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    MANAGER = "manager"
    ADMIN = "admin"


# What each role may do: a route needs a level; agents and team leads are on the lowest one
# (their own calls), staff start at the viewer's.
ROLE_LEVEL = {
    KeyRole.AGENT: 0,
    KeyRole.TEAM_LEAD: 0,
    KeyRole.VIEWER: 1,
    KeyRole.REVIEWER: 2,
    KeyRole.MANAGER: 3,
    KeyRole.ADMIN: 4,
}
# Roles whose calls are a subset: everything they see is filtered by agent id.
SCOPED_ROLES = frozenset({KeyRole.AGENT, KeyRole.TEAM_LEAD})


class AppealState(StrEnum):
    """An agent's appeal (申诉) of a finding or a grade: filed, assigned to a reviewer by the
    QA manager, then ruled; the ruling is final."""

    FILED = "filed"  # 待分配
    ASSIGNED = "assigned"  # 待裁定
    UPHELD = "upheld"  # 维持原判: the contested decision stands
    OVERTURNED = "overturned"  # 改判: the agent was right

    @property
    def open(self) -> bool:
        return self in (AppealState.FILED, AppealState.ASSIGNED)


class TaskState(StrEnum):
    """A review task (复核任务): a call a sampling plan (抽检计划), a re-review or a manager
    put before people. Overdue (逾期) is not stored: an open task past its due time is."""

    UNASSIGNED = "unassigned"  # 待分配
    ASSIGNED = "assigned"  # 待复核
    IN_PROGRESS = "in_progress"  # 复核中: claimed
    DONE = "done"  # 已复核

    @property
    def open(self) -> bool:
        return self is not TaskState.DONE


class TaskReason(StrEnum):
    """Why a call is in a review task: the plan's criterion that picked it, first match wins."""

    FATAL = "fatal"  # 致命错误
    LOW_CONFIDENCE = "low_confidence"  # 识别置信度低
    SCORE_BAND = "score_band"  # 分数段
    DURATION_BAND = "duration_band"  # 时长段
    AGENT_MINIMUM = "agent_minimum"  # 每坐席最少抽检
    RANDOM = "random"  # 随机抽检
    REREVIEW = "rereview"  # 规则新版本后需重新复核
    MANUAL = "manual"  # 主管指派
