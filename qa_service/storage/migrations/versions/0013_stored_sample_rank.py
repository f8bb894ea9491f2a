"""stored sample rank

Each evaluation keeps its call's rank in the default review sample (sampling.sample_rank with
the default seed), filled here by the same arithmetic in SQL, with indexes over the current
evaluations in that order (all calls, and per project): a sample of any percent walks an index
and stops.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from qa_service.domain.sampling import DEFAULT_SEED, SAMPLE_A, SAMPLE_B, SAMPLE_PRIME, sample_keys

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sample_rank", sa.Integer(), nullable=True))
    evaluation = sa.table("evaluation", sa.column("recording_id"), sa.column("sample_rank"))
    k1, k2 = sample_keys(DEFAULT_SEED)
    p = SAMPLE_PRIME
    x = (sa.cast(evaluation.c.recording_id, sa.BigInteger) * SAMPLE_A + k1) % p
    op.execute(evaluation.update().values(sample_rank=((x * x) % p * x % p * SAMPLE_B + k2) % p))
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evaluation_current_project_rank",
            ["project", "sample_rank"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )
        batch_op.create_index(
            "ix_evaluation_current_rank",
            ["sample_rank"],
            unique=False,
            postgresql_where=sa.text("is_current"),
            sqlite_where=sa.text("is_current"),
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_current_rank")
        batch_op.drop_index("ix_evaluation_current_project_rank")
        batch_op.drop_column("sample_rank")
