"""What the KPI and report functions return: the same models the API answers with.
"""
from __future__ import annotations

from datetime import datetime
from dataclasses import asdict
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from qa_service.domain.enums import CallOutcome, Category, FindingStatus, FlagReason, Grade, JobState
from qa_service.domain.evaluation import RubricRef
from qa_service.domain.schema import Instant, Seconds, Ratio, OptionalRatio, MAX_ROW_ID, Schema


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
