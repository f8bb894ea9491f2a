"""Failed API key attempts, counted per client (its remote address): more than
QA_KEY_FAILURES unknown or revoked keys within QA_KEY_FAILURE_WINDOW_S seconds and every
further key from that client is refused with 429 (Retry-After) until the window has passed, a
right key included (else a 200 among the 429s would tell a guesser it found one). Requests
that carry no key (the session cookie, /health) are not counted.

One `KeyThrottle` per app (`app.state.key_throttle`, `of(app)`); whatever authenticates a key
calls `check(client)` before looking it up and `note_failure(client)` when it is unknown, so the
dependency (deps.caller), the sign-in page and a middleware that authenticates before the body
is read share one count. With QA_REDIS_URL the count lives in Redis, so every API process
behind a load balancer sees the same; a Redis that does not answer falls back to this process's
own count (the API keeps serving while Redis is away). A client found clear is not asked
about again for CLEAR_FOR_S seconds unless it fails here: the answer to a right key costs no
Redis round trip, and a lock-out counted by another process reaches this one that much later.
Behind a reverse proxy, run uvicorn with --proxy-headers (and --forwarded-allow-ips) so the
client is the caller, not the proxy.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from qa_service.config import Settings, get_settings
from qa_service.exceptions import TooManyRequests
from qa_service.i18n import message

log = logging.getLogger(__name__)

# Redis keys: one per client, expiring with its window.
REDIS_PREFIX = "qa:key-failures:"
# How long a client found with no lock-out is taken as clear without asking Redis again.
CLEAR_FOR_S = 1.0
# The in-process table forgets windows that have passed once it holds this many clients.
_PRUNE_AT = 10_000


def client_of(scope: Mapping[str, Any]) -> str:
    """The client an ASGI scope (or a Request's .scope) comes from: its remote address."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class KeyThrottle:
    def __init__(self, limit: int, window_s: float, redis: Redis | None = None):
        self.limit = max(1, limit)
        self.window_s = max(1.0, float(window_s))
        self.redis = redis
        self._lock = threading.Lock()
        self._local: dict[str, tuple[float, int]] = {}  # client -> (window end, failures)
        self._clear: dict[str, float] = {}  # client -> until when Redis need not be asked

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyThrottle:
        redis = None
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return cls(settings.key_failures, settings.key_failure_window_s, redis)

    def _message(self, wait: int) -> TooManyRequests:
        return TooManyRequests(
            message("too many wrong API keys from this client; try again in {wait} s", wait=wait),
            wait,
        )

    def blocked_for(self, client: str) -> int:
        """Seconds this client must still wait before a key is looked up again (0: none)."""
        if self.redis is not None:
            now = time.monotonic()
            if self._clear.get(client, 0.0) > now:
                return 0
            try:
                count, ttl_ms = (
                    self.redis.pipeline(transaction=False)
                    .get(REDIS_PREFIX + client)
                    .pttl(REDIS_PREFIX + client)
                    .execute()
                )
                if count is not None and int(count) >= self.limit and ttl_ms > 0:
                    return max(1, math.ceil(ttl_ms / 1000))
                with self._lock:
                    if len(self._clear) >= _PRUNE_AT:
                        self._clear = {c: t for c, t in self._clear.items() if t > now}
                    self._clear[client] = now + CLEAR_FOR_S
                return 0
            except RedisError as exc:
                log.warning("key throttle: Redis unavailable (%s); counting here", exc)
        now = time.monotonic()
        with self._lock:
            end, count = self._local.get(client, (0.0, 0))
        if count >= self.limit and end > now:
            return max(1, math.ceil(end - now))
        return 0

    def check(self, client: str) -> None:
        """Raise TooManyRequests (429 with Retry-After) while this client is locked out."""
        wait = self.blocked_for(client)
        if wait:
            raise self._message(wait)

    def note_failure(self, client: str) -> None:
        """Count one unknown or revoked key from this client; the window starts at its first."""
        self._clear.pop(client, None)
        if self.redis is not None:
            key = REDIS_PREFIX + client
            try:
                pipe = self.redis.pipeline(transaction=True)
                pipe.set(key, 0, px=int(self.window_s * 1000), nx=True)
                pipe.incr(key)
                pipe.execute()
                return
            except RedisError as exc:
                log.warning("key throttle: Redis unavailable (%s); counting here", exc)
        now = time.monotonic()
        with self._lock:
            if len(self._local) >= _PRUNE_AT:
                self._local = {c: v for c, v in self._local.items() if v[0] > now}
            end, count = self._local.get(client, (0.0, 0))
            if end <= now:
                end, count = now + self.window_s, 0
            self._local[client] = (end, count + 1)


def of(app: Any) -> KeyThrottle:
    """The app's throttle (made by create_app; made here for an app built another way)."""
    state = app.state
    throttle = getattr(state, "key_throttle", None)
    if throttle is None:
        settings = getattr(state, "settings", None) or get_settings()
        throttle = state.key_throttle = KeyThrottle.from_settings(settings)
    return throttle
