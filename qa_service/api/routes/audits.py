from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from qa_service.api.deps import Identifier, SettingsDep, StoreDep, Viewer
from qa_service.domain.schema import MAX_ROW_ID
from qa_service.exceptions import KnowledgeError, RubricNotFound
from qa_service.i18n import message
from qa_service.rules.audit import AuditReport, audit, check_size_within, parse_script
from qa_service.rules.knowledge import knowledge_of, parse_knowledge

router = APIRouter(prefix="/audits", tags=["audits"])


class AuditRequest(BaseModel):
    script: str = Field(
        min_length=1,
        max_length=1_000_000,
        description="the outbound script: Markdown or plain text, at most QA_AUDIT_MAX_CHARS "
        "characters (default 20,000) on QA_AUDIT_MAX_LINES lines (2,000) of at most "
        "QA_AUDIT_MAX_LINE_CHARS characters (1,000)",
    )
    name: str = Field(
        default="script", max_length=200, description="the script's name in the report"
    )
    rubric_id: Identifier = Field(min_length=1)
    rubric_version: int | None = Field(
        default=None, ge=1, le=MAX_ROW_ID, description="default: the newest stored"
    )
    type: Literal["marketing", "survey", "care", "营销", "调查", "关怀"] | None = Field(
        default=None,
        description="the project type the requirement asks for (default: the rubric's)",
    )
    knowledge_base: str | None = Field(
        default=None,
        max_length=1_000_000,
        description="knowledge base YAML replacing the rubric's knowledge_base, at most "
        "QA_AUDIT_MAX_KNOWLEDGE_CHARS characters (default 100,000)",
    )


@router.post("", response_model=AuditReport)
def create_audit(
    body: AuditRequest, store: StoreDep, settings: SettingsDep, _: Viewer
) -> AuditReport:
    """Pre-trial script audit (试呼前评估核查): the six parts, mandatory points, forbidden
    phrases, product facts against the knowledge base, project type. `clean` is false when
    any problem is found; nothing is stored. A script or knowledge base past its limits
    (QA_AUDIT_*) is a 422 naming the limit, before any matching."""
    check_size_within(body.script, body.name, settings)
    if body.knowledge_base and len(body.knowledge_base) > settings.audit_max_knowledge_chars:
        raise KnowledgeError(
            "knowledge_base",
            [
                (
                    None,
                    "",
                    message(
                        "{n:,} characters, more than the {max:,} an audit takes ({setting})",
                        n=len(body.knowledge_base),
                        max=settings.audit_max_knowledge_chars,
                        setting="QA_AUDIT_MAX_KNOWLEDGE_CHARS",
                    ),
                )
            ],
        )
    version = body.rubric_version
    if version is None:
        version = store.rubrics.newest_version(body.rubric_id)
    if version is None:
        raise RubricNotFound(message("rubric {rubric} is not stored", rubric=body.rubric_id))
    rubric = store.rubrics.load(body.rubric_id, version)
    kb = (
        parse_knowledge(body.knowledge_base, "knowledge_base")
        if body.knowledge_base
        else knowledge_of(rubric)
    )
    script = parse_script(body.script, body.name)
    return audit(script, rubric, kb, body.type)
