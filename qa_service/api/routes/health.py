import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from qa_service.api.deps import DispatcherDep, StoreDep
from qa_service.api.errors import DATABASE_UNAVAILABLE, database_unavailable
from qa_service.api.schemas import Health

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "a dependency is down (named)"}},
)
def health(store: StoreDep, dispatcher: DispatcherDep) -> Health | JSONResponse:
    """No key needed: for load balancers and orchestration. `unavailable` names what is
    down: the database makes it a 503; Redis alone is `degraded` (uploads are kept)."""
    out = Health(status="ok", database=store.engine.dialect.name, queue=dispatcher.mode)
    down = []
    try:
        store.ping()
    except DBAPIError as exc:
        # no host or port to an unauthenticated caller: the reason is in the log
        log.warning("health: %s", database_unavailable(exc))
        out.database = f"{store.engine.dialect.name}: {DATABASE_UNAVAILABLE}"
        down.append("database")
    if dispatcher.mode == "rq":
        try:
            dispatcher.redis.ping()
            out.redis = "ok"
        except Exception as exc:
            out.redis = f"unavailable: {exc.__class__.__name__}"
            down.append("redis")
    if down:
        out.unavailable, out.detail = down, f"{' and '.join(down)} unavailable"
    if "database" in down:
        out.status = "unavailable"
        return JSONResponse(out.model_dump(mode="json", exclude_none=True), status_code=503)
    # Redis away: uploads are still kept (pending) and queued when it is back, so the
    # service stays in rotation, degraded
    if down:
        out.status = "degraded"
    return out
