"""Evaluations with their findings and highlights, the list of calls to listen to, and the
rollups built from them. Which evaluation is current and how reviews apply are decided by the
caller (app/evaluations.py); this module only reads and writes the rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Row, and_, delete, func, or_, update
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from qa_service.domain.enums import FindingSource
from qa_service.domain.results import CallResult
from qa_service.domain.sampling import DEFAULT_SEED, sample_rank
from qa_service.storage.bulk import bulk_insert, insert_rows
from qa_service.storage.queries import EVALUATION, among, filters
from qa_service.storage.repositories.recordings import EvaluatedRecording, metadata_columns
from qa_service.storage.rollups import rebuild, task_done_sql
from qa_service.storage.tables import (
    CostlyRule,
    Evaluation,
    FindingRow,
    HighlightRow,
    Recording,
    utcnow,
)


def listened_sql(t: type[Evaluation] | type[CostlyRule] = Evaluation, listened: bool = True):
    """A current evaluation's call was listened to: a review applies to it, or a review task of
    the call is done (`t`: the evaluation, or its copy in costly_rule). With `listened` False,
    its negation, written as the AND of NOT EXISTS that PostgreSQL plans as one anti-join (a
    NOT over the OR stays a subquery run once per row walked)."""
    done = task_done_sql(t)
    if listened:
        return or_(t.reviewed_grade.is_not(None), done)
    return and_(t.reviewed_grade.is_(None), ~done)


# What kpis.filters reads of a costly_rule row (it holds current evaluations only).
COSTLY_RULE = {
    "agent": CostlyRule.agent_id,
    "project": CostlyRule.project,
    "when": CostlyRule.called_at,
}


def flagged_ids(
    low_confidence: float, rule: str | None = None, reviewed: bool | None = None, **where
) -> SelectOfScalar[int]:
    """The ids of Evaluations.flagged's calls, newest first. With `rule`, only calls with a
    finding of it that costs points, read from costly_rule: it copies the evaluation's columns
    these filters read (storage.costly_rules)."""
    t: type[Evaluation] | type[CostlyRule] = Evaluation
    cols, conds = EVALUATION, []
    if rule:
        t, cols = CostlyRule, COSTLY_RULE
        conds.append(CostlyRule.rule_id == rule)
    conds += [filters(cols, **where), t.flagged_sql(low_confidence)]
    if reviewed is not None:
        conds.append(listened_sql(t, reviewed))
    ident = CostlyRule.evaluation_id if rule else Evaluation.id
    return select(ident).where(*conds).order_by(t.called_at.desc(), ident.desc())


class Evaluations:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def write(
        self, s: Session, items: list[tuple[EvaluatedRecording, CallResult, float]]
    ) -> list[Written]:
        """Store each (recording, result, speech confidence) in the caller's transaction,
        replacing an earlier evaluation of the same recording and rubric version (the row
        keeps its id, so reviews can point at it, and its reviewed result is cleared for
        apply_written to lay the reviews again), with the result's findings and highlights.
        One entry per item, in order (an item repeated stores its last result)."""
        keys = [(rec.id, r.rubric_id, r.rubric_version) for rec, r, _ in items]
        e = Evaluation
        old = {
            (rid, rubric_id, version): (ev_id, rank, bool(reviewed))
            for ev_id, rid, rubric_id, version, rank, reviewed in s.execute(
                select(
                    e.id,
                    e.recording_id,
                    e.rubric_id,
                    e.rubric_version,
                    e.sample_rank,
                    or_(e.reviewed_grade.is_not(None), e.needs_rereview != 0),
                ).where(
                    among(e.recording_id, {k[0] for k in keys}, s),
                    e.rubric_id.in_({k[1] for k in keys}),
                    e.rubric_version.in_({k[2] for k in keys}),
                )
            )
        }
        stale = {old[k][0] for k in keys if k in old}
        for model in (FindingRow, HighlightRow) if stale else ():
            s.execute(
                delete(model)
                .where(among(model.evaluation_id, stale, s))
                .execution_options(synchronize_session=False)  # none of them is loaded
            )
        last = {key: i for i, key in enumerate(keys)}
        kept = [i for i, key in enumerate(keys) if last[key] == i]
        replaced, added = [], []
        for i in kept:
            rec, result, confidence = items[i]
            row = {
                "recording_id": rec.id,
                "rubric_id": result.rubric_id,
                "rubric_version": result.rubric_version,
                "score": result.score,
                "grade": result.grade,
                "fatal": result.fatal,
                "outcome": result.outcome,
                "created_at": utcnow(),
                "asr_confidence": confidence,
                "duration": rec.duration,
                **metadata_columns(rec),
            }
            if keys[i] in old:
                # its own id and sample rank: a row that exists takes no new id from the
                # sequence, so later rows get the ids they always did
                ev_id, rank, _ = old[keys[i]]
                replaced.append({"id": ev_id, "sample_rank": rank, **row})
            else:  # the rank its column's default gives (a statement of many rows sets it)
                added.append({"sample_rank": sample_rank(DEFAULT_SEED, rec.id), **row})
        ids = {}
        for rows in (replaced, added):
            if rows:
                for ev_id, *key in _upsert(s, rows):
                    ids[tuple(key)] = ev_id
        # Findings and highlights go in as plain rows, in bulk (storage.bulk): building ORM
        # objects for them was most of a rescore's write time.
        findings = [row for i in kept for row in _finding_rows(ids[keys[i]], items[i][1])]
        insert_rows(s, FindingRow.__table__, findings)
        highlights = [
            {"evaluation_id": ids[keys[i]], **asdict(h)}
            for i in kept
            for h in items[i][1].highlights
        ]
        insert_rows(s, HighlightRow.__table__, highlights)
        return [Written(ids[key], *key, key in old and old[key][2]) for key in keys]

    def versions_of(
        self, s: Session, recording_ids: Iterable[int]
    ) -> list[tuple[int, int, str, int]]:
        """(evaluation id, recording id, rubric id, rubric version) of every evaluation of
        these recordings, in the caller's transaction."""
        e = Evaluation
        return list(
            s.exec(
                select(e.id, e.recording_id, e.rubric_id, e.rubric_version).where(
                    among(e.recording_id, recording_ids, s)
                )
            ).all()
        )

    def make_current(self, s: Session, current: dict[int, int], written: Iterable[int]) -> None:
        """Mark `current[recording_id]` (an evaluation id) as each recording's current
        evaluation and its others not; of the `written` evaluations (ids), those current are
        marked so too."""
        e = Evaluation
        s.execute(
            update(e)
            .where(among(e.recording_id, current, s), ~among(e.id, current.values(), s))
            .values(is_current=False)
            .execution_options(synchronize_session=False)
        )
        now_current = set(current.values()) & set(written)
        if now_current:
            s.execute(
                update(e)
                .where(among(e.id, now_current, s), ~e.is_current)
                .values(is_current=True)
                .execution_options(synchronize_session=False)
            )

    def by_ids(self, s: Session, ids: Iterable[int]) -> dict[int, Evaluation]:
        """These evaluations by id, read in the caller's transaction."""
        return {ev.id: ev for ev in s.exec(select(Evaluation).where(among(Evaluation.id, ids, s)))}

    def all(self, rubric_id: str | None = None) -> list[Evaluation]:
        with self.session() as s:
            q = select(Evaluation).order_by(Evaluation.id)
            if rubric_id:
                q = q.where(Evaluation.rubric_id == rubric_id)
            return list(s.exec(q).all())

    def of_recording(self, recording_id: int) -> list[Evaluation]:
        """A recording's evaluations, one per rubric version it was scored with."""
        with self.session() as s:
            return list(
                s.exec(
                    select(Evaluation)
                    .where(Evaluation.recording_id == recording_id)
                    .order_by(Evaluation.id)
                ).all()
            )

    def created_since(self, since: datetime) -> list[Evaluation]:
        with self.session() as s:
            return list(
                s.exec(
                    select(Evaluation).where(Evaluation.created_at >= since).order_by(Evaluation.id)
                ).all()
            )

    def is_scored(self, sha256: str, rubric_id: str, version: int) -> bool:
        """Whether this audio has an evaluation under this rubric version."""
        with self.session() as s:
            return (
                s.exec(
                    select(Evaluation.id)
                    .join(Recording, Recording.id == Evaluation.recording_id)
                    .where(
                        Recording.sha256 == sha256,
                        Evaluation.rubric_id == rubric_id,
                        Evaluation.rubric_version == version,
                    )
                    .limit(1)
                ).first()
                is not None
            )

    def findings(self, evaluation_id: int) -> list[FindingRow]:
        with self.session() as s:
            return list(
                s.exec(
                    select(FindingRow)
                    .where(FindingRow.evaluation_id == evaluation_id)
                    .order_by(FindingRow.id)
                ).all()
            )

    def flagged(
        self,
        low_confidence: float,
        count_limit: int,
        page: int = 1,
        page_size: int = 50,
        rule: str | None = None,
        reviewed: bool | None = None,
        **where,
    ) -> tuple[int, list[Evaluation]]:
        """Current evaluations to listen to (Evaluation.flagged_sql), newest call first: a page
        of them and how many there are, counted up to `count_limit` + 1 (an exact count of
        half a million costs more than the page). `where`: kpis.filters' project, agent,
        since, until, agents."""
        matching = flagged_ids(low_confidence, rule, reviewed, **where)
        offset = (page - 1) * page_size
        with self.session() as s:
            # Counted in the database: shipping the count_limit + 1 ids to count them here
            # cost more than walking the index again for the page.
            total = s.exec(
                select(func.count()).select_from(matching.limit(count_limit + 1).subquery())
            ).one()
            on_page = (
                list(s.exec(matching.offset(offset).limit(page_size)).all())
                if offset < total or total > count_limit  # past the counted ones: look
                else []
            )
            rows = (
                s.exec(
                    select(Evaluation)
                    .where(Evaluation.id.in_(on_page))
                    .order_by(Evaluation.called_at.desc(), Evaluation.id.desc())
                ).all()
                if on_page
                else []
            )
        return total, list(rows)

    def listened(self, recording_ids: list[int]) -> set[int]:
        """Of these recordings, those listened to (a review applies or a task is done)."""
        if not recording_ids:
            return set()
        with self.session() as s:
            return set(
                s.exec(
                    select(Evaluation.recording_id).where(
                        Evaluation.recording_id.in_(recording_ids),
                        Evaluation.is_current,
                        listened_sql(),
                    )
                ).all()
            )

    def rebuild_rollups(self) -> int:
        """Recompute the rollups from the evaluations; returns how many were counted."""
        with self.session() as s:
            counted = rebuild(s)
            s.commit()
        return counted


