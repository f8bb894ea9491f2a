"""Lists, KPI tables and reports as CSV or XLSX (质检看板, 待复核, 试呼分析, 项目总结): the same
queries as their JSON routes, with Chinese headers and labels. Lists and KPI tables hold no
transcript text: scores, grades, counts and rates only; the reports' highlight scripts and
product-fact examples quote the calls, their personal numbers masked for non-admins (the
masking middleware reads no XLSX)."""

from fastapi import APIRouter, Query
from fastapi.responses import Response

from qa_service.api.deps import Identifier, ReportPhase, StoreDep, TimeQuery, Viewer
from qa_service.api.errors import MAX_INT
from qa_service.api.routes import projects
from qa_service.api.tabular import MEDIA, Sheet, TableFormat, table_file, workbook_file
from qa_service.domain.enums import Grade, Phase
from qa_service.domain.masking import mask
from qa_service.exceptions import BadInput
from qa_service.i18n import codes, message
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.metrics.models import GuidePoint, HighlightScript, KpiRow, RefusalReason
from qa_service.metrics.wrapup import CATEGORY_NAMES, PHASES, SECTIONS, TRENDS
from qa_service.review import queues
from qa_service.storage.queries import GROUPS

router = APIRouter(prefix="/exports", tags=["exports"])

FILE = {
    "description": "the table as a CSV (UTF-8 with BOM) or XLSX file",
    "content": {media.split(";")[0]: {} for media in MEDIA.values()},
}
GRADES = {"excellent": "excellent", "pass": "pass", "fail": "fail", "no_speech": "no speech"}
GROUP_NAMES = {
    "project": "project",
    "agent": "agent",
    "day": "day",
    "hour": "hour",
    "rubric": "rubric",
}
KPI_COLUMNS = (
    "calls",
    "pass rate",
    "excellent rate",
    "success rate",
    "average talk time (s)",
    "fatal",
)


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


@router.get("/kpis", response_class=Response, responses={200: FILE})
def export_kpis(
    store: StoreDep,
    _: Viewer,
    format: TableFormat = "xlsx",
    group_by: str = Query("project", json_schema_extra={"enum": list(GROUPS)}),
    project: Identifier | None = None,
    agent: Identifier | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    phase: Phase | None = None,
) -> Response:
    """The KPI table of 质检看板 (rates in percent)."""
    if group_by not in GROUPS:
        raise BadInput(message("group_by must be one of {values}", values=codes(GROUPS)))
    rows = store.read(
        kpi_rows, group_by, project=project, agent=agent, since=since, until=until, phase=phase
    )
    headers = [message(GROUP_NAMES.get(group_by, group_by))] + [
        message(c) + (" (%)" if "rate" in c else "") for c in KPI_COLUMNS
    ]
    body = (
        [
            getattr(r, group_by),
            r.evaluated,
            _rate(r.pass_rate),
            _rate(r.excellent_rate),
            _rate(r.success_rate),
            r.average_talk_seconds,
            r.fatal,
        ]
        for r in rows
    )
    return table_file(message("KPIs"), headers, body, format)


@router.get("/errors", response_class=Response, responses={200: FILE})
def export_errors(
    store: StoreDep,
    _: Viewer,
    format: TableFormat = "xlsx",
    project: Identifier | None = None,
    agent: Identifier | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    limit: int = Query(200, ge=1, le=200),
) -> Response:
    """共性错误 ranking."""
    rows = store.read(
        common_errors, limit=limit, project=project, agent=agent, since=since, until=until
    )
    headers = [message(c) for c in ("rule", "category", "calls", "share")]
    headers[-1] += " (%)"
    body = (
        [e.name or e.rule_id, message(CATEGORY_NAMES.get(e.category, e.category)), e.count]
        + [_rate(e.share)]
        for e in rows
    )
    return table_file(message("common errors"), headers, body, format)


@router.get("/evaluations", response_class=Response, responses={200: FILE})
def export_evaluations(
    store: StoreDep,
    _: Viewer,
    format: TableFormat = "xlsx",
    project: Identifier | None = None,
    agent: Identifier | None = None,
    grade: Grade | None = None,
    reviewed: bool | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
) -> Response:
    """Every call the filters select (up to 10,000 rows), newest first."""
    with store.session() as s:
        page = queues.list_evaluations(
            s,
            1,
            10_000,
            project=project,
            agent=agent,
            grade=grade,
            reviewed=reviewed,
            since=since,
            until=until,
        )
    columns = ("call time", "project", "agent", "rubric", "score", "grade", "reviewed")
    body = (
        [
            i.call_time.strftime("%Y-%m-%d %H:%M:%S"),
            i.project,
            i.agent_id,
            f"{i.rubric.id} v{i.rubric.version}",
            i.score,
            message(GRADES.get(i.grade, i.grade)),
            message("yes") if i.reviewed else message("no"),
        ]
        for i in page.items
    )
    return table_file(message("calls"), [message(c) for c in columns], body, format)


# ---- reports: a sheet per section ---------------------------------------------------------


def _kpi_sheet(title: str, rows: list[tuple[str, KpiRow]], first: str) -> Sheet:
    headers = [message(first)] + [message(c) + (" (%)" if "rate" in c else "") for c in KPI_COLUMNS]
    body = [
        [label, r.evaluated, _rate(r.pass_rate), _rate(r.excellent_rate), _rate(r.success_rate)]
        + [r.average_talk_seconds, r.fatal]
        for label, r in rows
    ]
    return message(title), headers, body


