from typing import Literal, Optional

from fastapi import APIRouter, HTTPException, Query
from sqlmodel import select

from qa_service.api.deps import StoreDep, Viewer
from qa_service.api.errors import MAX_INT
from qa_service.db import ActiveRubric, Recording
from qa_service.jobs import JobFailed, rubric_from_store
from qa_service.reports import inflight_report, trial_report

router = APIRouter(prefix="/projects", tags=["reports"])


def _known(store, project: str) -> None:
    """A project exists once it has a recording or an active rubric: else 404 for every report."""
    with store.session() as s:
        if s.get(ActiveRubric, project) is None and s.exec(
                select(Recording.id).where(Recording.project == project).limit(1)).first() is None:
            raise HTTPException(404, f"no project {project!r}: no recordings and no active rubric")


@router.get("/{project}/trial")
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
        rubric = rubric_from_store(store, rubric_id, version or 1)
    except JobFailed as exc:
        raise HTTPException(404, str(exc))
    with store.session() as s:
        return trial_report(s, rubric, project, phase or None)


@router.get("/{project}/inflight")
def inflight(project: str, store: StoreDep, _: Viewer) -> dict:
    """The first 2, 4 and 6 hours of production calls (seed 003, key point 3)."""
    _known(store, project)
    with store.session() as s:
        return inflight_report(s, project)
