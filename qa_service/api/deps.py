"""Dependencies: the store, the dispatcher, and the caller (a person or an integration's key)
with their role and the agents whose calls they may see."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from qa_service.api import throttle
from qa_service.api.errors import MAX_INT
from qa_service.api.masking import note_caller
from qa_service.api.web.session import caller_from_cookie
from qa_service.app import keys
from qa_service.app.dispatch import Dispatcher
from qa_service.app.people import ROLE_LABELS, Caller, caller_of_key
from qa_service.config import MAX_ID_LENGTH, Settings, storable_utc
from qa_service.domain.enums import KeyRole, Phase
from qa_service.domain.identifiers import valid_identifier
from qa_service.exceptions import Forbidden, Unauthorized
from qa_service.i18n import message
from qa_service.storage.store import Store


def _stored_time(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    try:
        return storable_utc(t)
    except ValueError:  # config's own sentence is English: it sits below the catalog
        raise ValueError(
            message(
                "date-time out of range ({first} to {last})", first="0001-01-02", last="9999-12-30"
            )
        ) from None


def _not_a_number(value: object) -> object:
    """pydantic reads a bare number as Unix seconds (`since=159` is 1970-01-01 00:02:39): a
    since/until is a date-time people write, so a number (12, -4.1e-116, inf) is refused."""
    number = isinstance(value, (int, float))
    if isinstance(value, str):
        try:
            float(value.strip())
            number = True
        except ValueError:
            number = False
    if number:
        raise ValueError(
            message(
                "must be an ISO 8601 date-time ({example}), not a number",
                example="2026-11-20T09:00:00+08:00",
            )
        )
    return value


# since/until of every list, KPI and report: without an offset the call center's time
# (QA_TIMEZONE), with one that instant; converted to the stored clock (UTC) for the queries.
TimeQuery = Annotated[
    datetime | None,
    Query(
        description="ISO 8601 date-time: with an offset (`+08:00`, `Z`) that instant; without one "
        "the call center's time (QA_TIMEZONE)"
    ),
    BeforeValidator(_not_a_number),
    AfterValidator(_stored_time),
]


def _blank_is_none(value: object) -> object:
    return None if value == "" else value


# The phase a trial report reads: its trial calls unless asked; empty (the page's 全部, "all")
# reads every call of the project.
ReportPhase = Annotated[Phase | None, BeforeValidator(_blank_is_none)]


# A day people write (the call center's date): 2026-11-20, never a number read as Unix time.
DayQuery = Annotated[
    date | None,
    Query(description="a date, 2026-11-20 (the call center's day)"),
    BeforeValidator(_not_a_number),
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


# Where the request guard (api/limits.py) leaves the key it authenticated, before the body was
# read, so that the dependency below does not look it up a second time.
CALLER_STATE = "qa_caller"


async def secret_in(request: Request) -> str | None:
    """The API key a request carries (X-API-Key, else Authorization: Bearer), or None."""
    x_api_key = await API_KEY_HEADER(request)
    bearer = await BEARER(request)
    return x_api_key or (bearer.credentials if bearer else None)


def caller(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    x_api_key: Annotated[str | None, Depends(API_KEY_HEADER)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
) -> Caller:
    known = getattr(request.state, CALLER_STATE, None)
    if known is not None:
        return known
    return identify(request, store, x_api_key or (bearer.credentials if bearer else None))


def identify(request: Request, store: Store, secret: str | None) -> Caller:
    """The caller: by `secret` (an API key), else the web app's session cookie. Unauthorized
    (401) without either, or with an unknown or revoked key or a person no longer active; what
    the dependency above and the request guard (api/limits.py, before any byte of the body is
    read) both run."""
    if not secret:
        # The web app's signed session cookie stands in for the key (writes need its CSRF token).
        found = caller_from_cookie(request, store)
        if found is not None:
            return found
        raise Unauthorized(
            message(
                "an API key is required (header {key_header} or {bearer_header})",
                key_header="X-API-Key",
                bearer_header="Authorization: Bearer",
            )
        )
    # a client that sent too many wrong keys is refused before its key is looked up
    limiter, client = throttle.of(request.app), throttle.client_of(request.scope)
    limiter.check(client)
    key = keys.lookup(store, secret)
    who = caller_of_key(store, key) if key is not None else None
    if who is None:
        limiter.note_failure(client)
        raise Unauthorized(message("unknown or revoked API key"))
    return who


def authorize(who: Caller, role: str) -> Caller:
    """The caller, if their role reaches `role`; Forbidden (403) otherwise."""
    if not who.can(KeyRole(role)):
        # the caller by name (a key by its name and id): never characters of a secret
        raise Forbidden(
            message(
                "this needs the {role} role; {who} is {current}",
                role=message(ROLE_LABELS[KeyRole(role)]),
                who=repr(who.shown),
                current=message(ROLE_LABELS.get(who.role, who.role)),
            )
        )
    return who


def require(role: KeyRole):
    def check(request: Request, who: Annotated[Caller, Depends(caller)]) -> Caller:
        authorize(who, role)
        note_caller(request, who.role)  # an admin's answers are served unmasked (api/masking.py)
        return who

    check.role = role  # read by the request guard (api/limits.py)
    return check


# Free text in a path or query: anything but a NUL character (the request guard refuses %00).
NO_NUL = r"^[^\x00]*$"

# domain/identifiers as a regular expression (Python's: its \w is what str.isalnum() accepts,
# and _): empty ("not given"), or letters, digits and _ - . that are not "." and hold no "..".
# The end is (?![\s\S]), not $: Python's $ also matches before a final newline.
IDENTIFIER_PATTERN = r"^(?:|(?!\.(?![\s\S]))(?![\s\S]*\.\.)[\w.-]+)(?![\s\S])"


def _identifier(value: str) -> str:
    return value if value == "" else valid_identifier(value)  # "": not given, as before


# agent ids, project names and rubric ids in paths, queries and forms: one short line of
# letters, digits and _ - . (domain/identifiers); anything else is a 422 naming the parameter
Identifier = Annotated[
    str,
    AfterValidator(_identifier),
    # the same rule for the OpenAPI document (Python's \w is str.isalnum() and _)
    WithJsonSchema(
        {
            "type": "string",
            "maxLength": MAX_ID_LENGTH,
            "pattern": IDENTIFIER_PATTERN,
            "description": "letters of any script, digits and _ - . (not . or ..)",
        }
    ),
]

# ids and versions in paths: the database's integers (a larger one is a 422, not a 500)
RowId = Annotated[int, Path(ge=1, le=MAX_INT)]
Version = Annotated[int, Path(ge=1, le=MAX_INT)]

StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
# Anyone signed in, agents and team leads included: a route taking it filters what it shows by
# the caller's agents (Caller.agents) and answers 404 for a call outside them.
Member = Annotated[Caller, Depends(require(KeyRole.AGENT))]
# QA staff from here on: every call of every agent.
Viewer = Annotated[Caller, Depends(require(KeyRole.VIEWER))]
Reviewer = Annotated[Caller, Depends(require(KeyRole.REVIEWER))]
Manager = Annotated[Caller, Depends(require(KeyRole.MANAGER))]
Admin = Annotated[Caller, Depends(require(KeyRole.ADMIN))]


def agents_filter(who: Caller) -> dict:
    """The `agents` filter of a list or a KPI query for this caller: none for QA staff, their
    agents for agents and team leads (queries.filters)."""
    return {} if who.agents is None else {"agents": who.agents}
