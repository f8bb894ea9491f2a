"""One error shape for every answer that is not a success: `{"detail": "<a sentence a QA admin
understands>"}`, with `problems` (a list of {field|line, reason}) where there is more than one
thing to fix. Also what keeps bad requests from ever becoming a 5xx: numbers the database
cannot hold are a 422, and a database that is away is a 503 saying so. The request guard
(api/limits.py) answers in the same shape before the body is read: no key, a body over its
route's limit, a NUL character in the path."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from qa_service.exceptions import (
    BadInput,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    QAError,
    RubricError,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedFormat,
)
from qa_service.i18n import message, validation_reason

log = logging.getLogger(__name__)

# Starlette's own refusals, read in the service's language (_http)
HTTP_PHRASES = ("Not Found", "Method Not Allowed")

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
    TooManyRequests: 429,
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
    return message("the database is unavailable ({reason})", reason=reason[:200])


# What /health says of a database that does not answer (monitoring reads it, in English).
DATABASE_UNAVAILABLE = "the database is unavailable"


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body", "form"):
        kind, parts = parts[0], parts[1:]
        name = ".".join(parts) or kind
        if kind == "query":
            return message("query parameter {name}", name=name)
        if kind == "path":
            return message("{name} in the path", name=name)
        if kind == "header":
            return message("header {name}", name=name)
        return name
    return ".".join(parts)


def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for e in exc.errors():
        msg = message("is required") if e.get("type") == "missing" else validation_reason(e)
        problems.append({"field": _where(tuple(e.get("loc", ()))), "reason": msg})
    detail = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return error(422, detail or message("invalid request"), problems=problems)


def status_of(exc: QAError) -> int:
    return next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)


def _family(request: Request, exc: QAError) -> JSONResponse:
    more = {}
    if isinstance(exc, RubricError):  # every problem with its line, so all are fixed at once
        more["problems"] = [
            {"line": line, "field": field, "reason": reason} for line, field, reason in exc.problems
        ]
    headers = None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(max(1, exc.retry_after))}
    return error(status_of(exc), str(exc), headers=headers, **more)


def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's own refusals (no such route, method not allowed) in the same shape."""
    # Starlette's phrases (Not Found, Method Not Allowed) in the service's language
    detail = (
        message(exc.detail)
        if isinstance(exc.detail, str)
        else json.dumps(exc.detail, ensure_ascii=False)
    )
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:  # Starlette names the methods of the first route on the path only
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error(exc.status_code, detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path."""
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]


def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    return error(
        422,
        message(
            "a number or text in the request is out of what can be stored "
            "(ids, versions and pages are at most {max}; no NUL characters)",
            max=MAX_INT,
        ),
    )


def _database(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DataError):
        return _out_of_range(request, exc)
    if isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        log.warning("%s %s: %s", request.method, request.url.path, database_unavailable(exc))
        # no host, port or driver message (they name the network behind the service): the
        # reason goes to the log
        return error(
            503,
            message("the database is unavailable; try again shortly"),
            headers={"Retry-After": "5"},
        )
    raise exc


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    for kind in STATUS:
        app.add_exception_handler(kind, _family)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(DBAPIError, _database)


def answer(request: Request, exc: Exception) -> JSONResponse:
    """An error raised before the routes run (the request guard, api/limits.py) answered as
    the handlers above answer it; an error of no kind here is raised again (a 500)."""
    if isinstance(exc, QAError) and any(kind in STATUS for kind in type(exc).__mro__):
        return _family(request, exc)
    if isinstance(exc, DBAPIError):
        return _database(request, exc)
    raise exc
