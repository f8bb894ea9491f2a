"""People who sign in, their teams, and web sessions ended before their cookies expired."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, select

from qa_service.storage.tables import EndedSession, TeamMember, User, utcnow


class People:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def add(self, user: User) -> User:
        with self.session() as s:
            s.add(user)
            s.commit()
            s.refresh(user)
            return user

    def save(self, user: User) -> User:
        return self.add(user)

    def get(self, user_id: int) -> User | None:
        with self.session() as s:
            return s.get(User, user_id)

    def by_name(self, name: str) -> User | None:
        with self.session() as s:
            return s.exec(select(User).where(User.name == name)).first()

    def all(self) -> list[User]:
        with self.session() as s:
            return list(s.exec(select(User).order_by(User.id)).all())

    def with_role(self, *roles: str) -> list[User]:
        with self.session() as s:
            return list(
                s.exec(
                    select(User).where(User.role.in_(roles), User.active).order_by(User.name)
                ).all()
            )

    def team_agents(self, team: str) -> frozenset[str]:
        with self.session() as s:
            rows = s.exec(select(TeamMember.agent_id).where(TeamMember.team == team)).all()
        return frozenset(rows)

    def set_team(self, team: str, agent_ids: list[str]) -> None:
        """The team's agents are exactly `agent_ids` from now on."""
        with self.session() as s:
            s.exec(delete(TeamMember).where(TeamMember.team == team))
            for agent_id in dict.fromkeys(agent_ids):
                s.add(TeamMember(team=team, agent_id=agent_id))
            s.commit()

    def end_session(self, nonce: str, until: datetime) -> None:
        with self.session() as s:
            s.exec(delete(EndedSession).where(EndedSession.until < utcnow()))
            if s.get(EndedSession, nonce) is None:
                s.add(EndedSession(nonce=nonce, until=until))
            s.commit()

    def session_ended(self, nonce: str) -> bool:
        with self.session() as s:
            return s.get(EndedSession, nonce) is not None
