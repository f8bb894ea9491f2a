"""statistics of a finding's effective status, for the flagged list filtered by rule

`/flagged?rule=` keeps evaluations with a costly finding of the rule (queries.costly_finding:
coalesce(reviewed_status, status) in the costly statuses). The planner guessed that expression
at a fixed small share of rows, so on a rule found in many calls it hashed every finding of the
rule before sorting, instead of walking the newest flagged calls and probing each (decision
0027). Expression statistics give it the real share. PostgreSQL only.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE STATISTICS IF NOT EXISTS st_finding_effective_status"
        " ON (coalesce(reviewed_status, status)) FROM finding"
    )
    op.execute("ANALYZE finding")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP STATISTICS IF EXISTS st_finding_effective_status")
