from typing import Literal, Optional

from fastapi import APIRouter, HTTPException, Query
from sqlmodel import select

from qa_service.api.deps import DispatcherDep, StoreDep, Viewer
from qa_service.db import JobRecord

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}")
def get_job(job_id: str, store: StoreDep, dispatcher: DispatcherDep, _: Viewer) -> dict:
    with store.session() as s:
        row = s.get(JobRecord, job_id)
    if row is None:
        raise HTTPException(404, f"no job {job_id}")
    return dispatcher.status(row).model_dump()


@router.get("")
def list_jobs(store: StoreDep, _: Viewer,
              status: Optional[Literal["pending", "queued", "started", "finished", "failed"]] = None,
              limit: int = Query(100, ge=1, le=1000)) -> list[dict]:
    """Jobs by status; `status=failed` lists failures with their error."""
    with store.session() as s:
        q = select(JobRecord).order_by(JobRecord.updated_at.desc()).limit(limit)
        if status:
            q = q.where(JobRecord.status == status)
        return [r.model_dump() for r in s.exec(q).all()]