def _refusal_sheet(rows: list[RefusalReason]) -> Sheet:
    columns = ("objection", "raised in calls", "share of calls", "handled", "handled rate")
    headers = [message(c) + (" (%)" if "rate" in c or "share" in c else "") for c in columns]
    headers.append(message("success rate after") + " (%)")
    body = [
        [r.name or r.objection_id, r.raised_in_calls, _rate(r.share_of_calls), r.handled]
        + [_rate(r.handled_rate), _rate(r.success_rate_after)]
        for r in rows
    ]
    return message("refusal reasons"), headers, body


def _guide_sheet(rows: list[GuidePoint]) -> Sheet:
    headers = [message(c) for c in ("guide point", "said in calls", "said rate", "positive rate")]
    headers[2] += " (%)"
    headers[3] += " (%)"
    headers.append(message("quadrant"))
    body = [
        [p.name or p.point_id, p.said_in_calls, _rate(p.said_rate), _rate(p.positive_rate)]
        + [p.quadrant]
        for p in rows
    ]
    return message("guide map"), headers, body


def _highlight_sheet(
    rows: list[HighlightScript], refusals: list[RefusalReason], raw: bool
) -> Sheet:
    names = {r.objection_id: r.name for r in refusals}

    def reason(value: str) -> str:
        kind, _sep, ident = value.partition(":")
        if kind == "objection_handled":
            return message("objection handled: {name}", name=names.get(ident) or ident)
        return message(SECTIONS[kind]) if kind in SECTIONS else value

    headers = [message(c) for c in ("where", "script", "calls", "successes", "success rate")]
    headers[-1] += " (%)"
    body = [
        [reason(h.reason), h.text if raw else mask(h.text), h.calls, h.successes]
        + [_rate(h.success_rate)]
        for h in rows
    ]
    return message("highlight scripts"), headers, body


@router.get("/projects/{project}/trial", response_class=Response, responses={200: FILE})
def export_trial(
    project: Identifier,
    store: StoreDep,
    who: Viewer,
    format: TableFormat = "xlsx",
    rubric_id: Identifier | None = None,
    version: int | None = Query(None, ge=1, le=MAX_INT),
    phase: ReportPhase = Phase.TRIAL,
) -> Response:
    """试呼分析 (GET /projects/{project}/trial) as a workbook: the summary, refusal reasons,
    the guide map and the highlight scripts, a sheet each."""
    report = projects.trial(project, store, who, rubric_id, version, phase)
    summary = [
        [message("project"), report.project],
        [message("phase"), message(PHASES.get(report.phase or "", "all calls"))],
        [message("rubric"), f"{report.rubric.id} v{report.rubric.version}"],
        [message("calls"), report.calls],
        [message("success rate") + " (%)", _rate(report.success_rate)],
    ]
    sheets: list[Sheet] = [
        (message("summary"), [message("item"), message("value")], summary),
        _refusal_sheet(report.refusal_reasons),
        _guide_sheet(report.guide_map),
        _highlight_sheet(report.highlights, report.refusal_reasons, who.is_admin),
    ]
    return workbook_file(message("trial calls {project}", project=project), sheets, format)


@router.get("/projects/{project}/wrapup", response_class=Response, responses={200: FILE})
def export_wrapup(
    project: Identifier, store: StoreDep, who: Viewer, format: TableFormat = "xlsx"
) -> Response:
    """项目总结 (GET /projects/{project}/wrapup) as a workbook: KPIs overall, by phase and
    by day, common errors with their trend, refusal reasons, the guide map, highlight
    scripts and product-fact violations, a sheet each."""
    report = projects.wrapup(project, store, who, format="json")
    assert not isinstance(report, Response)  # format=json answers the report
    kpis = [(message("all calls"), report.kpis)] + [
        (message(PHASES.get(phase, phase)), row) for phase, row in report.kpis_by_phase.items()
    ]
    errors_headers = [message(c) for c in ("rule", "category", "calls", "share", "trend")]
    errors_headers[3] += " (%)"
    errors = [
        [e.name or e.rule_id, message(CATEGORY_NAMES.get(e.category, e.category)), e.count]
        + [_rate(e.share), message(TRENDS.get(e.trend, e.trend))]
        for e in report.common_errors
    ]
    facts_headers = [message(c) for c in ("rule", "calls", "knowledge base value", "said")]
    facts = [
        [
            v.name or v.rule_id,
            v.calls,
            v.kb_value or "",
            "；".join(
                f"{said if who.is_admin else mask(said or '')}：{n}"
                for said, n in v.values_said.items()
            ),
        ]
        for v in report.product_fact_violations
    ]
    sheets: list[Sheet] = [
        _kpi_sheet("KPIs", kpis, "phase"),
        _kpi_sheet("KPIs by day", [(r.day or "", r) for r in report.kpis_by_day], "day"),
        (message("common errors"), errors_headers, errors),
        _refusal_sheet(report.refusal_reasons),
        _guide_sheet(report.guide_map),
        _highlight_sheet(report.highlights, report.refusal_reasons, who.is_admin),
        (message("product fact violations"), facts_headers, facts),
    ]
    return workbook_file(message("project wrap-up {project}", project=project), sheets, format)
