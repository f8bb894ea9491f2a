"""statistics of the search index: a finer sample of how common each bigram is

Search (review/search.py) asks the planner how many utterances hold a word's rarest
two-character piece to choose between the index and the walk; with the default statistics
target an uncommon piece was guessed at thousands of utterances whatever its count (decision
0020). PostgreSQL only.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER INDEX ix_utterance_text_bigrams ALTER COLUMN 1 SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER INDEX ix_utterance_text_bigrams ALTER COLUMN 1 SET STATISTICS -1")
