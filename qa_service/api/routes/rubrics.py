from typing import Optional

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from qa_service.api.deps import Admin, DispatcherDep, StoreDep, Version, Viewer
from qa_service.storage.tables import RubricRow
from qa_service.app.dispatch import QueueUnavailable
from qa_service.review.quality import VersionMissing, compare_versions
from qa_service.rules.knowledge import knowledge_of
from qa_service.rules.rubric import RubricError, parse_rubric
from qa_service.api.schemas import Activation, RescoreAccepted, RubricDetail, RubricListItem, RubricSummary
from qa_service.review.models import RubricComparison
from qa_service.storage.store import RubricVersionConflict

router = APIRouter(prefix="/rubrics", tags=["rubrics"])


def _summary(row: RubricRow) -> dict:
    return {"id": row.rubric_id, "version": row.version, "name": row.name,
            "project_type": row.project_type, "created_at": row.created_at}


@router.post("", status_code=201, response_model=RubricSummary,
             responses={422: {"description": "the rubric does not validate: every problem with its "
                                             "line, field and reason"}})
def upload_rubric(request: Request, store: StoreDep, _: Admin,
                  yaml_text: str = Body(..., media_type="application/yaml")) -> dict:
    """Validate and store a rubric version. Versions are never overwritten."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise HTTPException(415, "send the rubric YAML itself as the request body with "
                                 "Content-Type: application/yaml (curl --data-binary @rubric.yaml "
                                 "-H 'Content-Type: application/yaml'), not as a form upload")
    try:
        rubric = parse_rubric(yaml_text, "uploaded rubric")
        knowledge_of(rubric)  # its knowledge base, if it names one, must exist and load
    except RubricError as exc:
        raise HTTPException(422, {"message": str(exc), "problems": [
            {"line": line, "field": field, "reason": reason}
            for line, field, reason in exc.problems]})
    try:
        row = store.save_rubric(rubric, yaml_text)
    except RubricVersionConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return _summary(row)


@router.get("", response_model=list[RubricListItem])
def list_rubrics(store: StoreDep, _: Viewer) -> list[dict]:
    active = store.active_rubrics()
    out = [_summary(r) for r in store.rubrics()]
    for item in out:
        item["active_for"] = [a.project for a in active
                              if (a.rubric_id, a.version) == (item["id"], item["version"])]
    return out


@router.get("/{rubric_id}/compare", response_model=RubricComparison)
def compare(rubric_id: str, store: StoreDep, _: Viewer,
            version_from: int = Query(..., alias="from", ge=1),
            version_to: int = Query(..., alias="to", ge=1), project: Optional[str] = None) -> dict:
    """Two versions side by side on the calls scored by both: grade changes, score
    distributions, per-rule rates (the trial-phase loop: change the rubric, see what it does)."""
    with store.session() as s:
        try:
            return compare_versions(s, rubric_id, version_from, version_to, project)
        except VersionMissing as exc:
            raise HTTPException(404, str(exc))


@router.get("/{rubric_id}/{version}", response_model=RubricDetail)
def get_rubric(rubric_id: str, version: Version, store: StoreDep, _: Viewer) -> dict:
    row = store.rubric(rubric_id, version)
    if row is None:
        raise HTTPException(404, f"rubric {rubric_id} version {version} is not stored")
    return {**_summary(row), "yaml": row.yaml_text}


@router.post("/{rubric_id}/{version}/activate", response_model=Activation)
def activate(rubric_id: str, version: Version, project: str, store: StoreDep, _: Admin) -> dict:
    """Make this version the one new recordings of `project` are scored with."""
    if store.rubric(rubric_id, version) is None:
        raise HTTPException(404, f"rubric {rubric_id} version {version} is not stored")
    store.activate_rubric(project, rubric_id, version)
    return {"project": project, "rubric": {"id": rubric_id, "version": version}}


@router.post("/{rubric_id}/{version}/rescore", status_code=202, response_model=RescoreAccepted)
def rescore(rubric_id: str, version: Version, store: StoreDep, dispatcher: DispatcherDep,
            _: Admin, project: Optional[str] = None) -> dict:
    """Score stored transcripts again with this version (the rescoring queue, no recognition)."""
    if store.rubric(rubric_id, version) is None:
        raise HTTPException(404, f"rubric {rubric_id} version {version} is not stored")
    rubric = store.load_rubric(rubric_id, version)
    row = store.record_rescore(rubric, project)  # kept like an upload; /jobs/{id} finds it
    body = {"job_id": row.id, "project": project, "rubric": {"id": rubric_id, "version": version},
            "scope": store.rescore_scope(rubric_id, project)[1]}
    try:
        dispatcher.submit(row, rubric)
    except QueueUnavailable as exc:
        return JSONResponse({**body, "status": "pending", "detail": str(exc)}, status_code=503)
    return {**body, "status": "queued"}
