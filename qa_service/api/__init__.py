"""The QA API (FastAPI): routes per resource, dependencies for the store and the caller."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Optional

from fastapi import FastAPI

from qa_service.config import Settings, get_settings
from qa_service.dispatch import Dispatcher, InlineDispatcher, RqDispatcher
from qa_service.store import Store


def make_dispatcher(settings: Settings, store: Store) -> Dispatcher:
    from qa_service import jobs
    if settings.redis_url:
        from redis import Redis
        return RqDispatcher(store, Redis.from_url(settings.redis_url, socket_timeout=5,
                                                  socket_connect_timeout=2))
    jobs.configure(settings)  # embedded: this process runs the jobs on the same database
    return InlineDispatcher(store)


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = Store(settings.database_url)
        app.state.settings = settings
        app.state.store = store
        app.state.dispatcher = make_dispatcher(settings, store)
        try:
            yield
        finally:
            app.state.dispatcher.close()

    app = FastAPI(title="qa-service", version="0.1.0", lifespan=lifespan,
                  description="Speech-analytics QA for outbound telemarketing calls (Mandarin).")
    from qa_service.api.routes import evaluations, health, jobs, kpis, projects, recordings, rubrics
    for module in (health, rubrics, recordings, evaluations, jobs, kpis, projects):
        app.include_router(module.router)
    from qa_service.web import mount
    mount(app, settings.session_secret)  # the web app: pages, static files, session cookie
    return app
