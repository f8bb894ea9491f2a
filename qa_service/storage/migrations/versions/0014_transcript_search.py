"""search across calls' transcripts

PostgreSQL: an expression GIN index over each utterance's character bigrams
(qa_bigrams(text), a tsvector of its lower-cased two-character pieces), so a Chinese word of
two characters or more finds its utterances without reading every transcript (pg_trgm's
trigrams cannot serve the two-character words most searches are). SQLite: no index, the
search reads the transcripts (LIKE); SQLite serves the small installations. No table changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# IMMUTABLE (the same text, the same bigrams) so it may index; not inlinable (it has a FROM),
# so queries name it as the index does; costly to the planner, so it reads the index rather
# than computing the function row by row.
BIGRAMS = """
CREATE OR REPLACE FUNCTION qa_bigrams(t text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
  SELECT coalesce(array_to_tsvector(array_agg(DISTINCT substr(lower(t), i, 2))), ''::tsvector)
  FROM generate_series(1, length(t) - 1) AS i
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BIGRAMS)
    op.execute("CREATE INDEX ix_utterance_text_bigrams ON utterance USING gin (qa_bigrams(text))")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_utterance_text_bigrams")
    op.execute("DROP FUNCTION IF EXISTS qa_bigrams(text)")
