"""整点通报: the hourly bulletin of a project in its first day after launch (上线后).

Every whole hour of the call center's clock, for each project whose first production call is
less than a day old: the KPIs since launch, the fatal and attitude errors first (every one, not
the top few by count: one 态度恶劣 call outweighs thirty missed greetings), then the common
errors, and a "remind now" (立即提醒) list of the agents who made one of those errors in the
last hour, with the error and the call. Kept in the database (the dashboard shows the latest)
and written as Markdown under reports/.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, select

from qa_service.config import in_call_center_zone
from qa_service.domain.enums import COSTLY, Category, Phase
from qa_service.domain.schema import Instant, Schema
from qa_service.i18n import _
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.metrics.models import CommonError, KpiRow
from qa_service.metrics.reports import _first_call
from qa_service.storage.callrefs import NamesACall, NamesCalls
from qa_service.storage.queries import stored_time
from qa_service.storage.tables import Evaluation, FindingRow

FIRST_DAY = timedelta(hours=24)
COMMON = 5  # common errors listed after the urgent ones


class UrgentError(NamesCalls):
    """A fatal or attitude error since launch: always listed, whatever its count."""

    rule_id: str
    name: str
    category: str
    fatal: bool
    calls: int
    agents: list[str]


class Reminder(NamesACall):
    """立即提醒: an agent who made a listed error in the last hour, with the call."""

    agent_id: str
    rule_id: str
    name: str
    urgent: bool
    """A fatal or attitude error."""
    evaluation_id: int
    called_at: Instant


class BulletinReport(Schema):
    project: str
    hour: Instant
    """The whole hour it reports up to."""
    launched_at: Instant
    """The project's first production call."""
    hours_since_launch: int
    kpis: KpiRow | None
    urgent: list[UrgentError]
    common_errors: list[CommonError]
    remind_now: list[Reminder]


def _urgent(finding_severity: str, category: str) -> bool:
    return finding_severity == "fatal" or category == Category.ATTITUDE_ERROR


def _costly_findings(s: Session, project: str, since: datetime, until: datetime, rules=None):
    """(finding, evaluation) of the project's production calls in [since, until) that cost
    points: urgent ones, and those of `rules` when given."""
    wanted = or_(FindingRow.severity == "fatal", FindingRow.category == Category.ATTITUDE_ERROR)
    if rules:
        wanted = or_(wanted, FindingRow.rule_id.in_(rules))
    return s.exec(
        select(FindingRow, Evaluation)
        .join(Evaluation, Evaluation.id == FindingRow.evaluation_id)
        .where(
            Evaluation.is_current,
            Evaluation.project == project,
            Evaluation.phase == Phase.PRODUCTION,
            Evaluation.called_at >= since,
            Evaluation.called_at < until,
            FindingRow.effective_status_sql().in_(COSTLY),
            wanted,
        )
        .order_by(Evaluation.called_at, FindingRow.id)
    ).all()


