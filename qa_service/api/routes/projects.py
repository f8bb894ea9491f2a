from typing import Literal, Optional

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse
from sqlmodel import select

from qa_service.api.deps import StoreDep, Viewer
from qa_service.api.errors import MAX_INT
from qa_service.storage.tables import ActiveRubric, Recording
from qa_service.metrics.reports import inflight_report, trial_report
from qa_service.metrics.models import InflightReport, TrialReport
from qa_service.storage.store import RubricNotFound
from qa_service.metrics.wrapup import NoCalls, to_markdown, wrapup as make_wrapup

router = APIRouter(prefix="/projects", tags=["reports"])


def _known(store, project: str) -> None:
    """A project exists once it has a recording or an active rubric: else 404 for every report."""
    with store.session() as s:
        if s.get(ActiveRubric, project) is None and s.exec(
                select(Recording.id).where(Recording.project == project).limit(1)).first() is None:
            raise HTTPException(404, f"no project {project!r}: no recordings and no active rubric")


@router.get("/{project}/trial", response_model=TrialReport)
def trial(project: str, store: StoreDep, _: Viewer, rubric_id: Optional[str] = None,
          version: Optional[int] = Query(None, ge=1, le=MAX_INT),
          phase: Optional[Literal["trial", "production"]] = "trial") -> dict:
    """试呼 report: refusal reasons, the guide map (引导地图) and the highlight-script library."""
    _known(store, project)
    if rubric_id is None:
        active = store.active_rubric(project)
        if active is None:
            raise HTTPException(422, f"no rubric given and none active for project {project!r}")
        rubric_id, version = active.rubric_id, active.version
    try:
        rubric = store.load_rubric(rubric_id, version or 1)
    except RubricNotFound as exc:
        raise HTTPException(404, str(exc))
    return store.read(trial_report, rubric, project, phase or None)


@router.get("/{project}/inflight", response_model=InflightReport)
def inflight(project: str, store: StoreDep, _: Viewer) -> dict:
    """The first 2, 4 and 6 hours of production calls (seed 003, key point 3)."""
    _known(store, project)
    return store.read(inflight_report, project)


@router.get("/{project}/wrapup")
def wrapup(project: str, store: StoreDep, _: Viewer, format: str = "json"):
    """项目总结 (seed 003, key point 4): KPIs over the whole run, the guide map as it ended,
    common errors with their trend, highlight scripts, refusal reasons, product-fact
    violations. `format=markdown` for the Markdown text (`qa-service wrapup` saves both)."""
    if format not in ("json", "markdown"):
        raise HTTPException(422, "format must be json or markdown")
    try:
        report = make_wrapup(store, project)
    except (NoCalls, RubricNotFound) as exc:
        raise HTTPException(404, str(exc))
    if format == "markdown":
        return PlainTextResponse(to_markdown(report), media_type="text/markdown; charset=utf-8")
    return report
