"""Hourly bulletins (整点通报) of projects in their first day after launch (上线后)."""

from datetime import timedelta

from fastapi import APIRouter, Query

from qa_service.api.deps import Identifier, StoreDep, Viewer
from qa_service.metrics.bulletin import BulletinReport
from qa_service.storage.callrefs import name_calls
from qa_service.storage.tables import utcnow

router = APIRouter(tags=["reports"])


@router.get("/bulletins", response_model=list[BulletinReport])
def latest_bulletins(
    store: StoreDep,
    _: Viewer,
    hours: int = Query(2, ge=1, le=48, description="bulletins of the last so many hours"),
) -> list[BulletinReport]:
    """The newest bulletin of each project that had one in the last `hours` (the dashboard's
    整点通报): fatal and attitude errors first, then common errors, then whom to remind now."""
    seen: set[str] = set()
    out = []
    for row in store.bulletins.since(utcnow() - timedelta(hours=hours)):
        if row.project not in seen:
            seen.add(row.project)
            out.append(BulletinReport.model_validate(row.body))
    return store.read(name_calls, out)


@router.get("/projects/{project}/bulletins", response_model=list[BulletinReport])
def project_bulletins(
    project: Identifier,
    store: StoreDep,
    _: Viewer,
    limit: int = Query(24, ge=1, le=100),
) -> list[BulletinReport]:
    """The project's hourly bulletins, newest first."""
    rows = store.bulletins.of_project(project, limit)
    return store.read(name_calls, [BulletinReport.model_validate(r.body) for r in rows])
