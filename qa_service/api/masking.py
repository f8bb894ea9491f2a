"""Masking as a property of the response: every JSON answer, web page and text (the wrap-up's
Markdown) a caller who is not an admin receives has its personal numbers masked here, in one
place, whichever route produced it (domain/masking.py says what is masked and how).

A pure ASGI middleware, the innermost one, so it sees each response as the route wrote it.
The caller's role is noted on the request by the dependency that checks the key (deps.require)
and by the web pages' session lookup (`note_caller`); a response of a request with no admin
noted (no key, a refused key, a viewer or reviewer) is masked. JSON: every string value, keys
untouched; a body is parsed only where ten digit characters stand close together in one of
its strings, and a string read only where they do in it (benchmarks/masking_overhead.py
measures it on a page of 500 evaluations). HTML, Markdown and plain text: the text. Audio,
static files and the OpenAPI document pass as they are. A gzip body is unpacked, masked and
sent unpacked.
"""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

from fastapi import FastAPI, Request

from qa_service.domain.enums import KeyRole
from qa_service.domain.masking import BETWEEN, BETWEEN_MAX, DIGIT_CLASS, SHORTEST, mask

# The request-state flag an admin's request carries: set, the response is served unmasked.
UNMASKED = "qa_unmasked"
# Not data: the pages' scripts and styles, and the API's own description.
SKIP_PATHS = ("/static", "/docs", "/redoc", "/openapi.json")
TEXT_TYPES = ("text/html", "text/plain", "text/markdown", "text/csv")

# domain/masking's quick search, on the JSON text as sent, where a separator may be written as
# an escape (\n, \/: two characters). A body without a match (most pages of a list: ids,
# scores, times) has no string to mask and is passed on unparsed; one with a \u escape (a
# digit may hide in it) is always parsed.
_RAW_CANDIDATE = re.compile(
    rf"{DIGIT_CLASS}(?:[{BETWEEN}\\\\nrtf/]{{0,{2 * BETWEEN_MAX}}}{DIGIT_CLASS}){{{SHORTEST - 1}}}"
)


# A JSON string literal: only strings are masked, so numbers (a list of ids, a rate's
# decimals) never make a body worth parsing.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _may_hold_number(json_text: str) -> bool:
    if "\\u" in json_text:
        return True
    if _RAW_CANDIDATE.search(json_text) is None:
        return False
    return _RAW_CANDIDATE.search("\x00".join(_STRING.findall(json_text))) is not None


def note_caller(request: Request, role: str) -> None:
    """Record who is asking: an admin's responses are served raw, everyone else's masked."""
    setattr(request.state, UNMASKED, role == KeyRole.ADMIN)


class _Masker:
    """Masks every string value of parsed JSON (keys untouched), noting whether one changed."""

    def __init__(self) -> None:
        self.changed = False

    def __call__(self, value: Any) -> Any:
        if type(value) is str:
            out = mask(value)
            if out != value:
                self.changed = True
            return out
        if type(value) is list:
            return [self(v) for v in value]
        if type(value) is dict:
            return {k: self(v) for k, v in value.items()}
        return value


def mask_body(body: bytes, content_type: str) -> bytes:
    """The body with its personal numbers masked; JSON value by value, text as text."""
    if "json" in content_type:
        try:
            if not _may_hold_number(body.decode("utf-8")):
                return body
            data = json.loads(body)
        except ValueError:  # not JSON after all: masked as text below
            pass
        else:
            masker = _Masker()
            masked = masker(data)
            if not masker.changed:
                return body
            return json.dumps(
                masked, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            ).encode("utf-8")
    text = body.decode("utf-8", "replace")
    out = mask(text)
    return body if out == text else out.encode("utf-8")


def _maskable(content_type: str) -> bool:
    return "json" in content_type or content_type.startswith(TEXT_TYPES)


class MaskingMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] == "HEAD"  # no body to mask; its Content-Length is the GET's
            or scope["path"].startswith(SKIP_PATHS)
        ):
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})  # request.state: where note_caller writes
        start: dict | None = None
        passing = gzipped = False
        content_type = ""
        chunks: list[bytes] = []

        async def masking_send(message: dict) -> None:
            nonlocal start, passing, gzipped, content_type
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
                encoding = headers.get(b"content-encoding", b"identity").lower()
                if (
                    state.get(UNMASKED)
                    or not _maskable(content_type)
                    or encoding not in (b"identity", b"gzip")
                ):
                    passing = True
                    await send(message)
                else:
                    start, gzipped = message, encoding == b"gzip"
                return
            if passing or message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            drop = {b"content-length", b"content-encoding"} if gzipped else {b"content-length"}
            if gzipped:
                body = gzip.decompress(body)
            body = mask_body(body, content_type)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in drop]
            headers.append((b"content-length", str(len(body)).encode("latin-1")))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, masking_send)


def install(app: FastAPI) -> None:
    """Add the masking step; called before any other middleware, so it is the innermost."""
    app.add_middleware(MaskingMiddleware)
