"""The OpenAPI document tells what the service does: every status a route can answer, each
error with the one error body (schemas.ErrorBody, what api/errors.py writes), in place of
FastAPI's default 422 schema (a list of pydantic errors, which this service never sends).

`document(router)` runs on each router before the app includes it. What follows from a route's
own declaration is derived, so a new route is documented by being written: a key (401, 429,
and 503 when the database does not answer to look it up), a role above viewer (403), a path
parameter (404), a body (400 not parseable, 413 too large), and 422 everywhere (the request
guard refuses a NUL character in any path or query). What a route's code raises
beyond that is in EXTRA below; tests/integration/test_schemathesis.py fails on any status the
document does not name, on any body that is not the documented one, and on a request the
document allows that the service refuses (or the other way round).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field

from qa_service.api import deps
from qa_service.api.schemas import ErrorBody, RescoreAccepted
from qa_service.domain.enums import KeyRole

GENERIC = {
    400: "the body cannot be parsed (not JSON, not UTF-8, a broken form)",
    401: "no API key, or an unknown or revoked one",
    403: "the key's role is not enough for this",
    404: "what the path names does not exist",
    413: "the request body is larger than the limit",
    422: "the request is not valid: `detail` says what, `problems` lists each field and why "
    "(out-of-range numbers, identifiers, date-times, NUL characters included)",
    429: "too many wrong API keys from this client: wait the Retry-After seconds",
    503: "the database is unavailable: try again after Retry-After seconds",
}

# What a route's own code answers beyond what its declaration implies: (method, path) -> status
# -> description (an ErrorBody) or a full response entry.
EXTRA: dict[tuple[str, str], dict[int, Any]] = {
    ("POST", "/rubrics"): {
        409: "this rubric id and version are already stored (versions are never overwritten)",
        415: "the rubric was sent as a form upload, not as the YAML body",
        422: "the rubric does not validate: every problem with its line, field and reason",
    },
    ("POST", "/recordings"): {
        404: "the rubric (or the project's active one) is not stored",
        415: "the file name is not an audio file name",
    },
    ("POST", "/recordings/import"): {
        403: "the key is not an admin's, or the path is outside QA_IMPORT_ROOTS",
        404: "no such file, or the rubric is not stored",
    },
    ("POST", "/audits"): {404: "the rubric is not stored"},
    ("POST", "/evaluations/{evaluation_id}/reviews"): {
        409: "the review contradicts the evaluation's current state (already reviewed, "
        "a finding the rule does not allow)",
    },
    ("POST", "/reviews/{review_id}/withdraw"): {409: "the review was already withdrawn"},
    ("GET", "/recordings/{recording_id}/audio"): {
        410: "the audio file is no longer on storage",
    },
    ("POST", "/users"): {409: "a user of this name exists already"},
    ("POST", "/evaluations/{evaluation_id}/appeals"): {
        409: "an appeal of the same thing is open or ruled, or the appeal window has closed",
    },
    ("POST", "/appeals/{appeal_id}/assign"): {409: "the appeal was ruled already"},
    ("POST", "/appeals/{appeal_id}/ruling"): {
        409: "the appeal is ruled already, or assigned to another reviewer",
    },
    ("POST", "/appeals/{appeal_id}/seen"): {409: "the appeal has no ruling yet"},
    ("POST", "/tasks/{task_id}/claim"): {409: "the task is done, or another reviewer's"},
    ("POST", "/tasks/{task_id}/release"): {409: "the task is done, or not the caller's"},
    ("POST", "/tasks/{task_id}/done"): {409: "the task is done already, or another's"},
    ("POST", "/tasks/{task_id}/assign"): {409: "the task is done already"},
    ("POST", "/evaluations/{evaluation_id}/listened"): {409: "the call's task is another's"},
    ("POST", "/calibrations"): {404: "an evaluation named does not exist"},
    ("PUT", "/calibrations/{session_id}/scores"): {409: "the session is closed"},
    ("POST", "/calibrations/{session_id}/close"): {409: "the session is closed already"},
    ("POST", "/rubrics/{rubric_id}/{version}/rescore"): {
        503: {
            "model": RescoreAccepted,
            "description": "the queue is away: kept as a pending job (status pending, "
            "detail why, scope what it will score)",
        },
    },
}


def _link(operation_id: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters}


_JOB = {"job": _link("get_job_jobs__job_id__get", job_id="$response.body#/job_id")}
_RUBRIC = {
    "id": "$response.body#/id",
    "version": "$response.body#/version",
}
# OpenAPI links: where the answer of one operation leads (what a client, and schemathesis's
# stateful phase, follows): (method, path) -> success status -> links
LINKS: dict[tuple[str, str], dict[int, dict[str, Any]]] = {
    ("POST", "/rubrics"): {
        201: {
            "rubric": _link(
                "get_rubric_rubrics__rubric_id___version__get",
                rubric_id=_RUBRIC["id"],
                version=_RUBRIC["version"],
            ),
            "rescore": _link(
                "rescore_rubrics__rubric_id___version__rescore_post",
                rubric_id=_RUBRIC["id"],
                version=_RUBRIC["version"],
            ),
        }
    },
    ("POST", "/rubrics/{rubric_id}/{version}/rescore"): {202: _JOB},
    ("POST", "/recordings"): {200: _JOB, 202: _JOB},
    ("POST", "/recordings/import"): {200: _JOB, 202: _JOB},
    ("POST", "/evaluations/{evaluation_id}/reviews"): {
        201: {
            "review": _link("get_review_reviews__review_id__get", review_id="$response.body#/id"),
            "withdraw": _link(
                "withdraw_reviews__review_id__withdraw_post", review_id="$response.body#/id"
            ),
        }
    },
}


def _calls(dependant) -> list:
    found = [dependant.call]
    for sub in dependant.dependencies:
        found += _calls(sub)
    return found


def _role(calls: list) -> KeyRole | None:
    roles = [getattr(c, "role", None) for c in calls]
    return next((r for r in roles if r is not None), None)


def statuses(route: APIRoute) -> dict[int, Any]:
    """The error statuses `route` can answer, each with its description or response entry."""
    calls = _calls(route.dependant)
    keyed = deps.caller in calls
    codes: dict[int, Any] = {}
    if keyed:
        codes |= {c: GENERIC[c] for c in (401, 429, 503)}
        role = _role(calls)
        if role is not None and role != KeyRole.AGENT:
            codes[403] = f"the caller's role is below {role}"
    if route.dependant.path_params:
        codes[404] = GENERIC[404]
    if route.body_field is not None:
        codes |= {c: GENERIC[c] for c in (400, 413)}
    # every route: the request guard refuses a NUL character in any path or query with a 422
    codes[422] = GENERIC[422]
    for method in route.methods:
        codes |= EXTRA.get((method, route.path), {})
    return codes


def document(router: APIRouter) -> APIRouter:
    """Add the error statuses of every route of `router` to its OpenAPI responses (before the
    router is included in the app: FastAPI builds the document from the included routes)."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for code, entry in statuses(route).items():
            if isinstance(entry, str):
                entry = {"model": ErrorBody, "description": entry}
            declared = route.responses.get(code, {})
            route.responses[code] = {"model": ErrorBody, **entry, **declared}
        for method in route.methods:
            for code, links in LINKS.get((method, route.path), {}).items():
                route.responses.setdefault(code, {})["links"] = links
        # what FastAPI made of `responses` when the route was built, made again
        route.response_fields = {
            code: create_model_field(
                name=f"Response_{code}_{route.unique_id}",
                type_=entry["model"],
                mode="serialization",
            )
            for code, entry in route.responses.items()
            if isinstance(code, int) and entry.get("model") is not None
        }
    return router
