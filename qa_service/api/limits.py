"""The request guard: what is checked before a handler reads a byte of the request body.

Pure ASGI, inside the security headers and outside FastAPI's routing (api/__init__.py):

1. a NUL character in the path or query: 422; so is a query parameter given twice to an API
   route (every parameter there is one value: `?rule=a&rule=b` would be read as the last);
2. the route the request is for, found as the router will find it. A route whose dependencies
   include the caller's key (deps.caller) is authenticated here, with the same lookup
   (deps.identify: X-API-Key, Authorization: Bearer or the web app's session cookie, the
   failed-key throttle) and the same answers (401, 403 for a role that may not, 429, 503);
   /health, the web app's pages, sign-in and static files need no key, as before;
3. the body's size against the route's limit: QA_MAX_UPLOAD_MB (plus the form) for a route
   that takes a file, QA_MAX_JSON_KB for every other. A Content-Length past it is a 413 at
   once; a chunked body is counted as it arrives and answered 413 as soon as it passes it.

An answer given here before the body was read says `Connection: close`, so the server drops
the rest of the body with the connection instead of reading it to keep the connection alive.
The key found is left in the request's state, where deps.caller takes it from.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.params import File
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match

from qa_service.api import deps, errors
from qa_service.app.people import Caller
from qa_service.i18n import message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteLimits:
    needs_key: bool
    api: bool  # an API route: each query parameter once
    role: str | None  # the role the route requires (deps.require), if any
    max_bytes: int
    too_large: str  # the 413's message


def _calls(dependant: Any) -> list[Any]:
    """Every dependency's callable of a route, sub-dependencies included."""
    found = []
    for dep in dependant.dependencies:
        found.append(dep.call)
        found.extend(_calls(dep))
    return found


def _takes_file(dependant: Any) -> bool:
    return any(isinstance(p.field_info, File) for p in dependant.body_params) or any(
        _takes_file(dep) for dep in dependant.dependencies
    )


def _repeated(query: bytes) -> str | None:
    """The first query parameter named twice, if any."""
    if b"&" not in query:
        return None
    seen = set()
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            return name
        seen.add(name)
    return None


class RequestGuard:
    def __init__(self, app: Any, routes: list[BaseRoute], max_upload_mb: float, max_json_kb: float):
        self.app = app
        upload = int((max_upload_mb + 1) * 1024 * 1024)  # + the form fields
        body = int(max_json_kb * 1024)
        self.upload = RouteLimits(
            False,
            False,
            None,
            upload,
            message(
                "the request body is larger than the upload limit "
                "({mb:g} MB, {setting} plus the form)",
                mb=upload / 1048576,
                setting="QA_MAX_UPLOAD_MB",
            ),
        )
        self.body = RouteLimits(
            False,
            False,
            None,
            body,
            message(
                "the request body is larger than the limit for this request ({kb:g} KB, {setting})",
                kb=max_json_kb,
                setting="QA_MAX_JSON_KB",
            ),
        )
        self.routes: list[tuple[APIRoute, RouteLimits]] = []
        for route in routes:
            if isinstance(route, APIRoute):
                calls = _calls(route.dependant)
                role = next((c.role for c in calls if hasattr(c, "role")), None)
                base = self.upload if _takes_file(route.dependant) else self.body
                limits = RouteLimits(
                    deps.caller in calls, True, role, base.max_bytes, base.too_large
                )
                self.routes.append((route, limits))

    def limits_of(self, scope: dict) -> RouteLimits:
        """The limits of the API route that takes this request, the first whose path and method
        match, as the router finds it (none: a page, a static file, a 404 or a 405: no key, the
        body limit)."""
        for route, limits in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return limits
        return self.body

    @staticmethod
    async def _answer(send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _authenticate(request: Request, secret: str | None, role: str | None) -> Caller:
        key = deps.identify(request, request.app.state.store, secret)
        return deps.authorize(key, role) if role is not None else key

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if (
            b"\x00" in raw_path
            or b"%00" in raw_path
            or b"%00" in scope.get("query_string", b"")
            or "\x00" in scope["path"]
        ):
            return await self._answer(
                send, 422, message("the request contains a NUL character (%00)")
            )
        limits = self.limits_of(scope)
        if limits.api and (twice := _repeated(scope.get("query_string", b""))):
            return await self._answer(
                send,
                422,
                message("the query parameter {name} is given more than once", name=repr(twice)),
            )
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        has_body = b"transfer-encoding" in headers or (declared not in (None, b"0"))
        if limits.needs_key:
            request = Request(scope)
            try:
                secret = await deps.secret_in(request)
                key = await run_in_threadpool(self._authenticate, request, secret, limits.role)
            except Exception as exc:
                response = errors.answer(request, exc)  # an error of no known kind: raised
                if has_body:  # unread: not worth reading to keep the connection
                    response.headers["connection"] = "close"
                return await response(scope, receive, send)
            scope.setdefault("state", {})[deps.CALLER_STATE] = key
        if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
            return await self._answer(send, 413, limits.too_large)
        received, started, answered, body_read = 0, False, False, not has_body

        async def limited_receive():
            nonlocal received, answered, body_read
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_read = not message.get("more_body", False)
                if received > limits.max_bytes:
                    # answered here, whatever the handler makes of the disconnect it is told of
                    answered = True
                    if not started:
                        await self._answer(send, 413, limits.too_large)
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):
            nonlocal started
            if answered and not started:
                return  # the handler's answer to the cut-off body: ours went out instead
            if message["type"] == "http.response.start":
                started = True
                if not body_read:  # answered before the body was read (a 400, a 401...):
                    # closing drops the rest of it; keeping the connection would read it all
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"connection", b"close")],
                    }
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except Exception:
            if not answered:
                raise
            # what the handler made of the body it was cut off from: the 413 went out instead
            log.debug("%s %s: cut off past %d bytes", scope["method"], scope["path"], received)
