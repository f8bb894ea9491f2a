"""the flagged list, the review sample and per-agent KPIs from their indexes alone

At 5M evaluations the flagged list, the review sample and the KPI rollups by agent read
thousands of table rows scattered over the disk, one page each, for columns their indexes did
not carry: whether a call is flagged (grade, fatal, recognition confidence), the call time of
a sampled call, a rollup cell's sums (decision 0025). These indexes carry those columns
(PostgreSQL: INCLUDE) and end with the tie-breaks the queries order by, so PostgreSQL answers
with index-only scans in index order; on SQLite they are the same keys without the INCLUDE.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

FLAG = ["grade", "reviewed_grade", "fatal", "reviewed_fatal", "asr_confidence"]
SUMS = ["evaluated", "passed", "excellent", "success", "fatal", "talk_seconds", "no_speech"]
# (table, index, partial over current evaluations, (columns, include) after, (...) before)
CHANGED = (
    ("evaluation", "ix_evaluation_current_called", True,
     (["called_at", "id"], ["recording_id", *FLAG]), (["called_at"], [])),
    ("evaluation", "ix_evaluation_current_project_called", True,
     (["project", "called_at", "id"], ["recording_id", *FLAG]),
     (["project", "called_at", "id"], ["recording_id"])),
    ("evaluation", "ix_evaluation_current_agent_called", True,
     (["agent_id", "called_at", "id"], ["recording_id", *FLAG]),
     (["agent_id", "called_at", "id"], ["recording_id"])),
    ("evaluation", "ix_evaluation_current_project_rank", True,
     (["project", "sample_rank", "recording_id", "id"], ["called_at"]),
     (["project", "sample_rank"], [])),
    ("evaluation", "ix_evaluation_current_rank", True,
     (["sample_rank", "recording_id", "id"], ["called_at"]), (["sample_rank"], [])),
    ("finding", "ix_finding_rule_evaluation", False,
     (["rule_id", "evaluation_id"], ["status", "reviewed_status"]),
     (["rule_id", "evaluation_id"], [])),
)  # fmt: skip
ADDED = (
    ("kpi_rollup", "ix_kpi_rollup_project_agent_hour",
     (["project", "agent_id", "hour"], ["rubric_id", "phase", *SUMS])),
    ("kpi_rollup", "ix_kpi_rollup_agent_hour",
     (["agent_id", "hour"], ["rubric_id", "project", "phase", *SUMS])),
)  # fmt: skip


def _create(table: str, name: str, partial: bool, shape: tuple[list[str], list[str]]) -> None:
    where = sa.text("is_current") if partial else None
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(
            name,
            shape[0],
            unique=False,
            postgresql_where=where,
            sqlite_where=where,
            postgresql_include=shape[1],
        )


def _drop(table: str, name: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_index(name)


def upgrade() -> None:
    for table, name, partial, after, _ in CHANGED:
        _drop(table, name)
        _create(table, name, partial, after)
    for table, name, shape in ADDED:
        _create(table, name, False, shape)


def downgrade() -> None:
    for table, name, _ in ADDED:
        _drop(table, name)
    for table, name, partial, _, before in CHANGED:
        _drop(table, name)
        _create(table, name, partial, before)
