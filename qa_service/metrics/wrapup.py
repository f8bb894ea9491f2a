"""Project wrap-up (项目完结后的总结积累).

After a project ends, keep together what the next similar project starts from: the KPIs over
the whole run (and per phase), the guide map (引导地图) as it ended, the common errors (共性错误:
rule, calls, share, the trend over the project's days, example calls), the highlight-script
library (亮点话术), the customers' refusal reasons, and the product facts agents got wrong
(知识库核对). One report, as JSON and Markdown, saved under reports/.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from qa_service.config import TREND_CHANGE, get_settings, in_call_center_zone
from qa_service.domain.enums import Category, FindingStatus, Phase
from qa_service.exceptions import NoCalls, RubricError
from qa_service.i18n import _
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.metrics.models import (
    CustomerVoice,
    ErrorDay,
    ErrorTrend,
    FactExample,
    FactViolation,
    KpiRow,
    WrapupPeriod,
    WrapupReport,
    WrapupRubric,
)
from qa_service.metrics.reports import trial_report
from qa_service.metrics.setup import project_setup
from qa_service.rules.knowledge import knowledge_of
from qa_service.rules.rubric import Rubric
from qa_service.storage.callrefs import CallRef, call_name, name_calls
from qa_service.storage.queries import EVALUATION, columns, filters, group_column
from qa_service.storage.tables import Evaluation, FindingRow, ProjectErrorRollup, Recording

# the guide map's quadrants as the wrap-up page names them (msgids)
QUADRANTS = {
    1: "Quadrant I · we say it, customers like it",
    2: "Quadrant II · we say it, customers do not like it",
    3: "Quadrant III · neither said nor liked",
    4: "Quadrant IV · we do not say it, customers like it",
}


def rubric_counts(project: str):
    """How many of the project's current evaluations each rubric (id, version) scored.
    count(*): the partial index on (project, rubric_id, rubric_version) answers alone."""
    return (
        select(Evaluation.rubric_id, Evaluation.rubric_version, func.count())
        .where(Evaluation.project == project, Evaluation.is_current)
        .group_by(Evaluation.rubric_id, Evaluation.rubric_version)
    )


def project_rubric_key(s: Session, project: str) -> tuple[str, int] | None:
    """The rubric (id, version) most of the project's current evaluations used, newest first
    on ties: what its guide map and refusal reasons are read with."""
    # Most projects run one rubric version: the first and last keys of the index say so in
    # two probes, where counting reads every current evaluation of the project.
    key = (Evaluation.rubric_id, Evaluation.rubric_version)
    ends = [
        s.exec(
            select(*key)
            .where(Evaluation.project == project, Evaluation.is_current)
            .order_by(*order)
            .limit(1)
        ).first()
        for order in (key, (k.desc() for k in key))
    ]
    if ends[0] is None:
        return None
    if tuple(ends[0]) == tuple(ends[1]):
        return ends[0][0], ends[0][1]
    rows = s.exec(rubric_counts(project)).all()
    if not rows:
        return None
    rubric_id, version, _last = max(rows, key=lambda r: (r[2], r[1]))
    return rubric_id, version


def wrapup(store, project: str, errors: int = 20) -> WrapupReport:
    """The wrap-up of a project in the store, read with its active rubric, else the one most
    of its calls were scored with."""
    with store.session() as s:
        active = store.rubrics.active_in(project)
        key = (active.rubric_id, active.version) if active else project_rubric_key(s, project)
        if key is None:
            raise NoCalls(_("project {project} has no evaluated calls", project=repr(project)))
        report = wrapup_report(s, project, store.rubrics.load(*key, project=project), errors)
        name_calls(s, report)
    report.setup = project_setup(store, project, key)  # 三统一: the three it ran
    return report


def _daily_errors(s: Session, project: str) -> dict[tuple[str, str], dict[str, int]]:
    """(rule, category) -> the call center's day -> calls with that error, over current
    evaluations: the project's common-error rollup, keyed by the call center's day."""
    cols = columns(ProjectErrorRollup, ProjectErrorRollup.day)
    day = group_column("day", cols, s.get_bind().dialect.name).label("day")
    rows = s.exec(
        select(
            day,
            ProjectErrorRollup.rule_id,
            ProjectErrorRollup.category,
            func.sum(ProjectErrorRollup.calls),
        )
        .where(filters(cols, project=project))
        .group_by(day, ProjectErrorRollup.rule_id, ProjectErrorRollup.category)
    ).all()
    out: dict = defaultdict(dict)
    for d, rule_id, category, calls in rows:
        if calls:
            out[(rule_id, category)][str(d)] = int(calls)
    return out


def _trend(by_day: dict[str, float], days: list[str]) -> str:
    """rising / falling / steady: the mean daily share of the later half of the project's
    days against the earlier half (one day: steady)."""
    if len(days) < 2:
        return "steady"
    half = len(days) // 2
    early = sum(by_day.get(d, 0) for d in days[:half]) / half
    late = sum(by_day.get(d, 0) for d in days[half:]) / (len(days) - half)
    if late - early > TREND_CHANGE:
        return "rising"
    if early - late > TREND_CHANGE:
        return "falling"
    return "steady"


def _fact_violations(s: Session, project: str, examples: int = 5) -> list[FactViolation]:
    rows = s.exec(
        select(FindingRow, Evaluation.recording_id, Evaluation.agent_id)
        .join(Evaluation, Evaluation.id == FindingRow.evaluation_id)
        .where(
            filters(EVALUATION, project=project),
            FindingRow.category == Category.PRODUCT_FACT,
            FindingRow.effective_status_sql() == FindingStatus.VIOLATION,
        )
        .order_by(FindingRow.id)
    ).all()
    facts: dict[str, FactViolation] = {}
    for finding, recording_id, agent_id in rows:
        item = facts.setdefault(
            finding.rule_id,
            FactViolation(
                rule_id=finding.rule_id,
                name=finding.name,
                calls=0,
                values_said={},
                kb_value=None,
                examples=[],
            ),
        )
        item.calls += 1
        for e in finding.evidence:
            said = e.get("value")
            item.kb_value = e.get("kb_value") or item.kb_value
            item.values_said[said] = item.values_said.get(said, 0) + 1
            if len(item.examples) < examples:
                item.examples.append(
                    FactExample(
                        recording_id=recording_id,
                        agent_id=agent_id or None,
                        start=e.get("start"),
                        text=e.get("text"),
                        said=said,
                    )
                )
    return sorted(facts.values(), key=lambda f: -f.calls)


def wrapup_report(s: Session, project: str, rubric: Rubric, errors: int = 20) -> WrapupReport:
    totals = kpi_rows(s, "project", project=project)
    if not totals:
        raise NoCalls(_("project {project} has no evaluated calls", project=repr(project)))
    daily = kpi_rows(s, "day", project=project)
    days = [d.day for d in daily]
    evaluated_on = {d.day: d.evaluated for d in daily}
    phases: dict[str, KpiRow] = {}
    for phase in Phase:
        rows = kpi_rows(s, "project", project=project, phase=phase)
        if rows:
            phases[phase] = rows[0].ungrouped()
    per_day = _daily_errors(s, project)
    common = []
    for error in common_errors(s, limit=errors, project=project):
        counts = per_day.get((error.rule_id, error.category), {})
        share = {d: round(counts.get(d, 0) / evaluated_on[d], 4) for d in days if evaluated_on[d]}
        common.append(
            ErrorTrend(
                **error.model_dump(),
                trend=_trend(share, days),
                by_day=[ErrorDay(day=d, calls=counts.get(d, 0), share=share.get(d)) for d in days],
            )
        )
    trial = trial_report(s, rubric, project, phase=None)  # the whole run, not just the trial
    first, last = s.exec(
        select(func.min(Evaluation.called_at), func.max(Evaluation.called_at)).where(
            filters(EVALUATION, project=project)
        )
    ).one()
    agents = s.exec(
        select(func.count(func.distinct(Recording.agent_id))).where(Recording.project == project)
    ).one()
    return WrapupReport(
        project=project,
        # times in the call center's zone, with its offset (stored: UTC)
        generated_at=datetime.now(get_settings().zone).isoformat(timespec="seconds"),
        rubric=WrapupRubric(
            id=rubric.id,
            version=rubric.version,
            name=rubric.name,
            project_type=rubric.project_type,
            knowledge_base=rubric.knowledge_base,
            **_knowledge_of(rubric),
        ),
        period=WrapupPeriod(
            first_call=first and in_call_center_zone(first),
            last_call=last and in_call_center_zone(last),
            days=len(days),
            agents=agents,
        ),
        kpis=totals[0].ungrouped(),
        kpis_by_phase=phases,
        kpis_by_day=daily,
        guide_map=trial.guide_map,
        common_errors=common,
        highlights=trial.highlights,
        refusal_reasons=trial.refusal_reasons,
        product_fact_violations=_fact_violations(s, project),
        customer_voice=trial.customer_voice,
    )


def _knowledge_of(rubric: Rubric) -> dict:
    """The knowledge base's own name and version (the rubric names a stored id or a file)."""
    try:
        kb = knowledge_of(rubric)
    except RubricError:  # a file that moved: the wrap-up still names what the rubric says
        return {}
    if kb is None:
        return {}
    return {"knowledge_base_name": kb.product or kb.id, "knowledge_base_version": kb.version}


