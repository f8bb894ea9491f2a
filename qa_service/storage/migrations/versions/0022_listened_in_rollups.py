"""listened calls in the KPI rollups

监听合格率 (the pass rate of the calls people listened to) was counted on every request by
joining the period's evaluations with the done review tasks and grouping them in Python: at 5M
evaluations with 2 % of calls listened that took most of a second per KPI request. The KPI
rollups gain `listened` and `listened_passed`, kept like their other sums; the calls listened
to before this revision are added to them once the schema is at head (storage/migrate.py).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TABLES = ("kpi_rollup", "kpi_rollup_project")
COLUMNS = ["listened", "listened_passed"]
SUMS = ["evaluated", "passed", "excellent", "success", "fatal", "talk_seconds", "no_speech"]
# The agent tier's covering indexes (0017) carry every sum, so that KPI queries by agent stay
# index-only reads: they gain the new ones.
INDEXES = (
    ("ix_kpi_rollup_project_agent_hour", ["project", "agent_id", "hour"], ["rubric_id", "phase"]),
    ("ix_kpi_rollup_agent_hour", ["agent_id", "hour"], ["rubric_id", "project", "phase"]),
)


def _indexes(sums: list[str]) -> None:
    with op.batch_alter_table("kpi_rollup") as batch:
        for name, columns, carried in INDEXES:
            batch.drop_index(name)
            batch.create_index(name, columns, unique=False, postgresql_include=carried + sums)


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column in COLUMNS:
                batch.add_column(
                    sa.Column(column, sa.Integer(), nullable=False, server_default="0")
                )
    _indexes(SUMS + COLUMNS)
    context.config.attributes["add_listened"] = True


def downgrade() -> None:
    _indexes(SUMS)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column in COLUMNS:
                batch.drop_column(column)
