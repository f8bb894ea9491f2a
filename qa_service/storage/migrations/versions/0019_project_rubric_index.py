"""which rubric a project's calls were scored with, from an index alone

The trial, in-flight and wrap-up reports of a project with no active rubric read it with the
rubric most of its current calls were scored with (metrics.wrapup.project_rubric_key): a count
per (rubric, version) over every current call of the project, which read the table's rows
(decision 0027). This index answers it with an index-only scan.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evaluation_current_project_rubric",
            ["project", "rubric_id", "rubric_version"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_current_project_rubric")
