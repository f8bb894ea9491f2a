"""Demo keys for `make demo`: one per role, made afresh each time (earlier demo keys are
revoked), in the demo's own database only."""

from __future__ import annotations

from sqlalchemy import false
from sqlmodel import select

from qa_service.app.keys import ROLES, create_key
from qa_service.domain.enums import SCOPED_ROLES
from qa_service.storage.store import Store
from qa_service.storage.tables import ApiKey

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
