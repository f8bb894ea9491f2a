"""Browsing evaluations, not only the flagged ones: a filtered, paginated list (newest first)
and a reproducible random sample of a period's calls for manual QA (call centers listen to a
few percent of calls beside the machine's flags)."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import BigInteger, cast, func
from sqlmodel import Session, select

from qa_service.config import get_settings
from qa_service.domain.evaluation import RubricRef
from qa_service.domain.sampling import (
    DEFAULT_SEED,
    SAMPLE_A,
    SAMPLE_B,
    SAMPLE_PRIME,
    sample_keys,
)
from qa_service.review.models import EvaluationItem, EvaluationPage, ReviewSample
from qa_service.storage.queries import EVALUATION, filters
from qa_service.storage.tables import Evaluation

ANY_VERSION = {k: v for k, v in EVALUATION.items() if k != "current"}


def evaluation_filter(
    project: str | None = None,
    agent: str | None = None,
    rubric_id: str | None = None,
    grade: str | None = None,
    reviewed: bool | None = None,
    needs_rereview: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    current: bool = True,
    agents: frozenset[str] | None = None,
) -> list:
    where = [
        filters(
            EVALUATION if current else ANY_VERSION,
            project=project,
            agent=agent,
            agents=agents,
            since=since,
            until=until,
            rubric_id=rubric_id,
        )
    ]
    if grade:
        where.append(Evaluation.effective_grade_sql() == grade)
    if reviewed is not None:
        where.append(
            Evaluation.reviewed_grade.is_not(None)
            if reviewed
            else Evaluation.reviewed_grade.is_(None)
        )
    if needs_rereview is not None:
        where.append(
            Evaluation.needs_rereview > 0 if needs_rereview else Evaluation.needs_rereview == 0
        )
    return where


def evaluation_item(ev: Evaluation) -> EvaluationItem:
    """One evaluation in a list: its machine and reviewed results beside the one that counts."""
    return EvaluationItem(
        evaluation_id=ev.id,
        recording_id=ev.recording_id,
        agent_id=ev.agent_id,
        project=ev.project,
        call_time=ev.called_at,
        rubric=RubricRef(id=ev.rubric_id, version=ev.rubric_version),
        machine_score=ev.score,
        machine_grade=ev.grade,
        reviewed_score=ev.reviewed_score,
        reviewed_grade=ev.reviewed_grade,
        score=ev.effective_score,
        grade=ev.effective_grade,
        fatal=ev.effective_fatal,
        outcome=ev.outcome,
        reviewed=ev.reviewed,
        needs_rereview=ev.needs_rereview,
        current=ev.is_current,
        reasons=ev.flag_reasons(get_settings().low_confidence),
    )


def list_evaluations(
    session: Session,
    page: int = 1,
    page_size: int = 50,
    count_limit: int | None = None,
    **criteria,
) -> EvaluationPage:
    """A page of evaluations, newest first, and how many match: counted up to `count_limit`
    and then "at least" (`total_exact` false), as /flagged does, since an exact count of a
    million rows costs more than the page itself."""
    where = evaluation_filter(**criteria)
    matching = select(Evaluation.id).where(*where)
    if count_limit is not None:
        matching = matching.limit(count_limit + 1)
    total = session.exec(select(func.count()).select_from(matching.subquery())).one()
    exact = count_limit is None or total <= count_limit
    rows = session.exec(
        select(Evaluation)
        .where(*where)
        .order_by(Evaluation.called_at.desc(), Evaluation.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return EvaluationPage(
        total=total if exact else count_limit,
        total_exact=exact,
        page=page,
        page_size=page_size,
        items=[evaluation_item(ev) for ev in rows],
    )


def sample_rank_sql(seed: str, recording_id):
    """sample_rank as a SQL expression of a recording id column (64-bit integer arithmetic)."""
    if seed == DEFAULT_SEED:  # stored with every evaluation and indexed per project
        return Evaluation.sample_rank
    return seed_rank_sql(seed, recording_id)


def seed_rank_sql(seed: str, recording_id):
    """The rank computed in the database, for any seed (the migration fills the stored one)."""
    k1, k2 = sample_keys(seed)
    p = SAMPLE_PRIME
    x = (cast(recording_id, BigInteger) * SAMPLE_A + k1) % p
    cube = (x * x) % p * x % p
    return (cube * SAMPLE_B + k2) % p


def review_sample(
    session: Session,
    percent: float,
    seed: str = "",
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    page_size: int = 50,
    population: int | None = None,
    **criteria,
) -> ReviewSample:
    """`percent` of the period's current evaluations, at least one call when there is any,
    newest first a page at a time, and how many there were to choose from. The database
    chooses (the calls of smallest sample_rank) and pages: no id list travels, at any size.
    `population`, when the caller has it (the metrics' rollups count a project's calls without
    a count(*) over millions of rows), is how many calls the filters match."""
    where = evaluation_filter(project=project, since=since, until=until, **criteria)
    if population is None:
        population = session.exec(select(func.count()).select_from(Evaluation).where(*where)).one()
    size = min(population, max(1, math.ceil(population * percent / 100))) if population else 0
    chosen = select(Evaluation.id, Evaluation.called_at).where(*where)
    if size < population:  # all of them needs no order
        chosen = chosen.order_by(
            sample_rank_sql(seed, Evaluation.recording_id), Evaluation.recording_id, Evaluation.id
        ).limit(size)
    sample = chosen.subquery()
    on_page = (
        select(sample.c.id)
        .order_by(sample.c.called_at.desc(), sample.c.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = (
        session.exec(
            select(Evaluation)
            .where(Evaluation.id.in_(on_page))
            .order_by(Evaluation.called_at.desc(), Evaluation.id.desc())
        ).all()
        if size
        else []
    )
    return ReviewSample(
        project=project,
        percent=percent,
        seed=seed,
        since=since,
        until=until,
        population=population,
        sample_size=size,
        total=size,
        page=page,
        page_size=page_size,
        items=[evaluation_item(ev) for ev in rows],
    )