def bulletin(s: Session, project: str, hour: datetime) -> BulletinReport | None:
    """The bulletin of `project` up to `hour` (a whole hour; naive = stored UTC), None when the
    project is not in its first day after launch then (no production call yet, or launched
    more than a day before)."""
    whole = hour.replace(minute=0, second=0, microsecond=0)
    until = stored_time(whole) or whole
    first = _first_call(s, project)
    if first is None or not (first < until <= first + FIRST_DAY + timedelta(hours=1)):
        return None
    kw = {"project": project, "phase": Phase.PRODUCTION, "since": first, "until": until}
    totals = kpi_rows(s, "project", **kw)
    urgent: dict[str, UrgentError] = {}
    for f, e in _costly_findings(s, project, first, until):
        row = urgent.setdefault(
            f.rule_id,
            UrgentError(
                rule_id=f.rule_id,
                name=f.name,
                category=f.category,
                fatal=False,
                calls=0,
                agents=[],
                example_recordings=[],
            ),
        )
        row.fatal = row.fatal or f.severity == "fatal"
        if e.recording_id not in row.example_recordings:
            row.calls += 1
            row.example_recordings.append(e.recording_id)
        if e.agent_id not in row.agents:
            row.agents.append(e.agent_id)
    ranked_urgent = sorted(urgent.values(), key=lambda u: (not u.fatal, -u.calls, u.rule_id))
    for u in ranked_urgent:
        u.example_recordings = u.example_recordings[-3:]
    common = [
        c for c in common_errors(s, limit=COMMON + len(urgent), **kw) if c.rule_id not in urgent
    ][:COMMON]
    listed = {c.rule_id for c in common}
    reminders = [
        Reminder(
            agent_id=e.agent_id,
            rule_id=f.rule_id,
            name=f.name,
            urgent=_urgent(f.severity, f.category),
            recording_id=e.recording_id,
            evaluation_id=e.id,
            called_at=e.called_at,
        )
        for f, e in _costly_findings(s, project, until - timedelta(hours=1), until, listed)
    ]
    reminders.sort(key=lambda r: (not r.urgent, r.agent_id, r.called_at))
    return BulletinReport(
        project=project,
        hour=until,
        launched_at=first,
        hours_since_launch=max(1, -(-int((until - first).total_seconds()) // 3600)),
        kpis=totals[0] if totals else None,
        urgent=ranked_urgent,
        common_errors=common,
        remind_now=reminders,
    )


def projects_in_first_day(s: Session, hour: datetime) -> list[str]:
    """Projects with a production call in the day before `hour`: those a bulletin may be for
    (bulletin() decides by each one's first call)."""
    until = stored_time(hour) or hour
    return sorted(
        p
        for p in s.exec(
            select(Evaluation.project)
            .where(
                Evaluation.is_current,
                Evaluation.phase == Phase.PRODUCTION,
                Evaluation.called_at >= until - FIRST_DAY - timedelta(hours=1),
                Evaluation.called_at < until,
            )
            .distinct()
        ).all()
        if p
    )


def to_markdown(report: BulletinReport) -> str:
    hour = in_call_center_zone(report.hour)
    lines = [
        f"# {_('hourly bulletin')} {report.project} {hour:%Y-%m-%d %H:%M}",
        "",
        _(
            "{hours} hour(s) after launch, first call {first}",
            hours=report.hours_since_launch,
            first=f"{in_call_center_zone(report.launched_at):%Y-%m-%d %H:%M}",
        ),
    ]
    k = report.kpis
    if k is not None:
        lines.append(
            _(
                "{calls} call(s), pass rate {passed}, fatal {fatal}",
                calls=k.evaluated,
                passed="-" if k.pass_rate is None else f"{k.pass_rate:.0%}",
                fatal=k.fatal,
            )
        )
    lines += ["", "## " + _("fatal and attitude errors")]
    lines += [
        f"- {u.name or u.rule_id}{' (' + _('fatal') + ')' if u.fatal else ''}: "
        + _("{calls} call(s), agents {agents}", calls=u.calls, agents="、".join(u.agents))
        for u in report.urgent
    ] or ["- " + _("none")]
    lines += ["", "## " + _("common errors")]
    lines += [
        f"- {c.name or c.rule_id}: "
        + _("{calls} call(s)", calls=c.count)
        + (f" ({c.share:.0%})" if c.share is not None else "")
        for c in report.common_errors
    ] or ["- " + _("none")]
    lines += ["", "## " + _("remind now")]
    lines += [
        f"- {r.agent_id}: {r.name or r.rule_id}{' (!)' if r.urgent else ''}, "
        # The call named as pages name it (its agent, then when it was made), not its row id.
        + _("call at {time}", time=f"{in_call_center_zone(r.called_at):%m-%d %H:%M}")
        for r in report.remind_now
    ] or ["- " + _("none")]
    return "\n".join(lines) + "\n"
