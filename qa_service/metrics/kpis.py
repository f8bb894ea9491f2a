"""KPIs (seeds 000/001) from the current evaluations.

机器质检合格率 machine pass rate = 合格数 / 质检总数 (pass or excellent over evaluated calls)
监听合格率 listened pass rate = the same over the calls people listened to (review tasks done)
质检优秀率 excellent rate = 优秀数 / 质检总数
外呼在线成功率 success rate = 成功量 / 通话量 (outcome success over calls)
项目呼出均长 average talk time = total call duration / calls
The reviewed result (grade, fatal) replaces the machine's where there is one; each call counts
once, with its current (newest) evaluation.

Whole hours (KPIs) and whole days (common errors) are read from the rollups
(qa_service.storage.rollups); the ragged ends of a `since`/`until` range that cut a bucket are
counted from the evaluations themselves, so any range is exact.

One clock: `since`/`until` are stored times (naive UTC) or times with an offset; a "day" and an
"hour" are the call center's (QA_TIMEZONE), which the rollups are keyed by. A ragged end lies
inside one such bucket, so its day and hour are known without converting time zones in SQL.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, select

from qa_service.config import call_center_time, to_utc
from qa_service.domain.enums import COSTLY, Grade
from qa_service.exceptions import RubricError
from qa_service.metrics.models import CommonError, KpiRow
from qa_service.rules.rubric import parse_rubric
from qa_service.storage.queries import (
    EVALUATION,
    columns,
    filters,
    group_column,
    stored_time,
    tier,
)
from qa_service.storage.rollups import KPI_SUMS, KpiSums, day_of, hour_of, kpi_sums_sql
from qa_service.storage.tables import (
    ErrorRollup,
    Evaluation,
    FindingRow,
    KpiRollup,
    ProjectErrorRollup,
    ProjectKpiRollup,
    RubricRow,
)

Range = tuple[datetime | None, datetime | None]
Piece = tuple[datetime, datetime, datetime]  # UTC since, UTC until, the call center's bucket


def split_range(
    since: datetime | None,
    until: datetime | None,
    bucket: Callable[[datetime], datetime],
    step: timedelta,
) -> tuple[Range | None, list[Piece]]:
    """[since, until) (stored UTC times) as the whole buckets it covers, as the call center's
    bucket keys (lo, hi) read from a rollup (None: no whole bucket), and the ragged ends
    (counted from the evaluations), each inside one bucket and carrying that bucket's key.
    A bucket starts at its key's first instant (an hour repeated when clocks go back is one
    key), so a call is at or after key lo exactly when it is at or after to_utc(lo)."""
    lo = hi = None
    if since is not None:
        lo = bucket(call_center_time(since))
        while to_utc(lo) < since:
            lo = bucket(lo + step)
    if until is not None:
        hi = bucket(call_center_time(until))
        while to_utc(hi) > until:
            hi = bucket(hi - step)
    if lo is not None and hi is not None and lo > hi:  # no bucket boundary inside
        return None, [(since, until, bucket(call_center_time(since)))]
    ends = []
    if since is not None and to_utc(lo) > since:
        ends.append((since, to_utc(lo), bucket(call_center_time(since))))
    if until is not None and to_utc(hi) < until:
        ends.append((to_utc(hi), until, hi))
    return (None if lo is not None and lo == hi else (lo, hi)), ends


def bucket_key(group: str, local: datetime):
    """The day or hour key of a ragged end, as group_column gives it for rollup rows."""
    return local.strftime("%Y-%m-%d") if group == "day" else local.hour


def _kpi_sums(
    session: Session,
    group: str,
    since,
    until,
    agent: str | None = None,
    *,
    calling_hours: bool = True,
    **kw,
) -> tuple[dict[Any, KpiSums], dict[Any, int]]:
    """Per group key, the KPI sums and the calling hours (a date's hour, the call center's, in
    which it made graded calls: what 每小时呼叫次数 divides by; not counted, and empty, without
    `calling_hours`: a distinct count over every rollup row read). Whole hours come from the
    rollups; a ragged end lies inside one hour, counted from the evaluations."""
    dialect = session.get_bind().dialect.name
    whole, ends = split_range(stored_time(since), stored_time(until), hour_of, timedelta(hours=1))
    totals: dict = defaultdict(KpiSums)
    hours: dict[Any, int] = defaultdict(int)
    queries = []
    rollup_query = None
    if whole is not None:
        rollup = tier(KpiRollup, ProjectKpiRollup, group, agent, kw.get("agents"))
        cols = columns(rollup, rollup.hour)
        key = group_column(group, cols, dialect).label("key")
        busy_hours = func.count(func.distinct(case((rollup.evaluated > 0, rollup.hour))))
        rollup_query = (
            select(
                key,
                *(func.sum(getattr(rollup, c)).label(c) for c in KPI_SUMS),
                *([busy_hours.label("hours")] if calling_hours else []),
            )
            .where(filters(cols, since=whole[0], until=whole[1], agent=agent, **kw))
            .group_by(key)
        )
        queries.append((rollup_query, None))
    for lo, hi, local in ends:
        where = filters(EVALUATION, since=lo, until=hi, agent=agent, **kw)
        if group in ("day", "hour"):  # the piece lies inside one of the call center's hours
            queries.append((select(*kpi_sums_sql()).where(where), bucket_key(group, local)))
        else:
            key = group_column(group, EVALUATION, dialect).label("key")
            queries.append((select(key, *kpi_sums_sql()).where(where).group_by(key), None))
    for q, fixed_key in queries:
        for row in session.exec(q).all():
            key = row.key if fixed_key is None else fixed_key
            totals[key].add(KpiSums(**{c: getattr(row, c) or 0 for c in KPI_SUMS}))
            if not calling_hours:
                continue
            if q is rollup_query:
                hours[key] += row.hours
            elif row.evaluated:  # a ragged end with graded calls is one hour of calling
                hours[key] += 1
    return totals, hours


def kpi_rows(
    session: Session,
    group: str,
    since: datetime | None = None,
    until: datetime | None = None,
    **kw,
) -> list[KpiRow]:
    """Each group's KPIs: the machine's over every call it scored, and 监听合格率 over the calls
    people listened to (review tasks done) beside them."""
    totals, hours = _kpi_sums(session, group, since, until, **kw)
    # a cell whose calls all moved elsewhere is left out; one of calls with no speech only
    # stays, to count them (its rates are None: nothing in it was graded)
    return [
        KpiRow.of_sums(totals[key], **{group: key})
        .with_listened(int(totals[key].listened), int(totals[key].listened_passed))
        .with_hours(hours.get(key, 0))
        for key in sorted(totals)
        if totals[key].evaluated > 0 or totals[key].no_speech > 0
    ]


def call_count(
    session: Session, since: datetime | None = None, until: datetime | None = None, **kw
) -> int:
    """How many current evaluations match (graded or not): the rollups' whole hours and the
    ragged ends, as the KPIs count them; a count(*) over millions of calls is not run."""
    totals, _ = _kpi_sums(session, "project", since, until, calling_hours=False, **kw)
    return sum(int(t.evaluated + t.no_speech) for t in totals.values())


def common_errors(
    session: Session,
    limit: int = 20,
    examples: int = 3,
    since: datetime | None = None,
    until: datetime | None = None,
    **kw,
) -> list[CommonError]:
    """共性错误: rules that cost points, by how many evaluated calls they hit; a rule's share is
    over the calls scored with a rubric that has the rule (a survey's calls do not dilute a
    marketing rule's share)."""
    since, until = stored_time(since), stored_time(until)
    per_rubric = {
        rubric_id: sums.evaluated
        for rubric_id, sums in _kpi_sums(
            session, "rubric", since, until, calling_hours=False, **kw
        )[0].items()
    }
    rules_of = _rules_of_rubrics(session, list(per_rubric))
    whole, ends = split_range(since, until, day_of, timedelta(days=1))
    counts: dict[tuple[str, str], int] = defaultdict(int)
    names: dict[tuple[str, str], str] = {}
    queries = []
    if whole is not None:
        rollup = tier(ErrorRollup, ProjectErrorRollup, "rule", kw.get("agent"), kw.get("agents"))
        cols = columns(rollup, rollup.day)
        queries.append(
            select(rollup.rule_id, rollup.category, func.min(rollup.name), func.sum(rollup.calls))
            .where(filters(cols, since=whole[0], until=whole[1], **kw))
            .group_by(rollup.rule_id, rollup.category)
        )
    for lo, hi, _ in ends:
        queries.append(
            select(
                FindingRow.rule_id,
                FindingRow.category,
                func.min(FindingRow.name),
                func.count(func.distinct(FindingRow.evaluation_id)),
            )
            .join(Evaluation, Evaluation.id == FindingRow.evaluation_id)
            .where(
                filters(EVALUATION, since=lo, until=hi, **kw),
                FindingRow.effective_status_sql().in_(COSTLY),
                Evaluation.effective_grade_sql() != Grade.NO_SPEECH,  # as the rollups count
            )
            .group_by(FindingRow.rule_id, FindingRow.category)
        )
    for q in queries:
        for rule_id, category, name, calls in session.exec(q).all():
            counts[(rule_id, category)] += calls or 0
            names[(rule_id, category)] = min(name, names.get((rule_id, category), name))
    ranked = sorted((k for k, n in counts.items() if n > 0), key=lambda k: (-counts[k], k))[:limit]
    samples = _recent_examples(session, ranked, examples, since, until, **kw)
    return [
        CommonError(
            rule_id=rule_id,
            category=category,
            name=names[(rule_id, category)],
            count=counts[(rule_id, category)],
            share=_share(counts[(rule_id, category)], rule_id, per_rubric, rules_of),
            example_recordings=samples[(rule_id, category)],
        )
        for rule_id, category in ranked
    ]


def _share(
    count: int, rule_id: str, per_rubric: dict, rules_of: dict[str, frozenset[str] | None]
) -> float | None:
    calls = sum(
        n
        for rubric_id, n in per_rubric.items()
        if rule_id in (rules_of.get(rubric_id) or {rule_id})
    )
    return round(count / calls, 4) if calls else None


def _rules_of_rubrics(session: Session, rubric_ids: list[str]) -> dict[str, frozenset[str] | None]:
    """Per rubric id, the rules any of its stored versions has (None: no text stored, so every
    rule counts its calls)."""
    out: dict[str, frozenset[str] | None] = {r: None for r in rubric_ids}
    for rubric_id, sha, text in session.exec(
        select(RubricRow.rubric_id, RubricRow.sha256, RubricRow.yaml_text).where(
            RubricRow.rubric_id.in_(rubric_ids)
        )
    ).all():
        known = _rule_ids(sha, text)
        if known is not None:
            out[rubric_id] = (out[rubric_id] or frozenset()) | known
    return out


@functools.lru_cache(maxsize=128)
def _rule_ids(sha256: str, yaml_text: str) -> frozenset[str] | None:
    try:
        return parse_rubric(yaml_text).rule_ids()
    except RubricError:  # a text that no longer parses here (a knowledge base moved)
        return None


# A common error's examples are its newest calls among this many newest calls in range (one
# bounded read); a rule none of them has is looked up on its own.
RECENT_CALLS = 500


def _recent_examples(
    session: Session,
    rules: list[tuple[str, str]],
    examples: int,
    since,
    until,
    **kw,
) -> dict[tuple[str, str], list[int]]:
    """The newest calls with each error: one bounded query over the newest calls in range
    answers the common rules; only a rule none of them has is looked up on its own."""
    out: dict[tuple[str, str], list[int]] = {rule: [] for rule in rules}
    newest = (
        select(Evaluation.id, Evaluation.recording_id, Evaluation.called_at)
        .where(
            filters(EVALUATION, since=since, until=until, **kw),
            Evaluation.effective_grade_sql() != Grade.NO_SPEECH,
        )
        .order_by(Evaluation.called_at.desc(), Evaluation.id.desc())
        .limit(RECENT_CALLS)
        .subquery()
    )
    # per rule, its newest calls among them: ranked in SQL, so only the examples come back
    per_call = (
        select(
            FindingRow.rule_id,
            FindingRow.category,
            newest.c.recording_id,
            func.max(newest.c.called_at).label("called_at"),
            func.max(newest.c.id).label("id"),
        )
        .join(FindingRow, FindingRow.evaluation_id == newest.c.id)
        .where(FindingRow.effective_status_sql().in_(COSTLY))
        .group_by(FindingRow.rule_id, FindingRow.category, newest.c.recording_id)
        .subquery()
    )
    rank = (
        func.row_number()
        .over(
            partition_by=(per_call.c.rule_id, per_call.c.category),
            order_by=(per_call.c.called_at.desc(), per_call.c.id.desc()),
        )
        .label("rank")
    )
    ranked = select(
        per_call.c.rule_id, per_call.c.category, per_call.c.recording_id, rank
    ).subquery()
    rows = session.exec(
        select(ranked.c.recording_id, ranked.c.rule_id, ranked.c.category)
        .where(ranked.c.rank <= examples)
        .order_by(ranked.c.rule_id, ranked.c.category, ranked.c.rank)
    ).all()
    for recording_id, rule_id, category in rows:
        found = out.get((rule_id, category))
        if found is not None:
            found.append(recording_id)
    for (rule_id, category), found in out.items():
        if not found:
            found.extend(
                dict.fromkeys(
                    session.exec(
                        select(Evaluation.recording_id)
                        .join(FindingRow, FindingRow.evaluation_id == Evaluation.id)
                        .where(
                            filters(EVALUATION, since=since, until=until, **kw),
                            Evaluation.effective_grade_sql() != Grade.NO_SPEECH,
                            FindingRow.rule_id == rule_id,
                            FindingRow.category == category,
                            FindingRow.effective_status_sql().in_(COSTLY),
                        )
                        .order_by(FindingRow.evaluation_id.desc())
                        .limit(examples)
                    ).all()
                )
            )
    return out


def _examples_among(
    calls: list, costly: dict[int, list[tuple[str, str, str]]], rules, examples: int
) -> dict[tuple[str, str], list[int]]:
    """_recent_examples over calls already read (newest first, with their costly findings):
    the same recordings, in the same order."""
    out: dict[tuple[str, str], list[int]] = {rule: [] for rule in rules}
    for c in calls[:RECENT_CALLS]:
        for key in dict.fromkeys((rule_id, category) for rule_id, category, _ in costly[c.id]):
            found = out.get(key)
            if found is not None and len(found) < examples:
                found.append(c.recording_id)
    for key, found in out.items():
        if not found:  # newest by evaluation id, each finding a row, as the lookup reads them
            rows = [
                c.recording_id
                for c in sorted(calls, key=lambda c: c.id, reverse=True)
                for rule_id, category, _ in costly[c.id]
                if (rule_id, category) == key
            ]
            found.extend(dict.fromkeys(rows[:examples]))
    return out


def nested_windows(
    session: Session, since: datetime, untils: list[datetime], errors: int = 5, **kw
) -> list[tuple[KpiRow | None, list[CommonError]]]:
    """Per window [since, until) of windows that share their start (the in-flight report's
    first hours), its KPIs (as kpi_rows "project" gives them, or None) and its `errors` most
    common errors (as common_errors gives them), counted from the evaluations in one pass over
    the widest window: a few hours of one project, where the rollups' whole hours and days
    cover little and each window read alone costs ten queries."""
    if not untils:
        return []
    since = stored_time(since)
    ends = [stored_time(u) for u in untils]
    order = sorted(set(ends))
    widest = filters(EVALUATION, since=since, until=order[-1], **kw)
    bucket = case(
        *((Evaluation.called_at < u, i) for i, u in enumerate(order[:-1])), else_=len(order) - 1
    ).label("bucket")
    # per rubric and per piece between consecutive ends: the KPI sums, added up per window
    pieces: dict[tuple[str, int], KpiSums] = {}
    for row in session.exec(
        select(Evaluation.rubric_id, bucket, *kpi_sums_sql())
        .where(widest)
        .group_by(Evaluation.rubric_id, bucket)
    ).all():
        pieces[(row.rubric_id, row.bucket)] = KpiSums(**{c: getattr(row, c) or 0 for c in KPI_SUMS})
    graded = Evaluation.effective_grade_sql() != Grade.NO_SPEECH  # as the rollups count
    # The widest window's graded calls, newest first, and their costly findings: every
    # window's calling hours, common errors and examples follow from these two reads.
    calls = sorted(
        session.exec(
            select(Evaluation.id, Evaluation.recording_id, Evaluation.called_at).where(
                widest, graded
            )
        ).all(),
        key=lambda c: (c.called_at, c.id),
        reverse=True,
    )
    costly: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for evaluation_id, rule_id, category, name in session.exec(
        select(FindingRow.evaluation_id, FindingRow.rule_id, FindingRow.category, FindingRow.name)
        .join(Evaluation, Evaluation.id == FindingRow.evaluation_id)
        .where(widest, graded, FindingRow.effective_status_sql().in_(COSTLY))
    ).all():
        costly[evaluation_id].append((rule_id, category, name))
    # calling hours: the call center's hours with graded calls, as the rollups key them.
    # Converted per UTC quarter hour, not per call: every zone's hours start on one.
    quarters: dict[int, set[datetime]] = defaultdict(set)
    for c in calls:
        t = c.called_at
        quarter = t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)
        quarters[bisect_right(order, t)].add(quarter)  # the first window that holds t
    hours = {j: {hour_of(call_center_time(q)) for q in qs} for j, qs in quarters.items()}
    hours_of = {
        u: set().union(*(hours.get(j, ()) for j in range(i + 1))) for i, u in enumerate(order)
    }
    project = kw.get("project")
    rubrics = sorted({rubric_id for rubric_id, _ in pieces})
    rules_of = _rules_of_rubrics(session, rubrics)
    out = []
    for until in ends:
        i = order.index(until)
        per_rubric: dict[str, KpiSums] = defaultdict(KpiSums)
        for (rubric_id, b), sums in pieces.items():
            if b <= i:
                per_rubric[rubric_id].add(sums)
        total = KpiSums()
        for sums in per_rubric.values():
            total.add(sums)
        kpis = None
        if total.evaluated > 0 or total.no_speech > 0:
            kpis = (
                KpiRow.of_sums(total, project=project)
                .with_listened(int(total.listened), int(total.listened_passed))
                .with_hours(len(hours_of[until]))
            )
        in_window = [c for c in calls if c.called_at < until]
        counts: dict[tuple[str, str], int] = defaultdict(int)
        names: dict[tuple[str, str], str] = {}
        for c in in_window:
            for key in {(rule_id, category) for rule_id, category, _ in costly[c.id]}:
                counts[key] += 1
            for rule_id, category, name in costly[c.id]:
                names[(rule_id, category)] = min(name, names.get((rule_id, category), name))
        ranked = sorted(counts, key=lambda k: (-counts[k], k))[:errors]
        evaluated = {rubric_id: sums.evaluated for rubric_id, sums in per_rubric.items()}
        samples = _examples_among(in_window, costly, ranked, 3)
        found = [
            CommonError(
                rule_id=rule_id,
                category=category,
                name=names[(rule_id, category)],
                count=counts[(rule_id, category)],
                share=_share(counts[(rule_id, category)], rule_id, evaluated, rules_of),
                example_recordings=samples[(rule_id, category)],
            )
            for rule_id, category in ranked
        ]
        out.append((kpis, found))
    return out
