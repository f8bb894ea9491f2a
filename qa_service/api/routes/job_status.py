from typing import Optional

from fastapi import APIRouter, HTTPException, Query

from qa_service.api.deps import DispatcherDep, StoreDep, Viewer
from qa_service.domain.enums import JobState
from qa_service.api.schemas import JobOut

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, store: StoreDep, dispatcher: DispatcherDep, _: Viewer) -> dict:
    row = store.job(job_id)
    if row is None:
        raise HTTPException(404, f"no job {job_id}")
    return dispatcher.status(row).model_dump()


@router.get("", response_model=list[JobOut])
def list_jobs(store: StoreDep, _: Viewer, status: Optional[JobState] = None,
              limit: int = Query(100, ge=1, le=1000)) -> list[dict]:
    """Jobs by status; `status=failed` lists failures with their error."""
    return [r.model_dump() for r in store.jobs(status, limit)]
