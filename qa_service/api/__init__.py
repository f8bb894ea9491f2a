"""The QA API (FastAPI): routes per resource, dependencies for the store and the caller."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI

from qa_service.api import contract, errors, limits, masking, throttle
from qa_service.api.routes import (
    appeals,
    audits,
    bulletins,
    calibration,
    evaluations,
    exports,
    health,
    job_status,
    knowledge,
    kpis,
    people,
    projects,
    recordings,
    rubrics,
    search,
    tasks,
)
from qa_service.api.web import mount as mount_web_app
from qa_service.app.dispatch import make_dispatcher
from qa_service.config import Settings, get_settings
from qa_service.storage.store import Store


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Embedded mode (no Redis) is one process on a laptop: it migrates its own database.
        # With Redis, `qa-service migrate` ran before (the image's start command).
        store = Store(settings.database_url, migrate=True if not settings.redis_url else None)
        app.state.settings = settings
        app.state.store = store
        app.state.dispatcher = make_dispatcher(settings, store)
        # What start-up built lives as long as the server: kept out of the collector's full
        # passes, which otherwise walk all of it and stall a request now and then (decision 0025).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # collectable again once the app is gone (tests build many)
            app.state.dispatcher.close()

    app = FastAPI(
        title="qa-service",
        version="0.1.0",
        lifespan=lifespan,
        # /docs is served by the web app from its vendored Swagger UI (api/web/pages.py)
        docs_url=None,
        redoc_url=None,
        description="Speech-analytics QA for outbound telemarketing calls (Mandarin).",
    )
    # personal numbers masked in every answer to a non-admin: first, so the innermost middleware
    masking.install(app)
    # failed API keys per client, shared by every path that checks a key (api/throttle.py)
    app.state.key_throttle = throttle.KeyThrottle.from_settings(settings)
    errors.install(app)
    modules = (
        health,
        rubrics,
        knowledge,
        recordings,
        evaluations,
        search,
        job_status,
        kpis,
        projects,
        bulletins,
        audits,
        people,
        appeals,
        tasks,
        calibration,
        exports,
    )
    # before any byte of a body is read: the caller's key, the route's body limit (api/limits.py)
    app.add_middleware(
        limits.RequestGuard,
        routes=[route for module in modules for route in module.router.routes],
        max_upload_mb=settings.max_upload_mb,
        max_json_kb=settings.max_json_kb,
    )
    for module in modules:
        # every status each route answers, with the one error body (api/contract.py)
        app.include_router(contract.document(module.router))
    mount_web_app(app, settings.session_secret)  # pages, static files, the session cookie
    return app
