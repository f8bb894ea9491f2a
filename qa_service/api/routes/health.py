from fastapi import APIRouter

from qa_service.api.deps import DispatcherDep, StoreDep
from qa_service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, response_model_exclude_none=True)
def health(store: StoreDep, dispatcher: DispatcherDep) -> dict:
    """No key needed: for load balancers and orchestration."""
    store.ping()
    out = {"status": "ok", "database": store.engine.dialect.name, "queue": dispatcher.mode}
    if dispatcher.mode == "rq":
        try:
            dispatcher.redis.ping()
            out["redis"] = "ok"
        except Exception as exc:
            out["redis"] = f"unavailable: {exc.__class__.__name__}"
    return out
