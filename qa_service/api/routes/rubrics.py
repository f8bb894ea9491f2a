from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from qa_service.api.deps import Admin, DispatcherDep, Identifier, StoreDep, Version, Viewer
from qa_service.api.schemas import (
    Activation,
    RescoreAccepted,
    RubricDetail,
    RubricListItem,
    RubricSummary,
    RubricUploaded,
)
from qa_service.app.rescoring import rescore_scope
from qa_service.domain.enums import JobState, Phase
from qa_service.domain.evaluation import RubricRef
from qa_service.domain.schema import MAX_ROW_ID
from qa_service.exceptions import QueueUnavailable, RubricNotFound, UnsupportedFormat
from qa_service.i18n import message
from qa_service.metrics.setup import running_versions, script_warnings
from qa_service.review.models import RubricComparison, RubricDiff
from qa_service.review.quality import compare_versions, diff_versions
from qa_service.rules.knowledge import knowledge_of
from qa_service.rules.rubric import parse_rubric
from qa_service.storage.callrefs import name_calls
from qa_service.storage.tables import RubricRow

router = APIRouter(prefix="/rubrics", tags=["rubrics"])


def _summary(row: RubricRow) -> RubricSummary:
    return RubricSummary(
        id=row.rubric_id,
        version=row.version,
        name=row.name,
        project_type=row.project_type,
        created_at=row.created_at,
    )


@router.post(
    "",
    status_code=201,
    response_model=RubricUploaded,
    responses={
        200: {
            "model": RubricUploaded,
            "description": "this version was already stored with the same text: nothing "
            "new was saved (`created` is false)",
        },
        422: {
            "description": "the rubric does not validate: every problem with its "
            "line, field and reason"
        },
    },
)
def upload_rubric(
    request: Request,
    response: Response,
    store: StoreDep,
    _: Admin,
    yaml_text: str = Body(..., media_type="application/yaml"),
) -> RubricUploaded:
    """Validate and store a rubric version. Versions are never overwritten."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise UnsupportedFormat(
            message(
                "send the rubric YAML itself as the request body with {header} ({example}), "
                "not as a form upload",
                header="Content-Type: application/yaml",
                example="curl --data-binary @rubric.yaml -H 'Content-Type: application/yaml'",
            )
        )
    rubric = parse_rubric(yaml_text, message("uploaded rubric"))
    # its knowledge base, if it names one, must be stored (or, for a path, exist) and load
    knowledge_of(store.knowledge.attach(rubric))
    existed = store.rubrics.get(rubric.id, rubric.version) is not None
    row = store.rubrics.save(rubric, yaml_text)  # refuses the same version with other text
    if existed:
        response.status_code = 200
    return RubricUploaded(**dict(_summary(row)), created=not existed)


@router.get("", response_model=list[RubricListItem])
def list_rubrics(store: StoreDep, _: Viewer) -> list[RubricListItem]:
    active = store.rubrics.active()
    return [
        RubricListItem(
            **dict(_summary(r)),
            active_for=[
                a.project for a in active if (a.rubric_id, a.version) == (r.rubric_id, r.version)
            ],
        )
        for r in store.rubrics.all()
    ]


@router.get("/{rubric_id}/compare", response_model=RubricComparison)
def compare(
    rubric_id: Identifier,
    store: StoreDep,
    _: Viewer,
    version_from: int = Query(..., alias="from", ge=1, le=MAX_ROW_ID),
    version_to: int = Query(..., alias="to", ge=1, le=MAX_ROW_ID),
    project: Identifier | None = None,
    phase: Phase | None = None,
) -> RubricComparison:
    """Two versions side by side on the calls scored by both: grade changes, score
    distributions, per-rule rates (the trial-phase loop: change the rubric, see what it does).
    `phase` keeps the trial (试呼) or production calls only."""
    with store.session() as s:
        return name_calls(
            s, compare_versions(s, rubric_id, version_from, version_to, project, phase)
        )


@router.get("/{rubric_id}/diff", response_model=RubricDiff)
def diff(
    rubric_id: Identifier,
    store: StoreDep,
    _: Viewer,
    version_from: int = Query(..., alias="from", ge=1, le=MAX_ROW_ID),
    version_to: int = Query(..., alias="to", ge=1, le=MAX_ROW_ID),
) -> RubricDiff:
    """Two versions rule by rule (added, removed, each changed field with its values before
    and after): read before activating the newer one."""
    for version in (version_from, version_to):
        if store.rubrics.get(rubric_id, version) is None:
            raise RubricNotFound(
                message(
                    "rubric {rubric} version {version} is not stored",
                    rubric=rubric_id,
                    version=version,
                )
            )
    return diff_versions(
        store.rubrics.load(rubric_id, version_from), store.rubrics.load(rubric_id, version_to)
    )


@router.get("/{rubric_id}/{version}", response_model=RubricDetail)
def get_rubric(rubric_id: Identifier, version: Version, store: StoreDep, _: Viewer) -> RubricDetail:
    row = store.rubrics.get(rubric_id, version)
    if row is None:
        raise RubricNotFound(
            message(
                "rubric {rubric} version {version} is not stored", rubric=rubric_id, version=version
            )
        )
    return RubricDetail(**dict(_summary(row)), yaml=row.yaml_text)


@router.post("/{rubric_id}/{version}/activate", response_model=Activation)
def activate(
    rubric_id: Identifier, version: Version, project: Identifier, store: StoreDep, _: Admin
) -> Activation:
    """Make this version the one new recordings of `project` are scored with. Warns (三统一)
    when the project's script has not passed the audit with this version."""
    if store.rubrics.get(rubric_id, version) is None:
        raise RubricNotFound(
            message(
                "rubric {rubric} version {version} is not stored", rubric=rubric_id, version=version
            )
        )
    store.rubrics.activate(project, rubric_id, version)
    _rubric, kb = running_versions(store, project, (rubric_id, version))
    return Activation(
        project=project,
        rubric=RubricRef(id=rubric_id, version=version),
        warnings=script_warnings(store, project, (rubric_id, version), kb),
    )


@router.post("/{rubric_id}/{version}/rescore", status_code=202, response_model=RescoreAccepted)
def rescore(
    rubric_id: Identifier,
    version: Version,
    store: StoreDep,
    dispatcher: DispatcherDep,
    _: Admin,
    project: Identifier | None = None,
) -> RescoreAccepted | JSONResponse:
    """Score stored transcripts again with this version (the rescoring queue, no recognition)."""
    if store.rubrics.get(rubric_id, version) is None:
        raise RubricNotFound(
            message(
                "rubric {rubric} version {version} is not stored", rubric=rubric_id, version=version
            )
        )
    rubric = store.rubrics.load(rubric_id, version)
    row = store.jobs.record_rescore(rubric, project)  # kept like an upload; /jobs/{id} finds it
    scope = rescore_scope(store, rubric_id, project)[1]
    accepted = RescoreAccepted(
        job_id=row.id,
        project=project,
        rubric=RubricRef(id=rubric_id, version=version),
        scope=scope,
    )
    try:
        dispatcher.submit(row, rubric)
    except QueueUnavailable as exc:
        # kept as a pending job; this answer also says which calls it will score again
        pending = accepted.model_copy(update={"status": JobState.PENDING, "detail": str(exc)})
        return JSONResponse(pending.model_dump(mode="json"), status_code=503)
    return accepted.model_copy(update={"status": JobState.QUEUED})
