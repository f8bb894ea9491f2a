"""knowledge bases in the database, audited scripts, hourly bulletins

Knowledge bases are stored and versioned like rubrics (knowledge_base); a project records the
knowledge-base version it runs (active_knowledge) and the outbound scripts it runs with their
audit (project_script): with its active rubric, the three of 三统一. Hourly bulletins (整点通报)
of projects in their first day after launch are kept (bulletin), and what a new project
carried over from an earlier one's wrap-up (project_carryover). New tables only.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_base",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kb_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("product", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("yaml_text", sa.Text(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kb_id", "version"),
    )
    with op.batch_alter_table("knowledge_base", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledge_base_kb_id"), ["kb_id"], unique=False)

    op.create_table(
        "active_knowledge",
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("kb_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project"),
    )

    op.create_table(
        "project_script",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rubric_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rubric_version", sa.Integer(), nullable=False),
        sa.Column("kb_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("kb_version", sa.Integer(), nullable=True),
        sa.Column("clean", sa.Boolean(), nullable=False),
        sa.Column("audit", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project", "version"),
    )
    with op.batch_alter_table("project_script", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_script_project"), ["project"], unique=False)

    op.create_table(
        "project_carryover",
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source_project", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project"),
    )

    op.create_table(
        "bulletin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("hours_since_launch", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project", "hour"),
    )
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulletin_project"), ["project"], unique=False)


def downgrade() -> None:
    for table, index in (
        ("bulletin", "ix_bulletin_project"),
        ("project_script", "ix_project_script_project"),
        ("knowledge_base", "ix_knowledge_base_kb_id"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(index))
        op.drop_table(table)
    op.drop_table("active_knowledge")
    op.drop_table("project_carryover")
