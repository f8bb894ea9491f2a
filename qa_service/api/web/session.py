"""Browser sessions for the web app: a signed cookie instead of an API key in every request.

Signing in with an API key sets an HttpOnly, SameSite=Strict cookie holding the key's row id,
when it was issued and a random nonce, signed with HMAC-SHA256. The secret never reaches the
browser again and never appears in a URL. Each request looks the key up again, so a revoked
key ends its sessions at once.

Writes authenticated by the cookie must carry the session's CSRF token in the X-CSRF-Token
header (or the `csrf_token` form field of the sign-out form): the token is an HMAC of the
nonce, shown to the page in a <meta> tag, which another site can neither read nor guess.
API clients sending X-API-Key or Authorization headers are not affected.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import Request

from qa_service.exceptions import Forbidden
from qa_service.storage.store import Store
from qa_service.storage.tables import ApiKey

COOKIE = "qa_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class WebSession:
    key_id: int
    issued: int
    nonce: str
    csrf: str


def _mac(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


def secret_of(request: Request) -> bytes:
    return request.app.state.session_secret


def max_age(request: Request) -> int:
    return int(request.app.state.settings.session_hours * 3600)


def issue(secret: bytes, key_id: int) -> str:
    payload = f"{key_id}.{int(time.time())}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_mac(secret, payload)}"


def read(secret: bytes, cookie: str | None, max_age_s: int) -> WebSession | None:
    """The session in a cookie value, or None if it is missing, forged or too old."""
    if not cookie or cookie.count(".") != 3:
        return None
    payload, mac = cookie.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    key_id, issued, nonce = payload.split(".")
    if not key_id.isdigit() or not issued.isdigit() or time.time() - int(issued) > max_age_s:
        return None
    return WebSession(int(key_id), int(issued), nonce, _mac(secret, "csrf:" + nonce))


def current(request: Request) -> WebSession | None:
    return read(secret_of(request), request.cookies.get(COOKIE), max_age(request))


def key_of(store: Store, session: WebSession | None) -> ApiKey | None:
    if session is None:
        return None
    with store.session() as s:
        key = s.get(ApiKey, session.key_id)
    return key if key is not None and not key.revoked else None


def caller_from_cookie(request: Request, store: Store) -> ApiKey | None:
    """The API key behind the request's session cookie; refuses a cookie write without the
    session's CSRF token (403), so another site cannot make a signed-in browser write."""
    session = current(request)
    key = key_of(store, session)
    if key is None:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, session.csrf):
            raise Forbidden(f"a signed-in browser write needs the session's {CSRF_HEADER} header")
    return key
