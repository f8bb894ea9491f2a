"""Hourly bulletins (整点通报) of projects in their first day, one per project and hour."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from qa_service.storage.tables import Bulletin, utcnow


class Bulletins:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def save(self, project: str, hour: datetime, hours: int, body: dict[str, Any]) -> Bulletin:
        """Stored once per project and hour: a run again for the same hour replaces it."""
        with self.session() as s:
            row = s.exec(
                select(Bulletin).where(Bulletin.project == project, Bulletin.hour == hour)
            ).first() or Bulletin(project=project, hour=hour, hours_since_launch=hours)
            row.hours_since_launch, row.body, row.created_at = hours, body, utcnow()
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def of_project(self, project: str, limit: int = 24) -> list[Bulletin]:
        """The project's bulletins, newest first."""
        with self.session() as s:
            return list(
                s.exec(
                    select(Bulletin)
                    .where(Bulletin.project == project)
                    .order_by(Bulletin.hour.desc())
                    .limit(limit)
                ).all()
            )

    def since(self, hour: datetime) -> list[Bulletin]:
        """Every bulletin of an hour from `hour` on, newest first."""
        with self.session() as s:
            return list(
                s.exec(
                    select(Bulletin)
                    .where(Bulletin.hour >= hour)
                    .order_by(Bulletin.hour.desc(), Bulletin.project)
                ).all()
            )
