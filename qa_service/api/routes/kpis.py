from fastapi import APIRouter, Query

from qa_service.api.deps import Identifier, Member, StoreDep, TimeQuery, agents_filter
from qa_service.domain.enums import Phase
from qa_service.exceptions import BadInput
from qa_service.i18n import codes, message
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.metrics.models import CommonError, KpiRow
from qa_service.storage.callrefs import name_calls
from qa_service.storage.queries import GROUPS

router = APIRouter(prefix="/kpis", tags=["kpis"])


@router.get("", response_model=list[KpiRow], response_model_exclude_none=True)
def kpis(
    store: StoreDep,
    who: Member,
    group_by: str = Query("project", json_schema_extra={"enum": list(GROUPS)}),
    project: Identifier | None = None,
    agent: Identifier | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    rubric_id: Identifier | None = None,
    phase: Phase | None = None,
) -> list[KpiRow]:
    """Machine pass rate (机器质检合格率), excellent rate (质检优秀率), success rate
    (外呼在线成功率), average talk time (项目呼出均长) and fatal count per agent, project, day,
    hour or rubric; with 监听合格率, the pass rate of the calls people listened to (review
    tasks done). Agents and team leads get their own agents' figures only."""
    if group_by not in GROUPS:
        raise BadInput(message("group_by must be one of {values}", values=codes(GROUPS)))
    return store.read(
        kpi_rows,
        group_by,
        project=project,
        agent=agent,
        since=since,
        until=until,
        rubric_id=rubric_id,
        phase=phase,
        **agents_filter(who),
    )


@router.get("/errors", response_model=list[CommonError])
def errors(
    store: StoreDep,
    who: Member,
    project: Identifier | None = None,
    agent: Identifier | None = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    limit: int = Query(20, ge=1, le=200),
) -> list[CommonError]:
    """共性错误 ranking: rule, count of calls, share, example calls (each named by its agent
    and call time: example_calls)."""
    ranking = store.read(
        common_errors,
        limit=limit,
        project=project,
        agent=agent,
        since=since,
        until=until,
        **agents_filter(who),
    )
    return store.read(name_calls, ranking)
