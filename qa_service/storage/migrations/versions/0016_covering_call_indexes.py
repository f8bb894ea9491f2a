"""the current evaluations of a project or an agent, newest first, from their index alone

Search across calls (review/search.py) walks the calls a project or an agent filter keeps,
newest call first, for each one's recording. The (project, called_at) and (agent_id,
called_at) indexes gave neither the order's tie-break (id) nor the recording, so the planner
read the rows of every call in the period through the called_at index, other projects' too,
and sorted them (decision 0020). These indexes end with id and carry recording_id
(PostgreSQL: INCLUDE), so the walk reads the index only, in its order; they serve every
query the old ones did.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_evaluation_current_project_called", "project"),
    ("ix_evaluation_current_agent_called", "agent_id"),
)


def _create(name: str, columns: list[str], include: list[str]) -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index(
            name,
            columns,
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
            postgresql_include=include,
        )


def upgrade() -> None:
    for name, column in INDEXES:
        with op.batch_alter_table("evaluation", schema=None) as batch_op:
            batch_op.drop_index(name)
        _create(name, [column, "called_at", "id"], ["recording_id"])


def downgrade() -> None:
    for name, column in INDEXES:
        with op.batch_alter_table("evaluation", schema=None) as batch_op:
            batch_op.drop_index(name)
        _create(name, [column, "called_at"], [])
