"""The contract (qa_service/schemas.py): the CLI prints the API's evaluation model, it carries
every field of the spec's result JSON, and every API route declares its response model and
the API-key security scheme (so /docs has real schemas and an Authorize button)."""

from __future__ import annotations

import json

from qa_service.api import create_app
from qa_service.app.scoring import Outcome
from qa_service.config import Settings
from qa_service.domain.evaluation import CallEvaluation
from qa_service.domain.results import Utterance as U
from qa_service.i18n import message
from qa_service.rules.rubric import parse_rubric
from qa_service.rules.scoring import Scorer, evaluate
from tests.support import ROOT

SPEC = ROOT.parent / "shared" / "docs" / "rubric-and-result-spec.md"
SPEC_FIELDS = {
    "recording",
    "rubric",
    "score",
    "grade",
    "fatal",
    "outcome",
    "duration",
    "findings",
    "utterances",
    "highlights",
}
RUBRIC = parse_rubric("""
id: contract
version: 2
script_sections:
  - {id: greeting, name: 首问语, any: [您好], weight: 5}
  - {id: persuasion, name: 建议说服, any: [更划算], weight: 5}
mandatory_points:
  - {id: fee, name: 说明月费, any: [每月九十六元], weight: 10}
forbidden_phrases:
  - {id: promise, any: [保证不扣费], severity: fatal, deduct: 100}
objections:
  - {id: pricey, customer_says: [太贵了], agent_should: [每天只要], weight: 10}
outcome: {success: [那就办吧], refusal: [不需要]}
""")
CALL = [
    U("agent", 0.5, 2.123456, "您好，我是客户经理", 0.91234),
    U("customer", 2.5, 3.0, "太贵了"),
    U("agent", 3.2, 6.0, "每天只要三块钱，比现在更划算"),
    U("customer", 6.5, 7.0, "那就办吧"),
]


def spec_result_example() -> dict:
    text = SPEC.read_text(encoding="utf-8")
    return json.loads(text.split("## Result", 1)[1].split("```json", 1)[1].split("```", 1)[0])


def test_the_spec_example_is_a_call_evaluation():
    example = spec_result_example()
    parsed = CallEvaluation.model_validate(example).to_json()
    assert SPEC_FIELDS <= set(parsed)
    assert parsed["findings"][0]["evidence"][0] == example["findings"][0]["evidence"][0]


def test_the_cli_prints_the_evaluation_model_with_every_spec_field():
    result = evaluate("calls/c1.wav", CALL, 8.0, Scorer(RUBRIC))
    result.evaluation_id, result.recording_id, result.agent_id = 7, 3, "A1"
    printed = Outcome("calls/c1.wav", result).to_dict()
    assert SPEC_FIELDS <= set(printed)
    assert printed["rubric"] == {"id": "contract", "version": 2}
    assert printed["grade"] == "pass" and printed["outcome"] == "success"  # missed fee: -10
    assert printed["evaluation_id"] == 7 and printed["recording_id"] == 3
    # times rounded once, the same way as the API's
    assert (
        printed["utterances"][0]["end"] == 2.12 and printed["utterances"][0]["confidence"] == 0.912
    )
    statuses = {f["rule_id"]: f["status"] for f in printed["findings"]}
    assert statuses == {
        "greeting": "hit",
        "persuasion": "hit",
        "fee": "missed",
        "pricey": "handled",
    }
    assert all(
        "similarity" not in e or e["similarity"] is not None
        for f in printed["findings"]
        for e in f["evidence"]
    )  # unknowns left out
    assert printed["highlights"] and printed["highlights"][0]["reason"].startswith(
        "objection_handled"
    )
    # and it is the API's model: it reads back unchanged
    assert CallEvaluation.model_validate(printed).to_json() == printed


def test_a_file_error_is_the_spec_error_entry():
    assert Outcome("x.wav", error="x.wav: the file is empty").to_dict() == {
        "recording": "x.wav",
        "error": "x.wav: the file is empty",
    }


# Routes whose answer is not JSON, or whose shape belongs to another module's report.
NOT_JSON = {
    ("get", "/recordings/{recording_id}/audio"): "audio bytes",
    ("get", "/projects/{project}/wrapup"): "JSON or Markdown (knowledge's wrap-up)",
    ("get", "/exports/kpis"): "a CSV or XLSX file",
    ("get", "/exports/errors"): "a CSV or XLSX file",
    ("get", "/exports/evaluations"): "a CSV or XLSX file",
    ("get", "/exports/projects/{project}/trial"): "a CSV or XLSX file",
    ("get", "/exports/projects/{project}/wrapup"): "a CSV or XLSX file",
}


