from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlmodel import select

from qa_service.api.deps import (
    Identifier,
    Manager,
    ReportPhase,
    Reviewer,
    SettingsDep,
    StoreDep,
    Viewer,
)
from qa_service.api.errors import MAX_INT
from qa_service.domain.enums import Phase
from qa_service.domain.evaluation import RubricRef
from qa_service.domain.schema import Schema
from qa_service.exceptions import BadInput, NotFound, RubricNotFound
from qa_service.i18n import message
from qa_service.metrics.carryover import carry_over
from qa_service.metrics.models import (
    CarriedOver,
    HighlightDecisionIn,
    HighlightDecisionOut,
    InflightReport,
    ProjectSetup,
    TrialReport,
    VersionRef,
    WrapupReport,
)
from qa_service.metrics.reports import (
    decide_highlight,
    highlight_decisions,
    inflight_report,
    trial_report,
)
from qa_service.metrics.setup import project_setup
from qa_service.metrics.wrapup import project_rubric_key, to_markdown
from qa_service.metrics.wrapup import wrapup as make_wrapup
from qa_service.rules.audit import AuditReport, audit, check_size_within, parse_script
from qa_service.rules.knowledge import knowledge_of
from qa_service.storage.callrefs import name_calls
from qa_service.storage.tables import ActiveRubric, ProjectCarryover, Recording, utcnow

router = APIRouter(prefix="/projects", tags=["reports"])


def _known(store, project: str) -> None:
    """A project exists once it has a recording or an active rubric: else 404 for every report."""
    with store.session() as s:
        if (
            s.get(ActiveRubric, project) is None
            and s.exec(select(Recording.id).where(Recording.project == project).limit(1)).first()
            is None
        ):
            raise NotFound(
                message(
                    "no project {project}: no recordings and no active rubric",
                    project=repr(project),
                )
            )


@router.get("/{project}/trial", response_model=TrialReport)
def trial(
    project: Identifier,
    store: StoreDep,
    _: Viewer,
    rubric_id: Identifier | None = None,
    version: int | None = Query(None, ge=1, le=MAX_INT),
    phase: ReportPhase = Phase.TRIAL,
) -> TrialReport:
    """试呼 report: refusal reasons, the guide map (引导地图) and the highlight-script library;
    read with the rubric given, else the project's active one, else the one most of its calls
    were scored with (a project scored with the CLI has no active rubric)."""
    _known(store, project)
    rubric = _rubric_of(store, project, rubric_id, version)
    if rubric is None:
        raise BadInput(
            message(
                "no rubric given, none active and no scored calls in {project}",
                project=repr(project),
            )
        )
    return store.read(name_calls, store.read(trial_report, rubric, project, phase or None))


def _rubric_of(store, project: str, rubric_id: str | None, version: int | None):
    """The rubric given, else the project's active one, else the one most of its calls were
    scored with; None when there is none."""
    if rubric_id is None:
        active = store.rubrics.active_in(project)
        key = (
            (active.rubric_id, active.version)
            if active
            else store.read(project_rubric_key, project)
        )
        if key is None:
            return None
        rubric_id, version = key
    return store.rubrics.load(rubric_id, version or 1, project=project)


@router.get("/{project}/inflight", response_model=InflightReport)
def inflight(project: Identifier, store: StoreDep, _: Viewer) -> InflightReport:
    """The first 2, 4 and 6 hours of production calls (上线跟踪), with the customers'
    questions and refusals of the first 6 hours (read with the project's rubric)."""
    _known(store, project)
    try:
        rubric = _rubric_of(store, project, None, None)
    except RubricNotFound:
        rubric = None  # calls scored with a rubric file never stored: no customers' words
    return store.read(name_calls, store.read(inflight_report, project, rubric=rubric))


@router.get("/{project}/highlight-proposals", response_model=list[HighlightDecisionOut])
def highlight_proposals(
    project: Identifier, store: StoreDep, _: Viewer
) -> list[HighlightDecisionOut]:
    """Reviewers' decisions on the project's highlight lines (亮点话术), newest first; the
    proposals themselves come with the trial report (highlight_proposals)."""
    _known(store, project)
    rows = store.read(highlight_decisions, project)
    return [HighlightDecisionOut.model_validate(r) for r in rows]


@router.post("/{project}/highlight-proposals", response_model=HighlightDecisionOut)
def decide_highlight_proposal(
    project: Identifier, body: HighlightDecisionIn, store: StoreDep, who: Reviewer
) -> HighlightDecisionOut:
    """A reviewer accepts (with a corrected wording, `text`, if the recognizer got it wrong)
    or rejects a proposed highlight or a library line; a new decision on the same line
    replaces the old. Accepted proposals join the highlight library, rejected lines leave it."""
    _known(store, project)
    with store.session() as s:
        return HighlightDecisionOut.model_validate(decide_highlight(s, project, body, who.shown))


