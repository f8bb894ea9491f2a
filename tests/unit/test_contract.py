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
