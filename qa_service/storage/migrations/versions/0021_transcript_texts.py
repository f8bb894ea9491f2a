"""transcript texts

The prepared texts of each stored transcript (normalized, as said, pinyin; one row per
recording), so that rescoring reads them instead of preparing every utterance again
(decision 0032). Recordings stored before have none: a rescore prepares and stores them.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcript_texts",
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("form", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("texts", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["recording_id"], ["recording.id"]),
        sa.PrimaryKeyConstraint("recording_id"),
    )


def downgrade() -> None:
    op.drop_table("transcript_texts")
