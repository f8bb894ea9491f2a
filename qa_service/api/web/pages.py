"""HTML pages: each renders a shell with who is signed in and the CSRF token; the page's script
fills it from the JSON API. Sign-in turns an API key into a session cookie (session.py)."""

from __future__ import annotations

import hmac
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlmodel import select
from starlette.middleware.gzip import GZipMiddleware

from qa_service.api import throttle
from qa_service.api.masking import note_caller
from qa_service.api.web import session
from qa_service.app import keys
from qa_service.config import get_settings
from qa_service.domain.enums import KeyRole
from qa_service.storage.tables import ApiKey, Evaluation

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)

# Every script, style, image and request stays on this origin. Inline styles are allowed
# because wavesurfer.js and ECharts set them; inline scripts are not.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The OpenAPI document is read by tools as well as by /docs: no page policy on it.
NO_CSP = ("/openapi.json",)

NAV = [
    ("queue", "/queue", "待复核"),
    ("dashboard", "/dashboard", "质检看板"),
    ("trial", "/trial", "试呼分析"),
    ("wrapup", "/wrapup", "项目总结"),
    ("precision", "/precision", "规则准确率"),
    ("rubrics", "/rubric-versions", "质检规则"),
]
ROLE_NAMES: dict[str, str] = {
    KeyRole.VIEWER: "只读",
    KeyRole.REVIEWER: "质检员",
    KeyRole.ADMIN: "管理员",
}


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme) after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


def _signed_in(request: Request) -> tuple[ApiKey | None, session.WebSession | None]:
    ws = session.current(request)
    key = session.key_of(request.app.state.store, ws)
    if key is not None:
        note_caller(request, key.role)  # an admin's pages are served unmasked (api/masking.py)
    return key, ws


def _page(request: Request, template: str, active: str, **context) -> Response:
    key, ws = _signed_in(request)
    if key is None:
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(url)}", status_code=303)
    return templates.TemplateResponse(
        request,
        template,
        {
            "me": {
                "name": key.name,
                "prefix": key.prefix,
                "role": key.role,
                "role_name": ROLE_NAMES.get(key.role, key.role),
            },
            "can_review": keys.allows(key.role, KeyRole.REVIEWER),
            "is_admin": key.role == KeyRole.ADMIN,
            "csrf": ws.csrf,
            "nav": NAV,
            "active": active,
            "zone": _zone_label(),
            **context,
        },
    )


def _zone_label() -> dict:
    """The zone every time on the pages is shown in: the API answers times in it (with its
    offset) and reads a date typed into a filter as its day."""
    zone = get_settings().zone
    offset = datetime.now(zone).strftime("%z")
    return {"name": str(zone), "offset": f"UTC{offset[:3]}:{offset[3:]}"}


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None}
    )


@router.post("/login")
def login(request: Request, api_key: str = Form(""), next: str = Form("/queue")) -> Response:
    limiter, client = throttle.of(request.app), throttle.client_of(request.scope)
    if api_key.strip() and (wait := limiter.blocked_for(client)):
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": f"密钥错误次数过多，请 {wait} 秒后再试。"},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    key = keys.lookup(request.app.state.store, api_key.strip()) if api_key.strip() else None
    if key is None:
        if api_key.strip():
            limiter.note_failure(client)
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "密钥无效或已停用，请检查后重试。"},
            status_code=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        session.COOKIE,
        session.issue(session.secret_of(request), key.id),
        max_age=session.max_age(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    ws = session.current(request)
    if ws is not None and not hmac.compare_digest(csrf_token, ws.csrf):
        return Response("CSRF token missing or wrong", status_code=403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/queue")
def queue_page(request: Request) -> Response:
    return _page(request, "queue.html", "queue")


@router.get("/calls/{evaluation_id}")
def call_page(request: Request, evaluation_id: int) -> Response:
    # The recording is named in the page so that its audio starts loading with the HTML,
    # before the scripts have asked the API for the evaluation.
    with request.app.state.store.session() as s:
        recording_id = s.exec(
            select(Evaluation.recording_id).where(Evaluation.id == evaluation_id)
        ).first()
    if recording_id is None:
        return Response(f"没有质检结果 {evaluation_id}", status_code=404, media_type="text/plain")
    return _page(
        request, "call.html", "queue", evaluation_id=evaluation_id, recording_id=recording_id
    )


@router.get("/calls/recording/{recording_id}")
def call_of_recording(request: Request, recording_id: int) -> Response:
    """Reports name recordings; the call page shows the recording's current evaluation."""
    key, _ = _signed_in(request)
    if key is None:
        return RedirectResponse(f"/login?next=/calls/recording/{recording_id}", status_code=303)
    with request.app.state.store.session() as s:
        evaluation_id = s.exec(
            select(Evaluation.id)
            .where(Evaluation.recording_id == recording_id)
            .order_by(Evaluation.is_current.desc(), Evaluation.id.desc())
        ).first()
    if evaluation_id is None:
        return Response(
            f"没有录音 {recording_id} 的质检结果", status_code=404, media_type="text/plain"
        )
    return RedirectResponse(f"/calls/{evaluation_id}", status_code=303)


@router.get("/dashboard")
def dashboard_page(request: Request) -> Response:
    return _page(request, "dashboard.html", "dashboard")


@router.get("/trial")
def trial_page(request: Request) -> Response:
    return _page(request, "trial.html", "trial")


@router.get("/wrapup")
def wrapup_page(request: Request) -> Response:
    return _page(request, "wrapup.html", "wrapup")


@router.get("/precision")
def precision_page(request: Request) -> Response:
    return _page(request, "precision.html", "precision")


# Not /rubrics: that is the API's list of versions.
@router.get("/rubric-versions")
def rubrics_page(request: Request) -> Response:
    return _page(request, "rubrics.html", "rubrics")


@router.get("/docs")
def api_docs(request: Request) -> Response:
    """Swagger UI served from the package (FastAPI's own page loads it from a CDN, a blank
    page on a site without internet access)."""
    return templates.TemplateResponse(request, "docs.html", {"spec_url": request.app.openapi_url})


@router.get("/redoc")
def redoc() -> Response:
    # One documentation page, vendored: the old ReDoc address leads to it.
    return RedirectResponse("/docs", status_code=307)


def mount_pages(app: FastAPI) -> None:
    app.include_router(router)
    # Compressed on the way out: the first load's scripts are well under 1 MB gzipped.
    app.mount(
        "/static",
        GZipMiddleware(StaticFiles(directory=str(HERE / "static")), minimum_size=1024),
        name="static",
    )

    app.add_middleware(SecurityHeaders)


SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode("latin-1")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """The browser's protections on every answer but the API documentation's pages (pure ASGI:
    Starlette's BaseHTTPMiddleware runs each request through a task and a stream of its own)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_CSP):
            return await self.app(scope, receive, send)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
