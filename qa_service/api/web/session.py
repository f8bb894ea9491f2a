"""Browser sessions for the web app: a signed cookie instead of a password or an API key in
every request.

Signing in (a person with their name and password, or an integration's API key) sets an
HttpOnly, SameSite=Strict cookie holding who signed in (`u<user id>` or `k<key id>`), when and
a random nonce, signed with HMAC-SHA256. No password or secret reaches the browser again or
appears in a URL. Each request looks the person or the key up again, so a person made inactive
or a revoked key ends their sessions at once; signing out ends the session on the server too
(its nonce is kept as ended until the cookie would have expired), so a copied cookie does not
outlive 退出.

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

from qa_service.app.people import Caller, caller_of_key, caller_of_user
from qa_service.exceptions import Forbidden
from qa_service.i18n import message
from qa_service.storage.store import Store
from qa_service.storage.tables import ApiKey, utcfromtimestamp

COOKIE = "qa_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class WebSession:
    subject: str  # u<user id> | k<key id>
    issued: int
    nonce: str
    csrf: str


def _mac(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()


# Hex digits written as letters: the page holding the token is masked for non-admins, and a run
# of digits in a hex token can have a phone number's shape (058…4951), masked into a token
# that no longer matches.
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def csrf_token(secret: bytes, nonce: str) -> str:
    """The session's CSRF token: an HMAC of its nonce, in the letters a-p only."""
    return _mac(secret, "csrf:" + nonce).translate(_LETTERS)


def secret_of(request: Request) -> bytes:
    return request.app.state.session_secret


def max_age(request: Request) -> int:
    return int(request.app.state.settings.session_hours * 3600)


def issue(secret: bytes, subject: str) -> str:
    """A cookie for `subject`: `u<user id>` (a person) or `k<key id>` (an API key)."""
    payload = f"{subject}.{int(time.time())}.{secrets.token_urlsafe(16)}"
    return f"{payload}.{_mac(secret, payload)}"


def read(secret: bytes, cookie: str | None, max_age_s: int) -> WebSession | None:
    """The session in a cookie value, or None if it is missing, forged or too old."""
    if not cookie or cookie.count(".") != 3:
        return None
    payload, mac = cookie.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    subject, issued, nonce = payload.split(".")
    if subject[:1] not in ("u", "k") or not subject[1:].isdigit() or not issued.isdigit():
        return None
    if time.time() - int(issued) > max_age_s:
        return None
    return WebSession(subject, int(issued), nonce, csrf_token(secret, nonce))


def current(request: Request) -> WebSession | None:
    return read(secret_of(request), request.cookies.get(COOKIE), max_age(request))


def caller_of(store: Store, session: WebSession | None) -> Caller | None:
    """Who a session is for, if it is still valid: not signed out, the person active, the key
    not revoked."""
    if session is None or store.people.session_ended(session.nonce):
        return None
    number = int(session.subject[1:])
    if session.subject.startswith("u"):
        user = store.people.get(number)
        return caller_of_user(store, user) if user is not None and user.active else None
    with store.session() as s:
        key = s.get(ApiKey, number)
    return caller_of_key(store, key) if key is not None and not key.revoked else None


def end(store: Store, session: WebSession, max_age_s: int) -> None:
    """Sign out on the server: the cookie is refused from now on, wherever it was copied."""
    store.people.end_session(session.nonce, utcfromtimestamp(session.issued + max_age_s))


def caller_from_cookie(request: Request, store: Store) -> Caller | None:
    """The caller behind the request's session cookie; refuses a cookie write without the
    session's CSRF token (403), so another site cannot make a signed-in browser write."""
    session = current(request)
    who = caller_of(store, session)
    if who is None or session is None:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, session.csrf):
            raise Forbidden(
                message(
                    "a signed-in browser write needs the session's {header} header",
                    header=CSRF_HEADER,
                )
            )
    return who
