"""Evaluations with their findings and highlights, the list of calls to listen to, and the
rollups built from them. Which evaluation is current and how reviews apply are decided by the
caller (app/evaluations.py); this module only reads and writes the rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import delete, exists, or_, update
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from qa_service.domain.enums import FindingSource, Grade, TaskState
from qa_service.domain.results import CallResult
from qa_service.storage.bulk import insert_rows
from qa_service.storage.queries import EVALUATION, filters
from qa_service.storage.repositories.recordings import copy_metadata
from qa_service.storage.rollups import rebuild
from qa_service.storage.tables import (
    CostlyRule,
    Evaluation,
    FindingRow,
    HighlightRow,
    Recording,
    ReviewTask,
    utcnow,
)


def listened_sql(t: type[Evaluation] | type[CostlyRule] = Evaluation):
    """A current evaluation's call was listened to: a review applies to it, or a review task of
    the call is done (`t`: the evaluation, or its copy in costly_rule)."""
    return or_(
        t.reviewed_grade.is_not(None),
        exists().where(
            ReviewTask.recording_id == t.recording_id,
            ReviewTask.state == TaskState.DONE,
        ),
    )


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
        heard = listened_sql(t)
        conds.append(heard if reviewed else ~heard)
    ident = CostlyRule.evaluation_id if rule else Evaluation.id
    return select(ident).where(*conds).order_by(t.called_at.desc(), ident.desc())


class Evaluations:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def write(
        self, s: Session, items: list[tuple[Recording, CallResult, float]]
    ) -> list[Evaluation]:
        """Store each (recording, result, speech confidence) in the caller's transaction,
        replacing an earlier evaluation of the same recording and rubric version (the row
        keeps its id, so reviews can point at it), with the result's findings and highlights."""
        keys = {(rec.id, r.rubric_id, r.rubric_version) for rec, r, _ in items}
        old = {
            (e.recording_id, e.rubric_id, e.rubric_version): e
            for e in s.exec(
                select(Evaluation).where(
                    Evaluation.recording_id.in_({k[0] for k in keys}),
                    Evaluation.rubric_id.in_({k[1] for k in keys}),
                )
            ).all()
        }
        stale = [e.id for k, e in old.items() if k in keys]
        if stale:
            s.exec(delete(FindingRow).where(FindingRow.evaluation_id.in_(stale)))
            s.exec(delete(HighlightRow).where(HighlightRow.evaluation_id.in_(stale)))
        evaluations = []
        for rec, result, confidence in items:
            ev = old.get((rec.id, result.rubric_id, result.rubric_version))
            if ev is None:
                ev = Evaluation(
                    recording_id=rec.id,
                    rubric_id=result.rubric_id,
                    rubric_version=result.rubric_version,
                    score=0,
                    grade=Grade.FAIL,
                )
            else:
                ev.created_at = utcnow()
            ev.score, ev.grade, ev.fatal, ev.outcome = (
                result.score,
                result.grade,
                result.fatal,
                result.outcome,
            )
            ev.asr_confidence = confidence
            ev.duration = rec.duration
            copy_metadata(ev, rec)
            s.add(ev)
            evaluations.append(ev)
        s.flush()
        # Findings and highlights go in as plain rows, in bulk (storage.bulk): building ORM
        # objects for them was most of a rescore's write time (nothing reads them back from
        # this session; apply_reviews queries them).
        findings = [
            row
            for ev, (_, result, _) in zip(evaluations, items, strict=True)
            for row in _finding_rows(ev.id, result)
        ]
        insert_rows(s, FindingRow.__table__, findings)
        highlights = [
            {"evaluation_id": ev.id, **asdict(h)}
            for ev, (_, result, _) in zip(evaluations, items, strict=True)
            for h in result.highlights
        ]
        insert_rows(s, HighlightRow.__table__, highlights)
        return evaluations

    def versions_of(
        self, s: Session, recording_ids: Iterable[int]
    ) -> list[tuple[int, int, str, int]]:
        """(evaluation id, recording id, rubric id, rubric version) of every evaluation of
        these recordings, in the caller's transaction."""
        e = Evaluation
        return list(
            s.exec(
                select(e.id, e.recording_id, e.rubric_id, e.rubric_version).where(
                    e.recording_id.in_(set(recording_ids))
                )
            ).all()
        )

    def make_current(
        self, s: Session, current: dict[int, int], evaluations: list[Evaluation]
    ) -> None:
        """Mark `current[recording_id]` (an evaluation id) as each recording's current
        evaluation and its others not; `evaluations` are this session's objects to update too."""
        s.exec(
            update(Evaluation)
            .where(Evaluation.recording_id.in_(current), Evaluation.id.notin_(current.values()))
            .values(is_current=False)
        )
        for ev in evaluations:
            ev.is_current = ev.id == current[ev.recording_id]
            s.add(ev)

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
            # One pass finds the first count_limit + 1 ids in order: the count and, on the
            # first pages, the page too (the same matches are not searched for twice).
            ids = s.exec(matching.limit(count_limit + 1)).all()
            if offset + page_size <= len(ids) or len(ids) <= count_limit:
                on_page = list(ids[offset : offset + page_size])
            else:  # a page past the counted ones
                on_page = list(s.exec(matching.offset(offset).limit(page_size)).all())
            rows = (
                s.exec(
                    select(Evaluation)
                    .where(Evaluation.id.in_(on_page))
                    .order_by(Evaluation.called_at.desc(), Evaluation.id.desc())
                ).all()
                if on_page
                else []
            )
        return len(ids), list(rows)

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
