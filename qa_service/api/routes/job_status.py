from typing import Annotated

from fastapi import APIRouter, Path, Query

from qa_service.api.deps import NO_NUL, DispatcherDep, StoreDep, Viewer
from qa_service.api.schemas import JobOut
from qa_service.domain.enums import JobState
from qa_service.exceptions import NotFound
from qa_service.i18n import message

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut)
def get_job(
    job_id: Annotated[str, Path(pattern=NO_NUL)],
    store: StoreDep,
    dispatcher: DispatcherDep,
    _: Viewer,
) -> JobOut:
    row = store.jobs.get(job_id)
    if row is None:
        raise NotFound(message("no job {id}", id=job_id))
    row = dispatcher.status(row)
    answer = JobOut.model_validate(row)
    if row.status == JobState.SCHEDULED:
        answer.scheduled_for = dispatcher.booked_for(row)
    return answer


@router.get("", response_model=list[JobOut])
def list_jobs(
    store: StoreDep,
    _: Viewer,
    status: JobState | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> list[JobOut]:
    """Jobs by status; `status=failed` lists failures with their error."""
    return [JobOut.model_validate(r) for r in store.jobs.recent(status, limit)]
