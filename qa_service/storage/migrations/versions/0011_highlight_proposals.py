"""highlight proposals

Reviewers' decisions on highlight lines (亮点话术) of a project: lines agents invented that
the trial report proposes, and library lines, accepted (with a corrected wording) or
rejected. One new table: nothing existing changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "highlight_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("asr_text", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lift", sa.Float(), nullable=True),
        sa.Column("calls", sa.Integer(), nullable=True),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project", "key", name="uq_highlight_proposal_key"),
    )


def downgrade() -> None:
    op.drop_table("highlight_proposal")
