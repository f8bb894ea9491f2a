"""recordings keep their recognition warnings

Where recognition may have lost words (a window short of words after every fallback, a
channel with far fewer utterances than speech chunks) was only logged; it is now stored with
the recording, shown in the result and the API, and the call's evaluations are flagged.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recording") as batch:
        # existing transcripts: no warning was recorded
        batch.add_column(
            sa.Column("asr_warnings", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("recording") as batch:
        batch.drop_column("asr_warnings")