def _knowledge_name(rubric: WrapupRubric) -> str:
    if rubric.knowledge_base_name:
        return f"{rubric.knowledge_base_name} v{rubric.knowledge_base_version}"
    return rubric.knowledge_base or "-"


def _examples(recordings: list[int], calls: list[CallRef]) -> list[str]:
    named = {c.recording_id: c for c in calls}
    return [call_name(named.get(r), r) for r in recordings]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _cell(text) -> str:
    return str(text if text is not None else "-").replace("|", "\\|").replace("\n", " ")


# Labels of the report's coded values (a category, a trend, a highlight's reason, a phase).
CATEGORY_NAMES = {
    "script_section": "script section",
    "mandatory_point": "mandatory point",
    "forbidden_phrase": "forbidden phrase",
    "attitude_error": "attitude error",
    "objection": "objection handling",
    "silence": "silence",
    "interruption": "interruption",
    "speech_rate": "speech rate",
    "product_fact": "product fact",
}
PROJECT_TYPES = {"marketing": "marketing", "care": "care", "survey": "survey"}
TRENDS = {"rising": "rising", "falling": "falling", "steady": "steady"}
PHASES = {"trial": "trial calls", "production": "production calls"}
SECTIONS = {
    "greeting": "greeting",
    "opening": "opening",
    "product_intro": "product introduction",
    "persuasion": "persuasion",
    "closing": "closing",
    "farewell": "farewell",
}