def api_operations():
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if set(op.get("tags", [])) & {"web"} or not op.get("tags"):
                continue
            yield spec, method, path, op


def test_every_route_declares_its_response_model_and_the_key():
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    assert {"APIKeyHeader", "HTTPBearer"} <= set(spec["components"]["securitySchemes"])
    untyped, open_routes = [], []
    for _, method, path, op in api_operations():
        if path != "/health" and not op.get("security"):
            open_routes.append(f"{method} {path}")
        if (method, path) in NOT_JSON:
            continue
        for code, answer in op["responses"].items():
            if not code.startswith("2"):
                continue
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
            if not ref:
                untyped.append(f"{method} {path} {code}")
    assert not open_routes, f"routes without the API-key scheme: {open_routes}"
    assert not untyped, f"routes without a response model: {untyped}"


def test_every_error_the_api_answers_is_documented_with_the_one_error_body():
    """api/contract.py: FastAPI's default 422 list-of-errors schema is gone; each keyed route
    documents 401, 429 and 503, a role above viewer 403, an id in the path 404, a body 413 —
    all with ErrorBody ({detail: str, problems?: [...]}, what api/errors.py writes)."""
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorBody"]["properties"]["detail"]["type"] == "string"
    own_bodies = {  # answers that are not errors: a pending job, a health report
        ("post", "/recordings", "503"),
        ("post", "/recordings/import", "503"),
        ("post", "/rubrics/{rubric_id}/{version}/rescore", "503"),
        ("get", "/health", "503"),
    }
    wrong = []
    for _, method, path, op in api_operations():
        codes = set(op["responses"])
        needed = {"422"}
        if path != "/health":
            needed |= {"401", "429", "503"}
        if "{" in path:
            needed.add("404")
        if "requestBody" in op:
            needed.add("413")
        agents_own = {  # an agent's own writes: no role refuses them, their scope does (404)
            "/evaluations/{evaluation_id}/appeals",
            "/appeals/{appeal_id}/seen",
            "/evaluations/{evaluation_id}/acknowledge",
        }
        if method == "post" and path != "/audits" and path not in agents_own:
            needed.add("403")  # every other write needs a reviewer, a manager or an admin
        if needed - codes:
            wrong.append(f"{method} {path}: no {sorted(needed - codes)}")
        for code, answer in op["responses"].items():
            if code.startswith("2") or (method, path, code) in own_bodies:
                continue
            ref = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if ref.get("$ref") != "#/components/schemas/ErrorBody":
                wrong.append(f"{method} {path} {code}: {ref}")
    assert not wrong, wrong


def test_since_and_until_take_a_date_time_never_a_number():
    from pydantic import TypeAdapter, ValidationError

    from qa_service.api.deps import TimeQuery

    times = TypeAdapter(TimeQuery)
    for number in ("159", "-3", "1.5", 159, "-4.109962286424333e-116", "1e3", "inf"):
        try:
            times.validate_python(number)
        except ValidationError as exc:
            assert message(
                "must be an ISO 8601 date-time ({example}), not a number",
                example="2026-11-20T09:00:00+08:00",
            ) in str(exc)
        else:
            raise AssertionError(f"{number!r} was taken as a time")
    assert times.validate_python("2026-11-20T09:00:00+08:00").isoformat() == "2026-11-20T01:00:00"


def test_the_documented_identifier_pattern_is_the_identifier_rule():
    import re

    from qa_service.api.deps import IDENTIFIER_PATTERN
    from qa_service.domain.identifiers import identifier_problem

    pattern = re.compile(IDENTIFIER_PATTERN)
    samples = ["a", "坐席_07", "care-2026.v2", "x" * 64, ".", "..", "a..b", "a/b", "a b", "a\n"]
    samples += ["", "é", "-", "_", ".a", "a.", "%", "a\x00", "１２", "x" * 65]
    for value in samples:
        valid = value == "" or identifier_problem(value) is None
        documented = pattern.search(value) is not None and len(value) <= 64
        assert valid == documented, value


def test_a_running_app_keeps_its_start_up_objects_out_of_full_collections(tmp_path):
    """While the server runs, what start-up built is frozen (a full collection walking it
    stalled one request in twenty-four by ~250 ms at 5M evaluations); once the app stops it is
    collectable again, so a process that builds many apps (the tests) does not keep them."""
    import gc

    from fastapi.testclient import TestClient

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qa.db'}", redis_url=None)
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
