from typing import Optional

from fastapi import APIRouter, HTTPException

from qa_service.api.deps import StoreDep, Viewer
from qa_service.reports import inflight_report, trial_report
from qa_service.store import RubricNotFound

router = APIRouter(prefix="/projects", tags=["reports"])


@router.get("/{project}/trial")
def trial(project: str, store: StoreDep, _: Viewer, rubric_id: Optional[str] = None,
          version: Optional[int] = None, phase: Optional[str] = "trial") -> dict:
    """试呼 report: refusal reasons, the guide map (引导地图) and the highlight-script library."""
    if rubric_id is None:
        active = store.active_rubric(project)
        if active is None:
            raise HTTPException(422, f"no rubric given and none active for project {project!r}")
        rubric_id, version = active.rubric_id, active.version
    try:
        rubric = store.load_rubric(rubric_id, version or 1)
    except RubricNotFound as exc:
        raise HTTPException(404, str(exc))
    with store.session() as s:
        return trial_report(s, rubric, project, phase or None)


@router.get("/{project}/inflight")
def inflight(project: str, store: StoreDep, _: Viewer) -> dict:
    """The first 2, 4 and 6 hours of production calls (seed 003, key point 3)."""
    with store.session() as s:
        return inflight_report(s, project)
