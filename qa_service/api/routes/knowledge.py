"""Knowledge bases (知识库) stored and versioned in the database, like rubrics: a rubric's
`knowledge_base:` names one by id. No server paths."""

from fastapi import APIRouter, Body, Request, Response

from qa_service.api.deps import Admin, Identifier, StoreDep, Version, Viewer
from qa_service.api.schemas import (
    KnowledgeActivation,
    KnowledgeDetail,
    KnowledgeFactOut,
    KnowledgeListItem,
    KnowledgeRef,
    KnowledgeSummary,
    KnowledgeUploaded,
)
from qa_service.exceptions import KnowledgeNotFound, UnsupportedFormat
from qa_service.i18n import message
from qa_service.metrics.setup import running_versions, script_warnings
from qa_service.rules.knowledge import parse_knowledge
from qa_service.storage.tables import KnowledgeBaseRow

router = APIRouter(prefix="/knowledge-bases", tags=["knowledge bases"])


def _summary(row: KnowledgeBaseRow) -> KnowledgeSummary:
    return KnowledgeSummary(
        id=row.kb_id, version=row.version, product=row.product, created_at=row.created_at
    )


@router.post(
    "",
    status_code=201,
    response_model=KnowledgeUploaded,
    responses={
        200: {
            "model": KnowledgeUploaded,
            "description": "this version was already stored with the same text: nothing "
            "new was saved (`created` is false)",
        },
        422: {
            "description": "the knowledge base does not validate: every problem with its "
            "line, field and reason"
        },
    },
)
def upload_knowledge(
    request: Request,
    response: Response,
    store: StoreDep,
    _: Admin,
    yaml_text: str = Body(..., media_type="application/yaml"),
) -> KnowledgeUploaded:
    """Validate and store a knowledge-base version (its `id` and `version`). Versions are
    never overwritten: the same version with other text is a 409."""
    if request.headers.get("content-type", "").startswith("multipart/"):
        raise UnsupportedFormat(
            message(
                "send the knowledge base YAML itself as the request body with {header}, not as "
                "a form upload",
                header="Content-Type: application/yaml",
            )
        )
    kb = parse_knowledge(yaml_text, message("uploaded knowledge base"))
    row, created = store.knowledge.save(kb, yaml_text)
    if not created:
        response.status_code = 200
    return KnowledgeUploaded(**dict(_summary(row)), created=created)


@router.get("", response_model=list[KnowledgeListItem])
def list_knowledge(store: StoreDep, _: Viewer) -> list[KnowledgeListItem]:
    active = store.knowledge.active()
    return [
        KnowledgeListItem(
            **dict(_summary(r)),
            active_for=[a.project for a in active if (a.kb_id, a.version) == (r.kb_id, r.version)],
        )
        for r in store.knowledge.all()
    ]


@router.get("/{kb_id}/{version}", response_model=KnowledgeDetail)
def get_knowledge(
    kb_id: Identifier, version: Version, store: StoreDep, _: Viewer
) -> KnowledgeDetail:
    row = store.knowledge.get(kb_id, version)
    if row is None:
        raise KnowledgeNotFound(
            message(
                "knowledge base {kb} version {version} is not stored", kb=kb_id, version=version
            )
        )
    kb = store.knowledge.load(kb_id, version)
    return KnowledgeDetail(
        **dict(_summary(row)),
        yaml=row.yaml_text,
        facts=[
            KnowledgeFactOut(id=f.id, name=f.name, type=f.type, value=f.show(f.value))
            for f in kb.facts
        ],
    )


@router.post("/{kb_id}/{version}/activate", response_model=KnowledgeActivation)
def activate_knowledge(
    kb_id: Identifier, version: Version, project: Identifier, store: StoreDep, _: Admin
) -> KnowledgeActivation:
    """Make this version the one `project` runs (三统一): its rubric's `knowledge_base: {id}`
    reads it for the project. Warns when the project's script has not passed the audit with
    this version."""
    if store.knowledge.get(kb_id, version) is None:
        raise KnowledgeNotFound(
            message(
                "knowledge base {kb} version {version} is not stored", kb=kb_id, version=version
            )
        )
    store.knowledge.activate(project, kb_id, version)
    active = store.rubrics.active_in(project)
    rubric, _kb = running_versions(
        store, project, (active.rubric_id, active.version) if active else None
    )
    return KnowledgeActivation(
        project=project,
        knowledge_base=KnowledgeRef(id=kb_id, version=version),
        warnings=script_warnings(store, project, rubric, (kb_id, version)),
    )
