"""calls with no speech are not graded

A recording with no speech to judge (silence, noise, a dead line) was graded fail with every
script section missed and counted in the KPIs. It now gets the grade `no_speech` (the grade
column is text: no schema change there), which the KPIs leave out and count on their own: the
KPI rollups gain a `no_speech` column. Existing evaluations have no such grade, so 0 is right
for every existing cell; rescoring such a recording moves it from the KPIs to this count.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("kpi_rollup", "kpi_rollup_project")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("no_speech", sa.Integer(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("no_speech")
