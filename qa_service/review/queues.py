"""Browsing evaluations, not only the flagged ones: a filtered, paginated list (newest first)
and a reproducible random sample of a period's calls for manual QA (call centers listen to a
few percent of calls beside the machine's flags)."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

from sqlalchemy import BigInteger, cast, func
from sqlmodel import Session, select

from qa_service.domain.evaluation import RubricRef
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
    )


def list_evaluations(
    session: Session, page: int = 1, page_size: int = 50, **criteria
) -> EvaluationPage:
    where = evaluation_filter(**criteria)
    total = session.exec(select(func.count()).select_from(Evaluation).where(*where)).one()
    rows = session.exec(
        select(Evaluation)
        .where(*where)
        .order_by(Evaluation.called_at.desc(), Evaluation.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return EvaluationPage(
        total=total, page=page, page_size=page_size, items=[evaluation_item(ev) for ev in rows]
    )


# The sample order is a keyed permutation of recording ids that the database computes (the same
# integer arithmetic on SQLite and PostgreSQL, every step below 2**63), so a sample of any size is
# chosen and paged there: rank = ((x**3 mod p) * B + k2) mod p, x = (recording_id * A + k1) mod p.
# p is prime with p % 3 == 2, so cubing modulo p is one-to-one: no two calls share a rank (ids
# below p: every id, MAX_ROW_ID = 2**31 - 1, but 68; those ties fall back to the id). k1 and k2
# come from the seed (sha256), so another seed is another order. Audit a sample by recomputing
# sample_rank(seed, recording_id) for every call of the period and taking the smallest.
SAMPLE_PRIME = 2_147_483_579  # the largest prime below 2**31 that is 2 modulo 3
SAMPLE_A = 1_103_515_245
SAMPLE_B = 69_069


def sample_keys(seed: str) -> tuple[int, int]:
    """The seed's two keys (k1, k2), each below SAMPLE_PRIME."""
    digest = hashlib.sha256(seed.encode()).digest()
    return (
        int.from_bytes(digest[:8], "big") % SAMPLE_PRIME,
        int.from_bytes(digest[8:16], "big") % SAMPLE_PRIME,
    )


def sample_rank(seed: str, recording_id: int) -> int:
    """A call's place in the sample order: fixed per seed and call, so the same question gives
    the same calls, and calls stored later join without reshuffling the rest. The same number
    as sample_rank_sql computes in the database (for audits and tests)."""
    k1, k2 = sample_keys(seed)
    p = SAMPLE_PRIME
    x = (recording_id * SAMPLE_A + k1) % p
    return (x * x % p * x % p * SAMPLE_B + k2) % p


def sample_rank_sql(seed: str, recording_id):
    """sample_rank as a SQL expression of a recording id column (64-bit integer arithmetic)."""
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
    **criteria,
) -> ReviewSample:
    """`percent` of the period's current evaluations, at least one call when there is any,
    newest first a page at a time, and how many there were to choose from. The database
    chooses (the calls of smallest sample_rank) and pages: no id list travels, at any size."""
    where = evaluation_filter(project=project, since=since, until=until, **criteria)
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
