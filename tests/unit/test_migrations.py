"""The migrations make exactly the schema the models describe (Alembic's autogenerate finds
nothing to add, drop or change after upgrading an empty SQLite database to head)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import qa_service.storage.tables  # noqa: F401  (the models on SQLModel.metadata)
from qa_service.storage.migrate import upgrade


def test_head_is_the_models_schema(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": True})
        diffs = compare_metadata(context, SQLModel.metadata)
    assert diffs == [], diffs