def highlight_reason(reason: str, report: WrapupReport) -> str:
    """`objection_handled:too_expensive` -> the objection's name; a section id -> its name."""
    kind, _sep, ident = reason.partition(":")
    if kind == "agent_line":
        return _("agent line")
    if kind == "objection_handled":
        names = {r.objection_id: r.name for r in report.refusal_reasons}
        return _("objection handled: {name}", name=names.get(ident) or ident)
    return _(SECTIONS[kind]) if kind in SECTIONS else reason


def to_markdown(report: WrapupReport) -> str:
    """The report as the CLI saves it and the page downloads it, in the service's language."""
    k, period, rubric = report.kpis, report.period, report.rubric

    def row(*cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    def head(*names: str) -> list[str]:
        return [row(*(_(n) for n in names)), row(*(["---"] * len(names)))]

    none = _("none")
    lines = [
        f"# {_('Project wrap-up')} {report.project}",
        "",
        _(
            "rubric {id} v{version} ({name}, {type}); knowledge base {kb}; calls {first} – "
            "{last} over {days} day(s), {agents} agent(s); generated {generated}",
            id=rubric.id,
            version=rubric.version,
            name=rubric.name,
            type=_(PROJECT_TYPES.get(rubric.project_type, rubric.project_type)),
            kb=_knowledge_name(rubric),
            first=period.first_call,
            last=period.last_call,
            days=period.days,
            agents=period.agents,
            generated=report.generated_at,
        ),
        "",
        *_setup_lines(report),
        "## " + _("KPIs"),
        "",
        *head(
            "scope",
            "calls",
            "pass rate",
            "excellent rate",
            "success rate",
            "average talk time (s)",
            "fatal",
        ),
    ]
    scopes = (
        [(_("whole project"), k)]
        + [(_(PHASES.get(p, p)), row_) for p, row_ in report.kpis_by_phase.items()]
        + [(d.day, d) for d in report.kpis_by_day]
    )
    for name, kpi in scopes:
        lines.append(
            row(
                name,
                kpi.evaluated,
                _pct(kpi.pass_rate),
                _pct(kpi.excellent_rate),
                _pct(kpi.success_rate),
                kpi.average_talk_seconds,
                kpi.fatal,
            )
        )
    lines += ["", "## " + _("guide map"), ""]
    lines += head("selling point", "said in calls", "customer positive", "quadrant")
    for p in report.guide_map:
        lines.append(
            row(
                _cell(p.name or p.point_id),
                f"{p.said_in_calls} ({_pct(p.said_rate)})",
                _pct(p.positive_rate),
                _("cannot be judged") if p.quadrant is None else _(QUADRANTS[p.quadrant]),
            )
        )
    lines += ["", "## " + _("common errors"), ""]
    lines += head("rule", "category", "calls", "share", "trend", "by day", "example calls")
    for e in report.common_errors:
        by_day = ", ".join(f"{d.day[5:]}: {d.calls}" for d in e.by_day)
        lines.append(
            row(
                _cell(e.name or e.rule_id),
                _(CATEGORY_NAMES.get(e.category, e.category)),
                e.count,
                _pct(e.share),
                _(TRENDS.get(e.trend, e.trend)),
                by_day,
                ", ".join(_examples(e.example_recordings, e.example_calls)),
            )
        )
    lines += ["", "## " + _("product-fact violations"), ""]
    if not report.product_fact_violations:
        lines.append(none)
    for f in report.product_fact_violations:
        said = ", ".join(f"{v} ×{n}" for v, n in f.values_said.items())
        lines.append(
            "- "
            + _(
                "**{name}**: {calls} call(s); said {said}; knowledge base {kb}",
                name=f.name,
                calls=f.calls,
                said=said,
                kb=f.kb_value,
            )
        )
        for ex in f.examples[:3]:
            lines.append(
                "  - "
                + _(
                    "call {call} at {start} s: {text}",
                    call=call_name(ex.call, ex.recording_id),
                    start=ex.start,
                    text=ex.text,
                )
            )
    lines += ["", "## " + _("highlight scripts"), ""]
    if not report.highlights:
        lines.append(none)
    for h in report.highlights[:20]:
        lines.append(
            "- "
            + _(
                "{text} — {reason}, {calls} call(s), success {rate}",
                text=h.text,
                reason=highlight_reason(h.reason, report),
                calls=h.calls,
                rate=_pct(h.success_rate),
            )
        )
    lines += ["", "## " + _("refusal reasons"), ""]
    lines += head("objection", "raised in calls", "share", "answered", "success after")
    for r in report.refusal_reasons:
        lines.append(
            row(
                _cell(r.name or r.objection_id),
                r.raised_in_calls,
                _pct(r.share_of_calls),
                _pct(r.handled_rate),
                _pct(r.success_rate_after),
            )
        )
    lines += voice_markdown(report.customer_voice)
    return "\n".join(lines) + "\n"


def voice_markdown(voice: CustomerVoice | None) -> list[str]:
    """The customers' questions, refusals and drop-off, as Markdown lines."""
    if voice is None:
        return []
    before = _("before any section")
    lines: list[str] = []
    for title, groups in (
        (_("customer questions"), voice.questions),
        (_("customer refusals"), voice.refusals),
    ):
        lines += ["", "## " + title, ""]
        lines.append(
            row_of(
                [
                    _("what customers say"),
                    _("calls"),
                    _("share"),
                    _("after section"),
                    _("example calls"),
                ]
            )
        )
        lines.append(row_of(["---"] * 5))
        for g in groups:
            named = f" ({_cell(g.objection_name)})" if g.objection_name else ""
            lines.append(
                row_of(
                    [
                        _cell(g.label) + named,
                        f"{g.calls} ({g.utterances})",
                        _pct(g.share_of_calls),
                        _cell(g.after_section_name or before),
                        ", ".join(
                            f"{call_name(x.call, x.recording_id)} @{x.start:g}s" for x in g.examples
                        ),
                    ]
                )
            )
    lines += ["", "## " + _("drop-off"), ""]
    lines.append(
        row_of([_("script section"), _("reached"), _("ended in refusal after it"), _("share")])
    )
    lines.append(row_of(["---"] * 4))
    for d in voice.drop_off:
        lines.append(
            row_of([_cell(d.name or before), d.reached, d.refused_after, _pct(d.refused_share)])
        )
    return lines


def row_of(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def write_wrapup(report: WrapupReport, folder: Path) -> tuple[Path, Path]:
    """reports/wrapup-<project>-<time>.json and .md; the project name kept readable (Chinese
    included), only characters a file name cannot hold replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", report.project).strip("._") or "project"
    stamp = report.generated_at.replace(":", "").replace("-", "")[:15]
    stem = folder / f"wrapup-{safe}-{stamp}"
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    md_path.write_text(to_markdown(report), encoding="utf-8")
    return json_path, md_path


def _setup_lines(report: WrapupReport) -> list[str]:
    """三统一: the script, rubric and knowledge-base versions the project ran."""
    setup = report.setup
    if setup is None:
        return []
    script = setup.script
    lines = [
        _(
            "The three in agreement: script {script}; rubric {rubric}; knowledge base {kb}",
            script=(
                f"v{script.version} {script.name} "
                + (_("passed the audit") if script.clean else _("did not pass the audit"))
                if script
                else "-"
            ),
            rubric=f"{setup.rubric.id} v{setup.rubric.version}" if setup.rubric else "-",
            kb=(
                f"{setup.knowledge_base.id} v{setup.knowledge_base.version}"
                if setup.knowledge_base
                else "-"
            ),
        ),
        "",
    ]
    lines += [f"- {w}" for w in setup.warnings]
    return lines + ([""] if setup.warnings else [])
