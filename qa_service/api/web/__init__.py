"""The web app (质检工作台): server-rendered pages with a little JavaScript that read and write
through the same JSON API as every other client (no second copy of review or KPI logic).

Pages live in pages.py, the cookie session and its CSRF token in session.py, templates and
static files (our scripts and the vendored wavesurfer.js and ECharts, with their licences)
beside them. `mount(app)` adds all of it to the API app; the pages stay out of the OpenAPI
schema.
"""

from __future__ import annotations

import secrets

from fastapi import FastAPI

from qa_service.api.web.pages import mount_pages


def mount(app: FastAPI, session_secret: str | None) -> None:
    app.state.session_secret = (session_secret or secrets.token_urlsafe(32)).encode("utf-8")
    mount_pages(app)
