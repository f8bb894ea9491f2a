"""HTML pages: each renders a shell with who is signed in and the CSRF token; the page's script
fills it from the JSON API. Sign-in turns an API key into a session cookie (session.py)."""

from __future__ import annotations

import hmac
import secrets
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
from qa_service.api.web import catalog as page_catalog
from qa_service.api.web import session
from qa_service.app import keys, people
from qa_service.app.people import Caller
from qa_service.asr.audio import AUDIO_EXTENSIONS
from qa_service.config import get_settings
from qa_service.domain.enums import KeyRole
from qa_service.i18n import message
from qa_service.storage.tables import Evaluation

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
page_catalog.install(templates.env)
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

# (page, link, label, the role it needs); agents and team leads have pages of their own
NAV = [
    ("mycalls", "/my/calls", "My calls", KeyRole.AGENT),
    ("myappeals", "/my/appeals", "My appeals", KeyRole.AGENT),
    ("tasks", "/task-queue", "Review tasks", KeyRole.REVIEWER),
    ("queue", "/queue", "To review", KeyRole.VIEWER),
    ("dashboard", "/dashboard", "QA dashboard", KeyRole.VIEWER),
    ("appeals", "/appeal-desk", "Appeals", KeyRole.REVIEWER),
    ("plans", "/sampling-plans", "Sampling plans", KeyRole.MANAGER),
    ("calibration", "/calibration", "Calibration", KeyRole.REVIEWER),
    ("trial", "/trial", "Trial calls", KeyRole.VIEWER),
    ("wrapup", "/wrapup", "Project wrap-up", KeyRole.VIEWER),
    ("precision", "/precision", "Rule precision", KeyRole.VIEWER),
    ("rubrics", "/rubric-versions", "Rubrics", KeyRole.VIEWER),
    ("upload", "/upload", "Upload recordings", KeyRole.REVIEWER),
]
# the pages of agents and team leads: their own calls and appeals
SCOPED_PAGES = frozenset({"mycalls", "myappeals"})
LOGIN_COOKIE = "qa_login"  # the sign-in form's own CSRF token (double submit)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme) after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


def _home(who: Caller) -> str:
    return "/my/calls" if who.scoped else ("/task-queue" if who.can(KeyRole.REVIEWER) else "/queue")


def _signed_in(request: Request) -> tuple[Caller | None, session.WebSession | None]:
    ws = session.current(request)
    who = session.caller_of(request.app.state.store, ws)
    if who is not None:
        note_caller(request, who.role)  # an admin's pages are served unmasked (api/masking.py)
    return who, ws


def _nav(who: Caller) -> list[tuple[str, str, str]]:
    return [
        (name, href, message(label))
        for name, href, label, needed in NAV
        if who.can(needed) and (name in SCOPED_PAGES) == who.scoped
    ]


def _page(request: Request, template: str, active: str, role=KeyRole.VIEWER, **context):
    """The page for a signed-in caller whose role reaches `role` (agents and team leads: only
    their pages); else the sign-in page, or 我的通话 for an agent who followed a staff link."""
    who, ws = _signed_in(request)
    if who is None or ws is None:
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(url)}", status_code=303)
    if not who.can(role) or (who.scoped and active not in SCOPED_PAGES):
        return RedirectResponse(_home(who), status_code=303)
    return templates.TemplateResponse(
        request,
        template,
        {
            "me": {
                "name": who.name,
                "role": who.role,
                "role_name": message(people.ROLE_LABELS.get(who.role, who.role)),
                "agent_id": who.agent_id or "",
            },
            "can_review": who.can(KeyRole.REVIEWER),
            "can_manage": who.can(KeyRole.MANAGER),
            "is_admin": who.is_admin,
            "scoped": who.scoped,
            "csrf": ws.csrf,
            "nav": _nav(who),
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
def home(request: Request) -> Response:
    who, _ = _signed_in(request)
    return RedirectResponse(_home(who) if who is not None else "/login", status_code=303)


def _login_page(request: Request, next: str, error: str | None = None, status: int = 200):
    """The sign-in form with a fresh token of its own in a SameSite=Strict cookie and in the
    form: a form on another site cannot send both, so it cannot sign a victim in as someone
    else (login CSRF)."""
    token = secrets.token_urlsafe(16)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"next": _safe_next(next), "error": error, "login_token": token},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next or "")


