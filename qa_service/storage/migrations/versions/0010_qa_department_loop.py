"""the QA department's loop

People who sign in (app_user, argon2 password hashes) with roles, teams (team_member), API
keys that belong to a person (api_key.user_id), signed-out web sessions (ended_session);
agents' appeals (appeal) whose rulings are reviews (review.appeal_id), agents' 已阅
(acknowledgement); sampling plans (sampling_plan) and the review tasks they make
(review_task); calibration sessions (calibration_session, calibration_score). New tables and
two nullable columns: nothing existing changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("agent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_user_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_app_user_name"), ["name"], unique=True)
        batch_op.create_index(batch_op.f("ix_app_user_team"), ["team"], unique=False)

    op.create_table(
        "calibration_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rubric_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("hide_machine", sa.Boolean(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("evaluation_ids", sa.JSON(), nullable=False),
        sa.Column("reviewers", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "ended_session",
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    with op.batch_alter_table("ended_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ended_session_until"), ["until"], unique=False)

    op.create_table(
        "sampling_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("reviewers", sa.JSON(), nullable=False),
        sa.Column("seed", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("due_hours", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sampling_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sampling_plan_project"), ["project"], unique=False)

    op.create_table(
        "team_member",
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("agent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("team", "agent_id"),
    )
    with op.batch_alter_table("team_member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_member_agent_id"), ["agent_id"], unique=False)

    op.create_table(
        "calibration_score",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("rule_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["calibration_session.id"],
        ),
        sa.PrimaryKeyConstraint("session_id", "evaluation_id", "reviewer", "rule_id"),
    )
    op.create_table(
        "acknowledgement",
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recording.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("recording_id", "user_id"),
    )
    op.create_table(
        "appeal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("rubric_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rubric_version", sa.Integer(), nullable=False),
        sa.Column("agent_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rule_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("start", sa.Float(), nullable=True),
        sa.Column("end", sa.Float(), nullable=True),
        sa.Column("contested_value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("contested_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("assigned_to", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("assigned_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.Column("ruling_comment", sa.Text(), nullable=False),
        sa.Column("ruled_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("ruled_at", sa.DateTime(), nullable=True),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("seen_at", sa.DateTime(), nullable=True),
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
    with op.batch_alter_table("appeal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appeal_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeal_assigned_to"), ["assigned_to"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_appeal_evaluation_id"), ["evaluation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_appeal_project"), ["project"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeal_recording_id"), ["recording_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeal_state"), ["state"], unique=False)
        batch_op.create_index("ix_appeal_state_filed", ["state", "filed_at"], unique=False)

    op.create_table(
        "review_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("agent_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("called_at", sa.DateTime(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("run", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("assignee", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
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
    with op.batch_alter_table("review_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_task_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index("ix_review_task_assignee_state", ["assignee", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_task_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            "ix_review_task_project_done", ["project", "state", "called_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_review_task_recording_id"), ["recording_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_review_task_state"), ["state"], unique=False)

    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_key_user_id"), ["user_id"], unique=False)
        batch_op.create_foreign_key("fk_api_key_user_id", "app_user", ["user_id"], ["id"])

    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("appeal_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_review_appeal_id"), ["appeal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_appeal_id"))
        batch_op.drop_column("appeal_id")

    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_constraint("fk_api_key_user_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_key_user_id"))
        batch_op.drop_column("user_id")

    with op.batch_alter_table("review_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_task_state"))
        batch_op.drop_index(batch_op.f("ix_review_task_recording_id"))
        batch_op.drop_index("ix_review_task_project_done")
        batch_op.drop_index(batch_op.f("ix_review_task_plan_id"))
        batch_op.drop_index("ix_review_task_assignee_state")
        batch_op.drop_index(batch_op.f("ix_review_task_agent_id"))

    op.drop_table("review_task")
    with op.batch_alter_table("appeal", schema=None) as batch_op:
        batch_op.drop_index("ix_appeal_state_filed")
        batch_op.drop_index(batch_op.f("ix_appeal_state"))
        batch_op.drop_index(batch_op.f("ix_appeal_recording_id"))
        batch_op.drop_index(batch_op.f("ix_appeal_project"))
        batch_op.drop_index(batch_op.f("ix_appeal_evaluation_id"))
        batch_op.drop_index(batch_op.f("ix_appeal_assigned_to"))
        batch_op.drop_index(batch_op.f("ix_appeal_agent_id"))

    op.drop_table("appeal")
    op.drop_table("acknowledgement")
    op.drop_table("calibration_score")
    with op.batch_alter_table("team_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_member_agent_id"))

    op.drop_table("team_member")
    with op.batch_alter_table("sampling_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sampling_plan_project"))

    op.drop_table("sampling_plan")
    with op.batch_alter_table("ended_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ended_session_until"))

    op.drop_table("ended_session")
    op.drop_table("calibration_session")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_team"))
        batch_op.drop_index(batch_op.f("ix_app_user_name"))
        batch_op.drop_index(batch_op.f("ix_app_user_agent_id"))

    op.drop_table("app_user")
