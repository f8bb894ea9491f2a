"""reviews that stick

Reviews belong to the recording and the rule (rubric id, rule id, time span), no longer to a
finding row: the review table is rebuilt without its foreign key to `finding` (rescoring
deletes finding rows; on PostgreSQL that foreign key made every rescoring of a reviewed call
fail), and old reviews are converted (recording, rubric, rule and category from the rows they
pointed at). Evaluations get the reviewed score and fatal flag and a needs-re-review count;
findings the deduction under the reviewed status, their source (machine or reviewer) and the
deciding review; jobs the recording and evaluation they produced.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "review_v2",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("rubric_id", TEXT(), nullable=False),
        sa.Column("rubric_version", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("target", TEXT(), nullable=False),
        sa.Column("action", TEXT(), nullable=False),
        sa.Column("rule_id", TEXT(), nullable=True),
        sa.Column("category", TEXT(), nullable=True),
        sa.Column("start", sa.Float(), nullable=True),
        sa.Column("end", sa.Float(), nullable=True),
        sa.Column("machine_value", TEXT(), nullable=True),
        sa.Column("old_value", TEXT(), nullable=False),
        sa.Column("new_value", TEXT(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("evidence_text", sa.Text(), nullable=False),
        sa.Column("reviewer", TEXT(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("withdrawn_by", TEXT(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdraw_comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recording.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    # Old reviews: the evaluation gives recording and rubric; the finding (where it still
    # exists: on SQLite rescoring deleted them) gives rule and category.
    op.execute(
        "INSERT INTO review_v2 (id, recording_id, rubric_id, rubric_version, evaluation_id, target,"
        " action, rule_id, category, machine_value, old_value, new_value, comment, evidence_text,"
        " reviewer, created_at, withdraw_comment)"
        " SELECT r.id, e.recording_id, e.rubric_id, e.rubric_version, r.evaluation_id, r.target,"
        " r.action, f.rule_id, f.category,"
        " CASE WHEN r.target = 'grade' THEN e.grade ELSE f.status END,"
        " r.old_value, r.new_value, r.comment, '', r.reviewer, r.created_at, ''"
        " FROM review r JOIN evaluation e ON e.id = r.evaluation_id"
        " LEFT JOIN finding f ON f.id = r.finding_id"
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_evaluation_id"))
    op.drop_table("review")
    op.rename_table("review_v2", "review")
    if op.get_bind().dialect.name == "postgresql":  # the id sequence goes on after the old ids
        op.execute("ALTER SEQUENCE review_v2_id_seq RENAME TO review_id_seq")
        op.execute(
            "SELECT setval('review_id_seq', COALESCE((SELECT MAX(id) FROM review), 0) + 1, false)"
        )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_recording_rubric", ["recording_id", "rubric_id"], unique=False
        )

    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_fatal", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("needs_rereview", sa.Integer(), nullable=False, server_default="0")
        )

    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_deduction", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("source", TEXT(), nullable=False, server_default="machine"))
        batch_op.add_column(sa.Column("review_id", sa.Integer(), nullable=True))

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recording_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("evaluation_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("evaluation_id")
        batch_op.drop_column("recording_id")

    op.execute("DELETE FROM finding WHERE source = 'reviewer'")
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_column("review_id")
        batch_op.drop_column("source")
        batch_op.drop_column("reviewed_deduction")

    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_column("needs_rereview")
        batch_op.drop_column("reviewed_fatal")
        batch_op.drop_column("reviewed_score")

    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index("ix_review_recording_rubric")
    op.rename_table("review", "review_v4")
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("reviewer", TEXT(), nullable=False),
        sa.Column("target", TEXT(), nullable=False),
        sa.Column("action", TEXT(), nullable=False),
        sa.Column("old_value", TEXT(), nullable=False),
        sa.Column("new_value", TEXT(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["finding.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        "INSERT INTO review (id, evaluation_id, reviewer, target, action, old_value,"
        " new_value, comment, created_at) SELECT id, evaluation_id, reviewer, target,"
        " CASE WHEN action = 'add' THEN 'override' ELSE action END, old_value, new_value,"
        " comment, created_at FROM review_v4 WHERE withdrawn_at IS NULL"
    )
    op.drop_table("review_v4")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_evaluation_id"), ["evaluation_id"], unique=False
        )
