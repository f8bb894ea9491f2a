"""API keys as stored: the secret's sha256, never the secret (app/keys.py makes and checks them)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import bindparam
from sqlmodel import Session, select

from qa_service.storage.tables import ApiKey

_KEYS = ApiKey.__table__
_BY_HASH = select(_KEYS).where(_KEYS.c.key_hash == bindparam("key_hash"))


class ApiKeys:
    def __init__(self, session: Callable[[], Session]):
        self.session = session

    def add(self, key: ApiKey) -> ApiKey:
        with self.session() as s:
            s.add(key)
            s.commit()
            s.refresh(key)
            return key

    def all(self) -> list[ApiKey]:
        with self.session() as s:
            return list(s.exec(select(ApiKey).order_by(ApiKey.id)).all())

    def by_hash(self, key_hash: str) -> ApiKey | None:
        """Read on every request that carries a key (a revoked key answers 401 at once): one
        row by a unique index, through a bare connection rather than an ORM session."""
        with self.session() as s, s.bind.connect() as conn:
            row = conn.execute(_BY_HASH, {"key_hash": key_hash}).first()
        return ApiKey.model_validate(row._mapping) if row is not None else None

    def revoke(self, key_id: int) -> ApiKey | None:
        with self.session() as s:
            key = s.get(ApiKey, key_id)
            if key is not None:
                key.revoked = True
                s.add(key)
                s.commit()
                s.refresh(key)
            return key
