"""the flagged list filtered by rule from one index: the costly_rule table

`/flagged?rule=R` (alone, by project or by agent) walked the newest flagged calls and probed
the findings of each for one of R that costs points: some 13,000 probes for one agent, 52,000
for a common rule alone at 5M evaluations (decisions 0025, 0027). costly_rule holds one row
per current evaluation and rule that costs it points, with the evaluation's filter and flag
columns, and three indexes walk it newest first within a rule (and a project or an agent),
carrying what the list filters on (decision 0029). Filled here from the evaluations, in SQL (the
same rows storage.costly_rules.rebuild writes); storage.rollups.tracked keeps it in step.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

FLAG = ["grade", "reviewed_grade", "fatal", "reviewed_fatal", "asr_confidence"]
WALKS = (
    ("ix_costly_rule_called", []),
    ("ix_costly_rule_project_called", ["project"]),
    ("ix_costly_rule_agent_called", ["agent_id"]),
)
COLUMNS = (
    "evaluation_id, rule_id, recording_id, project, agent_id, called_at, grade, reviewed_grade,"
    " fatal, reviewed_fatal, asr_confidence"
)


def upgrade() -> None:
    op.create_table(
        "costly_rule",
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("agent_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("called_at", sa.DateTime(), nullable=False),
        sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reviewed_grade", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("fatal", sa.Boolean(), nullable=False),
        sa.Column("reviewed_fatal", sa.Boolean(), nullable=True),
        sa.Column("asr_confidence", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("evaluation_id", "rule_id"),
    )
    # each rule of a current evaluation once, however many of its findings cost points
    op.execute(
        f"INSERT INTO costly_rule ({COLUMNS})"
        " SELECT DISTINCT e.id, f.rule_id, e.recording_id, e.project, e.agent_id, e.called_at,"
        " e.grade, e.reviewed_grade, e.fatal, e.reviewed_fatal, e.asr_confidence"
        " FROM evaluation e JOIN finding f ON f.evaluation_id = e.id WHERE e.is_current"
        " AND coalesce(f.reviewed_status, f.status) IN ('missed', 'violation', 'unhandled')"
    )
    for name, lead in WALKS:  # after the rows: one sort each instead of an insert per row
        op.create_index(
            name,
            "costly_rule",
            ["rule_id", *lead, "called_at", "evaluation_id"],
            unique=False,
            postgresql_include=["recording_id", *FLAG],
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE costly_rule")


def downgrade() -> None:
    for name, _ in WALKS:
        op.drop_index(name, table_name="costly_rule")
    op.drop_table("costly_rule")
