"""One error shape for every answer that is not a success: `{"detail": "<a sentence a QA admin
understands>"}`, with `problems` (a list of {field|line, reason}) where there is more than one
thing to fix. Also what keeps bad requests from ever becoming a 5xx: a body over the upload
limit is refused before it is read, NUL characters and numbers the database cannot hold are
a 422, and a database that is away is a 503 saying so."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa_service.exceptions import (
    BadInput,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    QAError,
    RubricError,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedFormat,
)

log = logging.getLogger(__name__)

# The HTTP status of each kind of error the package raises on purpose. An error answers with
# the status of the most specific kind it is (a ReviewNotFound is a NotFound before it is a
# BadInput); a QAError of no kind here (a failed job, a model file) stays a 500.
STATUS: dict[type[QAError], int] = {
    BadInput: 422,
    TooLarge: 413,
    UnsupportedFormat: 415,
    NotFound: 404,
    Gone: 410,
    Conflict: 409,
    Unauthorized: 401,
    Forbidden: 403,
    Unavailable: 503,
}

# The largest id, version or page a request may carry: the database's integer columns.
MAX_INT = 2**31 - 1


def error(status: int, detail: str, headers: dict | None = None, **more) -> JSONResponse:
    return JSONResponse({"detail": detail, **more}, status_code=status, headers=headers)


def database_unavailable(exc: Exception) -> str:
    """One line on why the database did not answer (no URL, no password: it may be in it)."""
    orig = getattr(exc, "orig", None) or exc
    reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return f"the database is unavailable ({reason[:200]})"


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body", "form"):
        kind, parts = parts[0], parts[1:]
        name = ".".join(parts) or kind
        return {
            "query": f"query parameter {name}",
            "path": f"{name} in the path",
            "header": f"header {name}",
        }.get(kind, name)
    return ".".join(parts)


def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for e in exc.errors():
        msg = e.get("msg", "invalid")
        if e.get("type") == "missing":
            msg = "is required"
        problems.append({"field": _where(tuple(e.get("loc", ()))), "reason": msg})
    detail = "; ".join(f"{p['field']}: {p['reason']}" for p in problems) or "invalid request"
    return error(422, detail, problems=problems)


def status_of(exc: QAError) -> int:
    return next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)


def _family(request: Request, exc: QAError) -> JSONResponse:
    more = {}
    if isinstance(exc, RubricError):  # every problem with its line, so all are fixed at once
        more["problems"] = [
            {"line": line, "field": field, "reason": reason} for line, field, reason in exc.problems
        ]
    return error(status_of(exc), str(exc), **more)


def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's own refusals (no such route, method not allowed) in the same shape."""
    detail = (
        exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, ensure_ascii=False)
    )
    return error(exc.status_code, detail, headers=getattr(exc, "headers", None))


def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    return error(
        422,
        "a number or text in the request is out of what can be stored "
        f"(ids, versions and pages are at most {MAX_INT}; no NUL characters)",
    )


def _database(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DataError):
        return _out_of_range(request, exc)
    if isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        log.warning("%s %s: %s", request.method, request.url.path, database_unavailable(exc))
        return error(
            503, database_unavailable(exc) + "; try again shortly", headers={"Retry-After": "5"}
        )
    raise exc


def install(app: FastAPI, max_body_bytes: int) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    for kind in STATUS:
        app.add_exception_handler(kind, _family)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DBAPIError, _database)
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes)


class BodyTooLarge(HTTPException):
    pass


class RequestGuard:
    """Pure ASGI, before anything reads the request: a body declared (Content-Length) or
    streamed past the limit is refused with 413 without reading on (the upload never reaches
    the disk), and a NUL character in the path or query is a 422."""

    def __init__(self, app, max_body_bytes: int):
        self.app = app
        self.limit = max_body_bytes

    async def _answer(self, send, status: int, detail: str) -> None:
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
            return await self._answer(send, 422, "the request contains a NUL character (%00)")
        too_large = (
            f"the request body is larger than the upload limit "
            f"({self.limit / 1048576:g} MB, QA_MAX_UPLOAD_MB plus the form)"
        )
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._answer(send, 413, too_large)
        received, started = 0, False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(413, too_large)  # FastAPI passes HTTPExceptions through
            return message

        async def watched_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await self._answer(send, 413, too_large)
