"""What reviews and rescoring teach about a rubric.

Rule precision: per rule, how many of the machine's bad findings (missed, violation,
unhandled) reviewers confirmed or overturned, and how many findings they added that the
machine missed; precision = confirmed / (confirmed + overturned). Each thing reviewed counts
once, with its newest review that was not withdrawn.

Versions side by side: for the calls scored by two versions of a rubric, the machine results
of each (what the rubric does): grade changes, score distributions, per-rule rates.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from qa_service.domain.enums import COSTLY, MET, FindingSource, Grade
from qa_service.exceptions import RubricNotFound
from qa_service.i18n import message
from qa_service.review.models import (
    FieldChange,
    GradeChange,
    HistogramBucket,
    PrecisionReport,
    ReviewExample,
    RubricComparison,
    RubricDiff,
    RuleChange,
    RuleComparison,
    RulePrecision,
    RuleRate,
    ScoredAs,
    ScoreDistribution,
)
from qa_service.review.reviews import review_key, second_opinion, stored_catalog
from qa_service.rules.field_labels import field_label
from qa_service.rules.rubric import Rubric
from qa_service.storage.queries import stored_time
from qa_service.storage.tables import Evaluation, FindingRow, Recording, Review, RubricRow

HISTOGRAM = ((0, 60), (60, 70), (70, 80), (80, 90), (90, 100))


def _example(r: Review) -> ReviewExample:
    return ReviewExample(
        review_id=r.id,
        evaluation_id=r.evaluation_id,
        recording_id=r.recording_id,
        rubric_version=r.rubric_version,
        machine_status=r.machine_value,
        reviewed_status=r.new_value,
        start=r.start,
        end=r.end,
        evidence_text=r.evidence_text,
        comment=r.comment,
        reviewer=r.reviewer,
    )


def decisive_reviews(
    session: Session,
    rubric_id: str,
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Review]:
    """The deciding review of each (call, finding) under this rubric id (the newest not
    withdrawn that is not a second opinion: reviews.second_opinion), of the calls made in
    [since, until) (stored UTC times, or with an offset)."""
    since, until = stored_time(since), stored_time(until)
    called = func.coalesce(Recording.call_time, Recording.created_at)  # both UTC
    q = (
        select(Review)
        .join(Recording, Recording.id == Review.recording_id)
        .where(
            Review.rubric_id == rubric_id, Review.target == "finding", Review.withdrawn_at.is_(None)
        )
        .order_by(Review.id)
    )
    if project:
        q = q.where(Recording.project == project)
    if since:
        q = q.where(called >= since)
    if until:
        q = q.where(called < until)
    newest: dict[tuple, Review] = {}
    for r in session.exec(q).all():
        key = (r.recording_id, review_key(r))
        standing = newest.get(key)
        if standing is None or not second_opinion(standing, r):
            newest[key] = r
    return list(newest.values())


def rule_precision(
    session: Session,
    rubric_id: str,
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    from_version: int | None = None,
    to_version: int | None = None,
    examples: int = 20,
) -> PrecisionReport:
    reviews = [
        r
        for r in decisive_reviews(session, rubric_id, project, since, until)
        if (from_version is None or r.rubric_version >= from_version)
        and (to_version is None or r.rubric_version <= to_version)
    ]
    versions = sorted({r.rubric_version for r in reviews})
    names = _rule_names(session, rubric_id, versions)
    rules: dict[str, RulePrecision] = {}
    for r in reviews:
        if r.rule_id is None:
            continue  # a review converted from before reviews named their rule
        row = rules.get(r.rule_id)
        if row is None:
            row = rules[r.rule_id] = RulePrecision(
                rule_id=r.rule_id,
                category=r.category,
                name=names.get(r.rule_id, r.rule_id),
                confirmed=0,
                overturned=0,
                added=0,
                turned_bad=0,
                overturned_examples=[],
                added_examples=[],
            )
        machine_bad = r.machine_value in COSTLY
        if r.action == "add":
            row.added += 1
            row.added_examples.append(_example(r))
        elif machine_bad and r.new_value == r.machine_value:
            row.confirmed += 1
        elif machine_bad:
            row.overturned += 1
            row.overturned_examples.append(_example(r))
        elif r.machine_value is not None and r.new_value in COSTLY:
            row.turned_bad += 1
            row.added_examples.append(_example(r))
    for row in rules.values():
        judged = row.confirmed + row.overturned
        row.precision = round(row.confirmed / judged, 4) if judged else None
        row.overturned_examples = row.overturned_examples[-examples:]
        row.added_examples = row.added_examples[-examples:]
    ordered = sorted(
        rules.values(), key=lambda x: (x.precision is None, x.precision or 0, x.rule_id)
    )
    return PrecisionReport(
        rubric_id=rubric_id,
        project=project,
        versions=versions,
        since=since,
        until=until,
        rules=ordered,
    )


def _rule_names(session: Session, rubric_id: str, versions: list[int]) -> dict[str, str]:
    names: dict[str, str] = {}
    for version in versions:  # the newest version's names win
        catalog = stored_catalog(session, rubric_id, version)
        if catalog is not None:
            names.update(
                {rule_id: info.name for rule_id, info in catalog.rules.items() if info.name}
            )
    return names


# Rubric versions side by side ------------------------------------------------------------


def _distribution(scores: list[float]) -> ScoreDistribution:
    histogram = [
        HistogramBucket(
            bucket=f"{lo}-{hi}", count=sum(lo <= s < hi or (hi == 100 and s == 100) for s in scores)
        )
        for lo, hi in HISTOGRAM
    ]
    if not scores:
        return ScoreDistribution(mean=None, median=None, min=None, max=None, histogram=histogram)
    return ScoreDistribution(
        mean=round(statistics.fmean(scores), 2),
        median=statistics.median(scores),
        min=min(scores),
        max=max(scores),
        histogram=histogram,
    )


def compare_versions(
    session: Session,
    rubric_id: str,
    version_from: int,
    version_to: int,
    project: str | None = None,
    phase: str | None = None,
) -> RubricComparison:
    for version in (version_from, version_to):
        if (
            session.exec(
                select(RubricRow.id).where(
                    RubricRow.rubric_id == rubric_id, RubricRow.version == version
                )
            ).first()
            is None
        ):
            raise RubricNotFound(
                message(
                    "rubric {rubric} version {version} is not stored",
                    rubric=rubric_id,
                    version=version,
                )
            )
    pairs: dict[int, dict[int, Evaluation]] = defaultdict(dict)
    q = select(Evaluation).where(
        Evaluation.rubric_id == rubric_id,
        Evaluation.rubric_version.in_([version_from, version_to]),
        Evaluation.grade != Grade.NO_SPEECH,  # not graded by the machine: nothing to compare
    )
    if project:
        q = q.where(Evaluation.project == project)
    if phase:
        q = q.where(Evaluation.phase == phase)
    for ev in session.exec(q).all():
        pairs[ev.recording_id][ev.rubric_version] = ev
    both = sorted(
        (p for p in pairs.values() if len(p) == 2 or version_from == version_to),
        key=lambda p: p[version_from].recording_id,
    )
    sides = {"from": [p[version_from] for p in both], "to": [p[version_to] for p in both]}
    changed = [
        GradeChange(
            recording_id=a.recording_id,
            agent_id=b.agent_id,
            call_time=b.called_at,
            from_=ScoredAs(evaluation_id=a.id, score=a.score, grade=a.grade),
            to=ScoredAs(evaluation_id=b.id, score=b.score, grade=b.grade),
        )
        for p in both
        for a, b in [(p[version_from], p[version_to])]
        if a.grade != b.grade
    ]
    calls = len(both)
    return RubricComparison(
        rubric_id=rubric_id,
        from_=version_from,
        to=version_to,
        project=project,
        phase=phase,
        calls=calls,
        changed_grade_count=len(changed),
        changed_grade=changed,
        grades={
            side: {g: sum(e.grade == g for e in evs) for g in ("excellent", "pass", "fail")}
            for side, evs in sides.items()
        },
        scores={side: _distribution([e.score for e in evs]) for side, evs in sides.items()},
        rules=_rule_rates(session, rubric_id, version_from, version_to, sides, calls),
    )


def _rule_rates(
    session: Session,
    rubric_id: str,
    version_from: int,
    version_to: int,
    sides: dict[str, list[Evaluation]],
    calls: int,
) -> list[RuleComparison]:
    catalogs = {
        "from": stored_catalog(session, rubric_id, version_from),
        "to": stored_catalog(session, rubric_id, version_to),
    }
    counts: dict[tuple[str, str], dict[str, set]] = defaultdict(
        lambda: {"bad": set(), "hit": set()}
    )
    for side, evs in sides.items():
        ids = [e.id for e in evs]
        for chunk in range(0, len(ids), 5000):
            for evaluation_id, rule_id, status in session.exec(
                select(FindingRow.evaluation_id, FindingRow.rule_id, FindingRow.status).where(
                    FindingRow.evaluation_id.in_(ids[chunk : chunk + 5000]),
                    FindingRow.source == FindingSource.MACHINE,
                )
            ).all():
                kind = "bad" if status in COSTLY else "hit" if status in MET else None
                if kind:
                    counts[side, rule_id][kind].add(evaluation_id)
    out = []
    rule_ids = list(
        dict.fromkeys(
            [
                *(catalogs["from"].rules if catalogs["from"] else {}),
                *(catalogs["to"].rules if catalogs["to"] else {}),
            ]
        )
    )
    for rule_id in rule_ids:
        infos = {
            side: catalog.rules.get(rule_id) if catalog else None
            for side, catalog in catalogs.items()
        }
        rates: dict[str, RuleRate | None] = {}
        for side, info in infos.items():
            bad, hit = len(counts[side, rule_id]["bad"]), len(counts[side, rule_id]["hit"])
            rates[side] = (
                None
                if info is None
                else RuleRate(
                    bad=bad,
                    bad_rate=round(bad / calls, 4) if calls else None,
                    hit=hit,
                    hit_rate=round(hit / calls, 4) if calls else None,
                )
            )
        known = infos["from"] or infos["to"]  # where both have the rule, the older one names it
        out.append(
            RuleComparison(
                rule_id=rule_id,
                category=known.category,
                name=known.name,
                from_=rates["from"],
                to=rates["to"],
            )
        )
    return out


def _shown(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _field_changes(before: dict, after: dict) -> list[FieldChange]:
    return [
        FieldChange(
            field=k, label=field_label(k), before=_shown(before.get(k)), after=_shown(after.get(k))
        )
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    ]


def diff_versions(older: Rubric, newer: Rubric) -> RubricDiff:
    """Rule by rule (by id): added, removed, and changed with each field's before and after;
    the scoring settings first when they changed."""
    out = []
    scoring = _field_changes(older.scoring.model_dump(), newer.scoring.model_dump())
    if scoring:
        out.append(RuleChange(rule_id="scoring", name="scoring", change="changed", fields=scoring))
    old = {r.id: r for _, _, r in older.rules()}
    new = {r.id: r for _, _, r in newer.rules()}
    for rule_id in [*old, *(i for i in new if i not in old)]:
        a, b = old.get(rule_id), new.get(rule_id)
        if a is None or b is None:
            rule = b if a is None else a
            out.append(
                RuleChange(
                    rule_id=rule_id,
                    name=getattr(rule, "name", "") or rule_id,
                    change="added" if a is None else "removed",
                )
            )
            continue
        fields = _field_changes(a.model_dump(exclude_none=True), b.model_dump(exclude_none=True))
        if fields:
            name = getattr(b, "name", "") or rule_id
            out.append(RuleChange(rule_id=rule_id, name=name, change="changed", fields=fields))
    return RubricDiff(rubric_id=newer.id, from_=older.version, to=newer.version, rules=out)
