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
    """An API key's role, in order: each can do what the ones before it can."""

    VIEWER = "viewer"
    REVIEWER = "reviewer"
    ADMIN = "admin"
