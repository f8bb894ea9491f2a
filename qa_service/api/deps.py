"""Dependencies: the store, the dispatcher, and the caller's API key and role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator

from qa_service.api.errors import MAX_INT
from qa_service.api.web.session import caller_from_cookie
from qa_service.app import keys
from qa_service.app.dispatch import Dispatcher
from qa_service.config import Settings, storable_utc
from qa_service.domain.enums import KeyRole
from qa_service.exceptions import Forbidden, Unauthorized
from qa_service.storage.store import Store
from qa_service.storage.tables import ApiKey


def _stored_time(t: datetime | None) -> datetime | None:
    return None if t is None else storable_utc(t)


# since/until of every list, KPI and report: without an offset the call center's time
# (QA_TIMEZONE), with one that instant; converted to the stored clock (UTC) for the queries.
TimeQuery = Annotated[
    datetime | None,
    Query(
        description="ISO 8601 date-time: with an offset (`+08:00`, `Z`) that instant; without one "
        "the call center's time (QA_TIMEZONE)"
    ),
    AfterValidator(_stored_time),
]


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


# Security schemes: /docs shows an Authorize button for either. auto_error=False: a missing key
# gets our own 401 message (and the web app's cookie may stand in for it).
API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="an API key (`qa-service keys create`)"
)
BEARER = HTTPBearer(auto_error=False, description="the same API key as a bearer token")


def caller(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    x_api_key: Annotated[str | None, Depends(API_KEY_HEADER)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> ApiKey:
    secret = x_api_key or (bearer.credentials if bearer else None)
    if not secret:
        # The web app's signed session cookie stands in for the key (writes need its CSRF token).
        key = caller_from_cookie(request, store)
        if key is not None:
            return key
        raise Unauthorized("an API key is required (header X-API-Key or Authorization: Bearer)")
    key = keys.lookup(store, secret)
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    return key


def require(role: KeyRole):
    def check(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
        if not keys.allows(key.role, role):
            raise Forbidden(f"this needs the {role} role; the key {key.prefix}… is {key.role}")
        return key

    return check


# ids and versions in paths: the database's integers (a larger one is a 422, not a 500)
RowId = Annotated[int, Path(ge=1, le=MAX_INT)]
Version = Annotated[int, Path(ge=1, le=MAX_INT)]

StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
Viewer = Annotated[ApiKey, Depends(require(KeyRole.VIEWER))]
Reviewer = Annotated[ApiKey, Depends(require(KeyRole.REVIEWER))]
Admin = Annotated[ApiKey, Depends(require(KeyRole.ADMIN))]
