"""call times in UTC

One clock: every stored time is naive UTC. Recording call times were stored as the call
center's wall-clock time (QA_TIMEZONE): they are converted to UTC with the QA_TIMEZONE set
when this migration runs (default Asia/Shanghai; set it first if the call center is
elsewhere). Evaluations' called_at is copied again from the recording (its call time, else
when it was stored, UTC), and the KPI and common-error rollups are rebuilt, keyed by the call
center's hour and day computed from UTC (qa_service.storage.migrate.upgrade runs the rebuild).

Converted in Python, not SQL, so that SQLite and PostgreSQL read a wall-clock time the same
way (zoneinfo; an hour repeated when clocks go back is its first occurrence).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CHUNK = 5000
recording = sa.table("recording", sa.column("id", sa.Integer), sa.column("call_time", sa.DateTime))


def _zone() -> ZoneInfo:
    from qa_service.config import get_settings

    return get_settings().zone


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def _to_local(utc: datetime, zone: ZoneInfo) -> datetime:
    return utc.replace(tzinfo=timezone.utc).astimezone(zone).replace(tzinfo=None)


def _convert_call_times(convert) -> None:
    """Every recording's call time through `convert`, in chunks of CHUNK rows (by id)."""
    bind, last = op.get_bind(), 0
    update = (
        sa.update(recording)
        .where(recording.c.id == sa.bindparam("row_id"))
        .values(call_time=sa.bindparam("new_time"))
    )
    while True:
        rows = bind.execute(
            sa.select(recording.c.id, recording.c.call_time)
            .where(recording.c.call_time.is_not(None), recording.c.id > last)
            .order_by(recording.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        bind.execute(update, [{"row_id": rid, "new_time": convert(t)} for rid, t in rows])
        last = rows[-1][0]


def _copy_called_at(created: str) -> None:
    op.execute(
        "UPDATE evaluation SET called_at = (SELECT COALESCE(r.call_time, "
        f"{created}) FROM recording r WHERE r.id = evaluation.recording_id)"
    )


def upgrade() -> None:
    zone = _zone()
    _convert_call_times(lambda t: _to_utc(t, zone))
    _copy_called_at("r.created_at")
    context.config.attributes["rebuild_rollups"] = True


def downgrade() -> None:
    # Back to wall-clock call times. called_at of calls without a call time was the storing
    # time in the call center's zone: close enough to take the UTC storing time (the 0006 code
    # reads it only for KPIs, which `qa-service rebuild-rollups` recomputes).
    zone = _zone()
    _convert_call_times(lambda t: _to_local(t, zone))
    _copy_called_at("r.created_at")
