"""API keys: random secrets shown once, stored as sha256 (they carry 256 bits of entropy, so a
slow password hash adds nothing), each with a role."""

from __future__ import annotations

import hashlib
import secrets

from qa_service.domain.enums import ROLE_LEVEL, KeyRole
from qa_service.i18n import codes, message
from qa_service.storage.store import Store
from qa_service.storage.tables import ApiKey

ROLES = KeyRole.values()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    store: Store, role: str, name: str = "", user_id: int | None = None
) -> tuple[ApiKey, str]:
    """A new key and its secret (shown once). `user_id`: the person it acts as."""
    if role not in ROLES:
        raise ValueError(message("role must be one of {roles}", roles=codes(ROLES)))
    secret = "qa_" + secrets.token_urlsafe(32)
    key = store.keys.add(
        ApiKey(
            name=name or role,
            role=role,
            key_hash=digest(secret),
            prefix=secret[:10],
            user_id=user_id,
        )
    )
    return key, secret


def list_keys(store: Store) -> list[ApiKey]:
    return store.keys.all()


def revoke_key(store: Store, key_id: int) -> ApiKey | None:
    """Revoke a key; it answers 401 from the next request on (lookup reads the row each time)."""
    return store.keys.revoke(key_id)


def lookup(store: Store, secret: str) -> ApiKey | None:
    key = store.keys.by_hash(digest(secret))
    return key if key is not None and not key.revoked else None


def allows(role: str, needed: str) -> bool:
    """Whether `role` reaches `needed` (domain/enums.ROLE_LEVEL)."""
    return ROLE_LEVEL[KeyRole(role)] >= ROLE_LEVEL[KeyRole(needed)]
