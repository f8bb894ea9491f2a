"""Lists and KPI tables as CSV or XLSX (质检看板, 待复核): the same queries as their JSON
routes, with Chinese headers and labels. No transcript text or personal numbers: scores,
grades, counts and rates only."""

from fastapi import APIRouter, Query
from fastapi.responses import Response

from qa_service.api.deps import Identifier, StoreDep, TimeQuery, Viewer
from qa_service.api.tabular import MEDIA, TableFormat, table_file
from qa_service.domain.enums import Grade, Phase
from qa_service.exceptions import BadInput
from qa_service.i18n import message
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.metrics.wrapup import CATEGORY_NAMES
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
        raise BadInput(f"group_by must be one of {', '.join(GROUPS)}")
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
