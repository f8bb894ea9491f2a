"""Schema migrations (Alembic). The schema is migrated once, on purpose: `qa-service migrate`
(the image runs it before the API starts), or by the one-process commands run by hand
(`score`, `demo`, embedded `serve` ...). Every other process (workers, the API with Redis)
opens the database only at head, and refuses a database behind it with what to do."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session

from qa_service.exceptions import SchemaNotCurrent
from qa_service.i18n import message
from qa_service.storage.rollups import add_listened, rebuild

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (creates the schema on an empty database).

    Backfills that need the application's models (the rollups are filled by the code that
    keeps them) are asked for by a revision through `config.attributes` and run here, in the
    same transaction, once the schema is at head: a revision's code must not read models that
    later revisions extend."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
        if revision != "head":
            return
        backfill = None
        if cfg.attributes.get("rebuild_rollups"):
            backfill = rebuild
        elif cfg.attributes.get("add_listened"):  # a rebuild counts them too
            backfill = add_listened
        if backfill is not None:
            with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
                backfill(session)
                session.commit()  # releases the savepoint; the transaction commits it all


@lru_cache
def heads() -> frozenset[str]:
    """The newest revision(s) this code ships (one, unless two branches were merged badly)."""
    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def current(engine: Engine) -> frozenset[str]:
    with engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads())


def require_head(engine: Engine) -> None:
    """Refuse, saying what to run, a database whose schema is not the one this code needs."""
    now, needed = current(engine), heads()
    if now == needed:
        return
    where = engine.url.render_as_string(hide_password=True)
    state = (
        message("at revision {revisions}", revisions=", ".join(sorted(now)))
        if now
        else message("empty (no schema)")
    )
    raise SchemaNotCurrent(
        message(
            "{where}: the database schema is {state}; this version of {product} needs "
            "{needed}. Run {command} (the image's start command does) before starting the API "
            "or workers.",
            where=where,
            state=state,
            product="qa-service",
            needed=", ".join(sorted(needed)),
            command="`qa-service migrate --db URL`",
        )
    )