@router.post("/login")
def login(
    request: Request,
    name: str = Form(""),
    password: str = Form(""),
    api_key: str = Form(""),
    login_token: str = Form(""),
    next: str = Form(""),
) -> Response:
    """Sign in with a name and a password (people), or with an API key (integrations, and the
    keys made before people had passwords)."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(login_token, expected):
        return _login_page(request, next, "登录页面已过期，请重新输入后登录。", 403)
    store = request.app.state.store
    limiter, client = throttle.of(request.app), throttle.client_of(request.scope)
    tried = bool(api_key.strip() or name.strip())
    if tried and (wait := limiter.blocked_for(client)):
        response = _login_page(request, next, f"登录失败次数过多，请 {wait} 秒后再试。", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    subject = None
    if name.strip():
        user = people.authenticate(store, name.strip(), password)
        subject = f"u{user.id}" if user is not None else None
        wrong = "用户名或密码错误，或账号已停用。"
    else:
        key = keys.lookup(store, api_key.strip()) if api_key.strip() else None
        who = people.caller_of_key(store, key) if key is not None else None
        subject = f"k{key.id}" if key is not None and who is not None else None
        wrong = "密钥无效或已停用，请检查后重试。"
    if subject is None:
        if tried:
            limiter.note_failure(client)
        return _login_page(request, next, wrong if tried else "请输入用户名和密码。", 401)
    ws = session.read(
        session.secret_of(request),
        cookie := session.issue(session.secret_of(request), subject),
        session.max_age(request),
    )
    who = session.caller_of(store, ws)
    response = RedirectResponse(
        _safe_next(next) or (_home(who) if who else "/queue"), status_code=303
    )
    response.set_cookie(
        session.COOKIE,
        cookie,
        max_age=session.max_age(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    """Signing out needs the session's token (another site cannot sign a victim out) and ends
    the session on the server, not only in this browser."""
    ws = session.current(request)
    if ws is None:  # no session sent: nothing to end (and nothing for another site to end)
        return RedirectResponse("/login", status_code=303)
    if not hmac.compare_digest(csrf_token, ws.csrf):
        return Response("CSRF token missing or wrong", status_code=403)
    session.end(request.app.state.store, ws, session.max_age(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/queue")
def queue_page(request: Request) -> Response:
    return _page(request, "queue.html", "queue")


@router.get("/calls/{evaluation_id}")
def call_page(request: Request, evaluation_id: int) -> Response:
    # Signed in first: a visitor who is not is not told whether the call exists.
    who, _ = _signed_in(request)
    if who is None:
        return RedirectResponse(f"/login?next=/calls/{evaluation_id}", status_code=303)
    # The recording is named in the page so that its audio starts loading with the HTML,
    # before the scripts have asked the API for the evaluation.
    with request.app.state.store.session() as s:
        row = s.exec(
            select(Evaluation.recording_id, Evaluation.agent_id).where(
                Evaluation.id == evaluation_id
            )
        ).first()
    if row is None or not who.sees_agent(row[1]):  # another agent's call: as if there were none
        return Response(f"没有质检结果 {evaluation_id}", status_code=404, media_type="text/plain")
    active = "mycalls" if who.scoped else "queue"
    return _page(
        request,
        "call.html",
        active,
        role=KeyRole.AGENT,
        evaluation_id=evaluation_id,
        recording_id=row[0],
    )


@router.get("/calls/recording/{recording_id}")
def call_of_recording(request: Request, recording_id: int) -> Response:
    """Reports name recordings; the call page shows the recording's current evaluation."""
    who, _ = _signed_in(request)
    if who is None:
        return RedirectResponse(f"/login?next=/calls/recording/{recording_id}", status_code=303)
    with request.app.state.store.session() as s:
        found = s.exec(
            select(Evaluation.id, Evaluation.agent_id)
            .where(Evaluation.recording_id == recording_id)
            .order_by(Evaluation.is_current.desc(), Evaluation.id.desc())
        ).first()
    evaluation_id = found[0] if found is not None and who.sees_agent(found[1]) else None
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


@router.get("/my/calls")
def my_calls_page(request: Request) -> Response:
    return _page(request, "my_calls.html", "mycalls", role=KeyRole.AGENT)


@router.get("/my/appeals")
def my_appeals_page(request: Request) -> Response:
    return _page(request, "my_appeals.html", "myappeals", role=KeyRole.AGENT)


@router.get("/appeal-desk")
def appeals_page(request: Request) -> Response:
    return _page(request, "appeals.html", "appeals", role=KeyRole.REVIEWER)


@router.get("/task-queue")
def tasks_page(request: Request) -> Response:
    return _page(request, "tasks.html", "tasks", role=KeyRole.REVIEWER)


@router.get("/sampling-plans")
def plans_page(request: Request) -> Response:
    return _page(request, "plans.html", "plans", role=KeyRole.MANAGER)


@router.get("/calibration")
def calibration_page(request: Request) -> Response:
    return _page(request, "calibration.html", "calibration", role=KeyRole.REVIEWER)


# Pages do not share a path with an API route (/appeals, /tasks, /plans, /rubrics are the API's).
@router.get("/rubric-versions")
def rubrics_page(request: Request) -> Response:
    return _page(request, "rubrics.html", "rubrics")


@router.get("/upload")
def upload_page(request: Request) -> Response:
    """Several recordings at once, a progress bar and a result per file (POST /recordings)."""
    return _page(
        request,
        "upload.html",
        "upload",
        role=KeyRole.REVIEWER,
        max_upload_mb=get_settings().max_upload_mb,
        extensions=sorted(AUDIO_EXTENSIONS),
    )


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