@router.get(
    "/{project}/wrapup",
    response_model=WrapupReport,
    response_model_exclude_unset=True,
    responses={200: {"content": {"text/markdown": {}}}},
)
def wrapup(
    project: Identifier,
    store: StoreDep,
    _: Viewer,
    format: str = Query("json", json_schema_extra={"enum": ["json", "markdown"]}),
) -> WrapupReport | PlainTextResponse:
    """项目总结, the project wrap-up: KPIs over the whole run, the guide map as it ended,
    common errors with their trend, highlight scripts, refusal reasons, product-fact
    violations. `format=markdown` for the Markdown text (`qa-service wrapup` saves both)."""
    if format not in ("json", "markdown"):
        raise BadInput(message("format must be {a} or {b}", a="json", b="markdown"))
    report = make_wrapup(store, project)
    if format == "markdown":
        return PlainTextResponse(to_markdown(report), media_type="text/markdown; charset=utf-8")
    return report


class ScriptRequest(BaseModel):
    script: str = Field(
        min_length=1,
        max_length=1_000_000,
        description="the outbound script the agents read: Markdown or plain text, within the "
        "audit's limits (QA_AUDIT_MAX_CHARS, QA_AUDIT_MAX_LINES, QA_AUDIT_MAX_LINE_CHARS)",
    )
    name: str = Field(default="script", max_length=200)
    rubric_id: Identifier | None = Field(
        default=None, description="default: the project's active rubric"
    )
    rubric_version: int | None = Field(default=None, ge=1, le=MAX_INT)
    type: Literal["marketing", "survey", "care", "营销", "调查", "关怀"] | None = None


class StoredScript(Schema):
    project: str
    version: int
    clean: bool
    rubric: RubricRef
    knowledge_base: VersionRef | None
    """The stored knowledge-base version it was audited with."""
    audit: AuditReport


def _rubric_key(store, project: str) -> tuple[str, int] | None:
    active = store.rubrics.active_in(project)
    if active is not None:
        return active.rubric_id, active.version
    return store.read(project_rubric_key, project)


@router.post("/{project}/script", status_code=201, response_model=StoredScript)
def store_script(
    project: Identifier,
    body: ScriptRequest,
    store: StoreDep,
    settings: SettingsDep,
    who: Manager,
) -> StoredScript:
    """Audit the project's outbound script (试呼前评估核查) with its rubric and the knowledge-base
    version the project runs, and store both as the project's next script version (三统一).
    Stored whether it passes or not: activation warns while it does not."""
    check_size_within(body.script, body.name, settings)
    if body.rubric_id is not None:
        version = body.rubric_version or store.rubrics.newest_version(body.rubric_id)
        if version is None:
            raise RubricNotFound(message("rubric {rubric} is not stored", rubric=body.rubric_id))
        key: tuple[str, int] | None = (body.rubric_id, version)
    else:
        key = _rubric_key(store, project)
    if key is None:
        raise BadInput(
            message(
                "rubric_id: none given and project {project} has no active rubric",
                project=repr(project),
            )
        )
    rubric = store.rubrics.load(*key, project=project)
    kb = knowledge_of(rubric)
    report = audit(parse_script(body.script, body.name), rubric, kb, body.type)
    kb_ref = (
        (rubric.knowledge.id, rubric.knowledge_version)
        if rubric.knowledge is not None and rubric.knowledge_version
        else None
    )
    row = store.knowledge.save_script(
        project,
        body.name,
        body.script,
        rubric,
        kb_ref,
        report.model_dump(mode="json"),
        report.clean,
        who.name,
    )
    return StoredScript(
        project=project,
        version=row.version,
        clean=row.clean,
        rubric=RubricRef(id=rubric.id, version=rubric.version),
        knowledge_base=VersionRef(id=kb_ref[0], version=kb_ref[1]) if kb_ref else None,
        audit=report,
    )


@router.get("/{project}/setup", response_model=ProjectSetup)
def setup(project: Identifier, store: StoreDep, _: Viewer) -> ProjectSetup:
    """三统一: the script (with its audit's verdict), the rubric version and the knowledge-base
    version the project runs, and what does not line up."""
    _known(store, project)
    return project_setup(store, project, _rubric_key(store, project))


@router.post("/{project}/from-wrapup/{source}", status_code=201, response_model=CarriedOver)
def start_from_wrapup(
    project: Identifier, source: Identifier, store: StoreDep, who: Manager
) -> CarriedOver:
    """Start a new project from an earlier one's wrap-up (下一个项目从上一个开始): its highlight
    scripts, common errors, refusal reasons, product facts agents got wrong and every other
    list the wrap-up has (customers' questions ...) are kept with `project` and shown on its
    trial page. Doing it again replaces what was carried over."""
    if project == source:
        raise BadInput(message("project: a project cannot start from its own wrap-up"))
    carried = carry_over(make_wrapup(store, source), project, utcnow())
    with store.session() as s:
        row = s.get(ProjectCarryover, project) or ProjectCarryover(
            project=project, source_project=source
        )
        row.source_project, row.created_by, row.created_at = source, who.name, utcnow()
        row.body = carried.model_dump(mode="json")
        s.add(row)
        s.commit()
    return carried


@router.get("/{project}/carried-over", response_model=CarriedOver)
def carried_over(project: Identifier, store: StoreDep, _: Viewer) -> CarriedOver:
    """What the project started from (POST /projects/{project}/from-wrapup/{source})."""
    with store.session() as s:
        row = s.get(ProjectCarryover, project)
        if row is None:
            raise NotFound(
                message(
                    "project {project} did not start from another project's wrap-up",
                    project=repr(project),
                )
            )
        return CarriedOver.model_validate(row.body)
