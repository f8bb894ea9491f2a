"""Schema migrations (Alembic), run by `qa-service migrate` and on opening a Store."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session

from qa_service.rollup import rebuild

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
        if cfg.attributes.get("rebuild_rollups") and revision == "head":
            with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
                rebuild(session)
                session.commit()  # releases the savepoint; the transaction commits it all
