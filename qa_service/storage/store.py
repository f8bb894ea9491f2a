"""The store: the one way to the database. `Store` opens it (one engine per URL, the schema
checked at head) and holds a repository per stored noun: `store.recordings`, `store.rubrics`,
`store.evaluations`, `store.jobs`, `store.keys`. The rest of the service calls these instead
of writing its own queries; what a change means beyond its rows (which evaluation is current,
reviews laid over a new result) is decided in app/."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from qa_service.config import get_settings
from qa_service.storage.migrate import require_head, upgrade
from qa_service.storage.repositories.bulletins import Bulletins
from qa_service.storage.repositories.evaluations import Evaluations
from qa_service.storage.repositories.jobs import Jobs
from qa_service.storage.repositories.keys import ApiKeys
from qa_service.storage.repositories.knowledge import KnowledgeBases
from qa_service.storage.repositories.people import People
from qa_service.storage.repositories.recordings import Recordings
from qa_service.storage.repositories.rubrics import Rubrics

T = TypeVar("T")


_engines: dict[str, Engine] = {}


def get_engine(url: str) -> Engine:
    """One engine per URL and process; SQLite gets a busy timeout so workers can share it.

    A server database keeps QA_DB_POOL connections open, as many as the API's threads use at
    once, so that busy minutes reuse them instead of connecting and closing overflow ones. No
    ping before each use (a round trip per query): a connection found dead fails its request
    (503) and makes the pool drop every connection opened before it, so one request, not every
    pooled connection, pays for a database restart."""
    if url not in _engines:
        kwargs: dict = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            size = get_settings().db_pool
            kwargs.update(pool_size=size, max_overflow=size, pool_recycle=3600)
            workers = get_settings().db_parallel_workers
            if workers is not None:  # PostgreSQL's parallel query per gather, for this process
                kwargs["connect_args"] = {
                    "options": f"-c max_parallel_workers_per_gather={workers}"
                }
        _engines[url] = create_engine(url, **kwargs)
    return _engines[url]


class Store:
    """Opening a store checks the schema: at head, or refused (SchemaNotCurrent) with what to
    run. `migrate=True` upgrades first (Alembic, never create_all): for `qa-service migrate`
    and the one-process commands; None follows QA_AUTO_MIGRATE (development, tests)."""

    def __init__(self, url: str, migrate: bool | None = None):
        self.url = url
        self.engine = get_engine(url)
        if migrate if migrate is not None else get_settings().auto_migrate:
            upgrade(self.engine)
        require_head(self.engine)
        self.recordings = Recordings(self.session)
        self.rubrics = Rubrics(self.session)
        self.knowledge = KnowledgeBases(self.session)
        self.bulletins = Bulletins(self.session)
        self.evaluations = Evaluations(self.session)
        self.jobs = Jobs(self.session)
        self.keys = ApiKeys(self.session)
        self.people = People(self.session)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def read(self, query: Callable[..., T], *args, **kwargs) -> T:
        """Run a query of the metrics modules (kpis.py, reports.py: functions of a session)
        in a session of its own."""
        with self.session() as s:
            return query(s, *args, **kwargs)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("select 1"))

    def count(self, model: type[SQLModel]) -> int:
        with self.session() as s:
            return s.exec(select(func.count()).select_from(model)).one()
