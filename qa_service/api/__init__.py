"""The QA API (FastAPI): routes per resource, dependencies for the store and the caller."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from qa_service.api import errors
from qa_service.api.routes import (
    audits,
    evaluations,
    health,
    job_status,
    kpis,
    projects,
    recordings,
    rubrics,
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
        try:
            yield
        finally:
            app.state.dispatcher.close()

    app = FastAPI(
        title="qa-service",
        version="0.1.0",
        lifespan=lifespan,
        description="Speech-analytics QA for outbound telemarketing calls (Mandarin).",
    )
    errors.install(app, int((settings.max_upload_mb + 1) * 1024 * 1024))  # + the form fields
    for module in (health, rubrics, recordings, evaluations, job_status, kpis, projects, audits):
        app.include_router(module.router)
    mount_web_app(app, settings.session_secret)  # pages, static files, the session cookie
    return app
