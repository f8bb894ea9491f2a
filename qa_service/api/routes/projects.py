from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from sqlmodel import select

from qa_service.api.deps import Identifier, Reviewer, StoreDep, Viewer
from qa_service.api.errors import MAX_INT
from qa_service.domain.enums import Phase
from qa_service.exceptions import BadInput, NotFound, RubricNotFound
from qa_service.metrics.models import (
    HighlightDecisionIn,
    HighlightDecisionOut,
    InflightReport,
    TrialReport,
    WrapupReport,
)
from qa_service.metrics.reports import (
    decide_highlight,
    highlight_decisions,
    inflight_report,
    trial_report,
)
from qa_service.metrics.wrapup import project_rubric_key, to_markdown
from qa_service.metrics.wrapup import wrapup as make_wrapup
from qa_service.storage.tables import ActiveRubric, Recording

router = APIRouter(prefix="/projects", tags=["reports"])


def _known(store, project: str) -> None:
    """A project exists once it has a recording or an active rubric: else 404 for every report."""
    with store.session() as s:
        if (
            s.get(ActiveRubric, project) is None
            and s.exec(select(Recording.id).where(Recording.project == project).limit(1)).first()
            is None
        ):
            raise NotFound(f"no project {project!r}: no recordings and no active rubric")


@router.get("/{project}/trial", response_model=TrialReport)
def trial(
    project: Identifier,
    store: StoreDep,
    _: Viewer,
    rubric_id: Identifier | None = None,
    version: int | None = Query(None, ge=1, le=MAX_INT),
    phase: Phase | None = Phase.TRIAL,
) -> TrialReport:
    """试呼 report: refusal reasons, the guide map (引导地图) and the highlight-script library;
    read with the rubric given, else the project's active one, else the one most of its calls
    were scored with (a project scored with the CLI has no active rubric)."""
    _known(store, project)
    rubric = _rubric_of(store, project, rubric_id, version)
    if rubric is None:
        raise BadInput(f"no rubric given, none active and no scored calls in {project!r}")
    return store.read(trial_report, rubric, project, phase or None)


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
    return store.rubrics.load(rubric_id, version or 1)


@router.get("/{project}/inflight", response_model=InflightReport)
def inflight(project: Identifier, store: StoreDep, _: Viewer) -> InflightReport:
    """The first 2, 4 and 6 hours of production calls (上线跟踪), with the customers'
    questions and refusals of the first 6 hours (read with the project's rubric)."""
    _known(store, project)
    try:
        rubric = _rubric_of(store, project, None, None)
    except RubricNotFound:
        rubric = None  # calls scored with a rubric file never stored: no customers' words
    return store.read(inflight_report, project, rubric=rubric)


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
        raise BadInput("format must be json or markdown")
    report = make_wrapup(store, project)
    if format == "markdown":
        return PlainTextResponse(to_markdown(report), media_type="text/markdown; charset=utf-8")
    return report