class Written(NamedTuple):
    """An evaluation `write` stored: its id and key, and whether the row it replaced had a
    reviewed result or awaited a re-review (apply_written looks at those again)."""

    id: int
    recording_id: int
    rubric_id: str
    rubric_version: int
    was_reviewed: bool


# The reviewed result a replaced evaluation is stored without (a new one has none):
# apply_written lays the reviews again.
CLEARED = {
    "reviewed_score": None,
    "reviewed_grade": None,
    "reviewed_fatal": None,
    "needs_rereview": 0,
}
# What identifies an evaluation besides its id (the table's unique constraint).
EVALUATION_KEY = ("recording_id", "rubric_id", "rubric_version")


def _upsert(s: Session, rows: list[dict]) -> Iterable[Row]:
    """INSERT .. ON CONFLICT (the evaluation's key) DO UPDATE the columns given but the key,
    the id and the sample rank, and clear the reviewed result (CLEARED): each row's id and
    key. On PostgreSQL the rows go as arrays (storage.bulk.bulk_insert)."""
    table = Evaluation.__table__
    columns = list(rows[0])
    stmt, params = bulk_insert(s, table, rows)
    kept = {*EVALUATION_KEY, "id", "sample_rank"}
    stmt = stmt.on_conflict_do_update(
        index_elements=list(EVALUATION_KEY),
        set_={**{c: stmt.excluded[c] for c in columns if c not in kept}, **CLEARED},
    ).returning(table.c.id, *(table.c[name] for name in EVALUATION_KEY))
    return s.execute(stmt, params)


def _finding_rows(evaluation_id: int, result: CallResult) -> Iterable[dict]:
    """Column values of a result's finding rows (every row the same keys, for executemany)."""
    for f in result.findings:
        # Evidence holds plain values only: vars() is asdict() without its deep copy.
        evidence = [{k: v for k, v in vars(e).items() if v is not None} for e in f.evidence]
        yield {
            "evaluation_id": evaluation_id,
            "rule_id": f.rule_id,
            "category": str(f.category),
            "status": str(f.status),
            "deduction": f.deduction,
            "name": f.name,
            "severity": f.severity,
            "detail": f.detail,
            "evidence": evidence,
            "source": FindingSource.MACHINE,
        }
