"""Demo keys for `make demo`: one per role, made afresh each time (earlier demo keys are
revoked), in the demo's own database only."""

from __future__ import annotations

import secrets as random_secrets

from sqlalchemy import false, func
from sqlmodel import select

from qa_service.app.keys import ROLES, create_key
from qa_service.app.people import create_user, set_password
from qa_service.domain.enums import SCOPED_ROLES
from qa_service.storage.store import Store
from qa_service.storage.tables import ApiKey, Evaluation

PREFIX = "demo-"


def make_demo_keys(store: Store) -> dict[str, str]:
    with store.session() as s:
        for key in s.exec(
            select(ApiKey).where(ApiKey.name.startswith(PREFIX), ApiKey.revoked == false())
        ):
            key.revoked = True
            s.add(key)
        s.commit()
    # agents and team leads see their own calls: they sign in as people, not with a key
    staff = [role for role in ROLES if role not in SCOPED_ROLES]
    return {role: create_key(store, role, PREFIX + role)[1] for role in staff}


def make_demo_people(store: Store) -> dict[str, tuple[str, str]]:
    """One person per role that signs in with a password (fresh each time, printed by `serve
    --demo-keys`): the agent is the sample calls' busiest agent, the team lead leads them all.
    Returns {role: (name, password)}."""
    with store.session() as s:
        agents = [
            a
            for a, _ in s.exec(
                select(Evaluation.agent_id, func.count())
                .where(Evaluation.is_current, Evaluation.agent_id.is_not(None))
                .group_by(Evaluation.agent_id)
                .order_by(func.count().desc(), Evaluation.agent_id)
            ).all()
        ]
    store.people.set_team("demo", agents)
    out = {}
    for role, extra in (
        ("manager", {}),
        ("reviewer", {}),
        ("team_lead", {"team": "demo"}),
        ("agent", {"agent_id": agents[0] if agents else "A001"}),
    ):
        name, password = PREFIX + role, random_secrets.token_urlsafe(9)
        user = store.people.by_name(name)
        if user is None:
            create_user(store, name, password, role, **extra)
        else:
            set_password(store, user, password)
        out[role] = (name, password)
    return out
