"""KPIs (seeds 000/001) from stored evaluations, grouped in SQL so they stay fast at scale.

监听合格率 pass rate = 合格数 / 质检总数 (pass or excellent over evaluated calls)
质检优秀率 excellent rate = 优秀数 / 质检总数
外呼在线成功率 success rate = 成功量 / 通话量 (outcome success over calls)
项目呼出均长 average talk time = total call duration / calls
A reviewer's grade replaces the machine's where there is one.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Integer, and_, case, cast, func
from sqlmodel import Session, select

from qa_service.db import Evaluation, FindingRow, Recording

GROUPS = ("agent", "project", "day", "hour", "rubric")


def _when():
    return func.coalesce(Recording.call_time, Recording.created_at)


def group_column(group: str, dialect: str):
    when = _when()
    if group == "agent":
        return func.coalesce(Recording.agent_id, "")
    if group == "project":
        return func.coalesce(Recording.project, "")
    if group == "rubric":
        return Evaluation.rubric_id
    if group == "day":
        return func.strftime("%Y-%m-%d", when) if dialect == "sqlite" else \
            func.to_char(when, "YYYY-MM-DD")
    if group == "hour":
        return cast(func.strftime("%H", when), Integer) if dialect == "sqlite" else \
            cast(func.extract("hour", when), Integer)
    raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")


def filters(project: Optional[str] = None, agent: Optional[str] = None,
            since: Optional[datetime] = None, until: Optional[datetime] = None,
            rubric_id: Optional[str] = None, phase: Optional[str] = None, dialect: str = "sqlite"):
    conds = []
    when = _when()
    if project:
        conds.append(Recording.project == project)
    if agent:
        conds.append(Recording.agent_id == agent)
    if since:
        conds.append(when >= since)
    if until:
        conds.append(when < until)
    if rubric_id:
        conds.append(Evaluation.rubric_id == rubric_id)
    if phase:
        conds.append(Recording.phase == phase)
    return and_(True, *conds)


def kpi_rows(session: Session, group: str, **kw) -> list[dict]:
    dialect = session.get_bind().dialect.name
    grade = func.coalesce(Evaluation.reviewed_grade, Evaluation.grade)
    key = group_column(group, dialect).label("key")
    q = (select(
        key,
        func.count(Evaluation.id).label("evaluated"),
        func.sum(case((grade.in_(("pass", "excellent")), 1), else_=0)).label("passed"),
        func.sum(case((grade == "excellent", 1), else_=0)).label("excellent"),
        func.sum(case((Evaluation.outcome == "success", 1), else_=0)).label("success"),
        func.sum(case((Evaluation.fatal, 1), else_=0)).label("fatal"),
        func.sum(Recording.duration).label("talk_seconds"),
    ).select_from(Evaluation).join(Recording, Recording.id == Evaluation.recording_id)
        .where(filters(dialect=dialect, **kw)).group_by(key).order_by(key))
    out = []
    for row in session.exec(q).all():
        n = row.evaluated or 0
        out.append({
            group: row.key, "evaluated": n, "passed": int(row.passed or 0),
            "excellent": int(row.excellent or 0), "success": int(row.success or 0),
            "fatal": int(row.fatal or 0),
            "pass_rate": round((row.passed or 0) / n, 4) if n else None,
            "excellent_rate": round((row.excellent or 0) / n, 4) if n else None,
            "success_rate": round((row.success or 0) / n, 4) if n else None,
            "average_talk_seconds": round((row.talk_seconds or 0) / n, 2) if n else None,
        })
    return out


def common_errors(session: Session, limit: int = 20, examples: int = 3, **kw) -> list[dict]:
    """共性错误: rules that cost points, by how many evaluated calls they hit."""
    dialect = session.get_bind().dialect.name
    where = filters(dialect=dialect, **kw)
    total = session.exec(select(func.count(Evaluation.id)).select_from(Evaluation)
                         .join(Recording, Recording.id == Evaluation.recording_id)
                         .where(where)).one()
    status = func.coalesce(FindingRow.reviewed_status, FindingRow.status)
    bad = status.in_(("missed", "violation", "unhandled"))
    q = (select(FindingRow.rule_id, FindingRow.category, func.min(FindingRow.name).label("name"),
                func.count(func.distinct(FindingRow.evaluation_id)).label("calls"))
         .join(Evaluation, Evaluation.id == FindingRow.evaluation_id)
         .join(Recording, Recording.id == Evaluation.recording_id)
         .where(where, bad)
         .group_by(FindingRow.rule_id, FindingRow.category)
         .order_by(func.count(func.distinct(FindingRow.evaluation_id)).desc(), FindingRow.rule_id)
         .limit(limit))
    out = []
    for row in session.exec(q).all():
        sample = session.exec(
            select(Evaluation.recording_id).join(FindingRow, FindingRow.evaluation_id == Evaluation.id)
            .join(Recording, Recording.id == Evaluation.recording_id)
            .where(where, bad, FindingRow.rule_id == row.rule_id).limit(examples)).all()
        out.append({"rule_id": row.rule_id, "category": row.category, "name": row.name,
                    "count": row.calls, "share": round(row.calls / total, 4) if total else None,
                    "example_recordings": list(sample)})
    return out
