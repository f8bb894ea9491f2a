"""Errors and command-line output in the product's language: in zh_CN an API error (its detail
and every problem's field and reason) and what `qa-service` prints (tables, summaries, error
lines) hold no English word outside the allowlist and what the user typed (ids, file names,
codes, quoted values); with QA_LOCALE=en they are English. JSON output keeps the result spec's
codes. The word scan is the one of the page test (tests/support.english_words)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import update
from typer.testing import CliRunner

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.app.people import create_user
from qa_service.cli import app as cli_app
from qa_service.config import Settings, get_settings
from qa_service.domain.enums import Category, FindingStatus, Grade
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.files import sha256_of
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation
from tests.support import RUBRICS, SAMPLES, english_words

RUBRIC_ID = "telecom-data-upgrade"
RUBRIC_FILE = RUBRICS / f"{RUBRIC_ID}.yaml"
RUBRIC_YAML = RUBRIC_FILE.read_text(encoding="utf-8")
CALL = SAMPLES / RUBRIC_ID / "telecom-upgrade_A017_20261120-091403.wav"
PROJECT = "telecom-upgrade"  # the file's name gives it, and agent A017, when it is scored
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
# A call that fails: the greeting and little else, a refusal, a rude line.
UTTERANCES = [
    U("agent", 0.5, 2.0, "您好，我是中国电信客户经理"),
    U("customer", 2.5, 3.0, "不需要"),
    U("agent", 3.5, 5.0, "你烦不烦啊"),
]
# What the requests and the data put into answers: ids and names given, the API's own field
# and parameter names and the headers a client sends.
TYPED = (RUBRIC_ID, "nope-rubric", "no-such-job", "no-such-project", "agent1", "viewer1", "A1",
         "p", "grade", "since", "page", "project", "reviewers", "password", "script",
         "X-API-Key", "Authorization: Bearer", "Content-Type")  # fmt: skip


@pytest.fixture(autouse=True)
def _settings_again():
    yield
    get_settings.cache_clear()  # the next test reads its own QA_LOCALE


def _locale(monkeypatch, locale: str) -> None:
    monkeypatch.setenv("QA_LOCALE", locale)
    get_settings.cache_clear()


def _world(tmp_path, url):
    """A store with the rubric, one failed call of agent A1 scored 8 days ago (past the appeal
    window) from a hand-made transcript of a sample file, its agent, and keys."""
    store = Store(url)
    rubric = load_rubric(RUBRIC_FILE)
    store.rubrics.save(rubric, RUBRIC_YAML)
    meta = CallMetadata(agent_id="A1", project="p", call_time=datetime(2026, 11, 20, 9))
    rec = store.recordings.save_transcript(
        sha256_of(CALL), str(CALL), meta, 6.0, 2, "stereo", "hand-made", UTTERANCES
    )
    result = evaluate(str(CALL), UTTERANCES, 6.0, Scorer(rubric))
    ev = record_evaluation(store, rec.id, result)
    with store.session() as s:
        s.exec(
            update(Evaluation)
            .where(Evaluation.id == ev.id)
            .values(created_at=datetime.utcnow() - timedelta(days=8))
        )
        s.commit()
    agent = create_user(store, "agent1", "agent-password-1", "agent", agent_id="A1")
    keys = {
        "admin": create_key(store, "admin", "admin1")[1],
        "viewer": create_key(store, "viewer", "viewer1")[1],
        "agent": create_key(store, "agent", "agent1", user_id=agent.id)[1],
    }
    settings = Settings(database_url=url, redis_url="", storage_dir=tmp_path / "storage")
    return create_app(settings), keys, ev.id


def _bad_requests(client, keys, ev_id) -> dict[str, tuple[int, dict]]:
    """name -> (status, JSON body) of a representative bad request to each family of routes."""
    admin = {"X-API-Key": keys["admin"]}
    as_yaml = {**admin, "Content-Type": "application/yaml"}
    findings = client.get(f"/evaluations/{ev_id}", headers=admin).json()["findings"]
    hit = next(f for f in findings if f["status"] == FindingStatus.HIT)
    bad_rubric = RUBRIC_YAML.replace("pass_score: 80", "pass_score: eighty").replace(
        "mandatory_points:\n", "mandatory_points:\n  - {id: greeting, any: ['(赚'], wieght: 5}\n"
    )

    def upload(name: str, content: bytes, rubric: bool = True) -> tuple[str, str, dict]:
        data = {"rubric_id": RUBRIC_ID, "rubric_version": "1"} if rubric else {}
        return "post", "/recordings", {"headers": admin, "files": {"file": (name, content)},
                                       "data": data}  # fmt: skip

    requests = {
        "rubric: not YAML": ("post", "/rubrics", {"headers": as_yaml, "content": "id: [1\n"}),
        "rubric: problems": ("post", "/rubrics", {"headers": as_yaml, "content": bad_rubric}),
        "rubric: a form": (
            "post",
            "/rubrics",
            {"headers": admin, "files": {"file": ("r.yaml", RUBRIC_YAML.encode())}},
        ),
        "rubric: another text, same version": (
            "post",
            "/rubrics",
            {
                "headers": as_yaml,
                "content": RUBRIC_YAML.replace("pass_score: 80", "pass_score: 70"),
            },
        ),
        "knowledge base: problems": (
            "post",
            "/knowledge-bases",
            {"headers": as_yaml, "content": "id: k\nfacts:\n  - {id: fee, value: 96, unit: 斤}\n"},
        ),
        "no key": ("get", "/rubrics", {}),
        "unknown key": ("get", "/rubrics", {"headers": {"X-API-Key": "qa_nonsense"}}),
        "forbidden role": (
            "post",
            "/rubrics",
            {
                "headers": {"X-API-Key": keys["viewer"], "Content-Type": "application/yaml"},
                "content": RUBRIC_YAML,
            },
        ),  # fmt: skip
        "unknown evaluation": ("get", "/evaluations/999999", {"headers": admin}),
        "unknown recording": ("get", "/recordings/999999", {"headers": admin}),
        "unknown rubric": ("get", "/rubrics/nope-rubric/1", {"headers": admin}),
        "unknown job": ("get", "/jobs/no-such-job", {"headers": admin}),
        "unknown project": ("get", "/projects/no-such-project/trial", {"headers": admin}),
        "unknown review": ("post", "/reviews/999999/withdraw", {"headers": admin, "json": {}}),
        "no route": ("get", "/no-such-page/at-all", {"headers": admin}),
        "filter: grade": ("get", "/evaluations", {"headers": admin, "params": {"grade": "bogus"}}),
        "filter: a number as a time": (
            "get",
            "/evaluations",
            {"headers": admin, "params": {"since": "12"}},
        ),
        "filter: calendar's end": (
            "get",
            "/kpis",
            {"headers": admin, "params": {"since": "0001-01-01T00:00:00"}},
        ),
        "filter: group": ("get", "/kpis", {"headers": admin, "params": {"group_by": "bogus"}}),
        "filter: page": ("get", "/evaluations", {"headers": admin, "params": {"page": "x"}}),
        "filter: twice": ("get", "/flagged?rule=a&rule=b", {"headers": admin}),
        "filter: project": (
            "get",
            "/evaluations",
            {"headers": admin, "params": {"project": "a/../b"}},
        ),
        "audio: not audio": upload("notes.wav", b"this is not audio\n" * 50),
        "audio: not an audio name": upload("notes.txt", b"x" * 100),
        "audio: no project": upload("a.wav", b"RIFF0000WAVE", rubric=False),
        "appeal: outside the window": (
            "post",
            f"/evaluations/{ev_id}/appeals",
            {
                "headers": {"X-API-Key": keys["agent"]},
                "json": {"target": "grade", "reason": "晚了"},
            },
        ),
        "review: bad status": (
            "post",
            f"/evaluations/{ev_id}/reviews",
            {
                "headers": admin,
                "json": {
                    "target": "finding",
                    "action": "override",
                    "finding_id": hit["id"],
                    "value": "bogus",
                    "comment": "复听",
                },
            },
        ),
        "review: no comment": (
            "post",
            f"/evaluations/{ev_id}/reviews",
            {"headers": admin, "json": {"target": "grade", "action": "override", "value": "pass"}},
        ),
        "calibration: one reviewer": (
            "post",
            "/calibrations",
            {
                "headers": admin,
                "json": {"name": "校准", "evaluation_ids": [ev_id], "reviewers": ["admin1"]},
            },
        ),  # fmt: skip
        "audit: script": (
            "post",
            "/audits",
            {"headers": admin, "json": {"rubric_id": RUBRIC_ID, "script": "# 标题\n"}},
        ),
        "user: short password": (
            "post",
            "/users",
            {"headers": admin, "json": {"name": "wang", "password": "x", "role": "reviewer"}},
        ),
    }
    answers = {}
    for name, (method, path, kwargs) in requests.items():
        r = client.request(method.upper(), path, **kwargs)
        answers[name] = (r.status_code, r.json())
    return answers


def _sentences(body: dict) -> list[str]:
    """What a person reads in an error: its detail, and each problem's field and reason."""
    out = [body["detail"]]
    for p in body.get("problems") or []:
        out += [str(p.get("field") or ""), str(p.get("reason") or "")]
    return out


def _answers(tmp_path, url, monkeypatch, locale: str) -> dict[str, tuple[int, dict]]:
    _locale(monkeypatch, locale)
    app, keys, ev_id = _world(tmp_path, url)
    with TestClient(app, raise_server_exceptions=False) as client:
        return _bad_requests(client, keys, ev_id)


def test_api_errors_read_in_chinese(tmp_path, sqlite_url, monkeypatch):
    answers = _answers(tmp_path, sqlite_url, monkeypatch, "zh_CN")
    english = {}
    for name, (status, body) in answers.items():
        assert 400 <= status < 500, (name, status, body)
        found = set().union(*(english_words(t, TYPED) for t in _sentences(body)))
        if found:
            english[name] = (sorted(found), body["detail"])
    assert not english, english
    # the requests reach what they are meant to: a sample of the statuses
    assert [answers[n][0] for n in ("forbidden role", "unknown job", "audio: not audio")] == [
        403,
        404,
        422,
    ]
    assert answers["appeal: outside the window"][0] == 409
    problems = answers["rubric: problems"][1]["problems"]
    assert {p["field"] for p in problems} >= {"scoring.pass_score"}, problems


def test_api_errors_read_in_english_with_qa_locale_en(tmp_path, sqlite_url, monkeypatch):
    answers = _answers(tmp_path, sqlite_url, monkeypatch, "en")
    chinese = {}
    for name, (_status, body) in answers.items():
        # values are quoted as sent or typed (a rubric's phrase, a unit); the name given is data
        text = re.sub(r"'[^'\n]*'", "", " ".join(_sentences(body))).replace("校准", "")
        if CJK.search(text):
            chinese[name] = body["detail"]
    assert not chinese, chinese
    window = answers["appeal: outside the window"][1]["detail"]
    assert re.match(r"the appeal window of evaluation \d+ has closed", window), window


def _cli(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, [str(a) for a in args])
    return result.exit_code, result.output


def _cli_outputs(tmp_path, url) -> dict[str, tuple[int, str]]:
    """The human-readable output of the commands people run, on a store where the sample call
    has its (hand-made) transcript already: scoring reuses it, no recognition."""
    _world(tmp_path, url)
    notes = tmp_path / "notes.wav"
    notes.write_text("this is not audio\n", encoding="utf-8")
    bad_rubric = tmp_path / "bad.yaml"
    bad_rubric.write_text(RUBRIC_YAML.replace("pass_score: 80", "pass_score: eighty"), "utf-8")
    scripts = RUBRICS / "scripts"
    return {
        "score": _cli("score", CALL, notes, "--rubric", RUBRIC_FILE, "--db", url),
        "rescore": _cli("rescore", "--rubric", RUBRIC_FILE, "--project", PROJECT, "--db", url),
        "audit": _cli("audit", scripts / f"{RUBRIC_ID}.planted.md", "--rubric", RUBRIC_FILE),
        "audit clean": _cli("audit", scripts / f"{RUBRIC_ID}.md", "--rubric", RUBRIC_FILE),
        "wrapup": _cli("wrapup", "--project", PROJECT, "--db", url, "--reports", tmp_path / "r"),
        "wrapup: no calls": _cli("wrapup", "--project", "none", "--db", url),
        "check-rubric": _cli("check-rubric", RUBRIC_FILE, bad_rubric, tmp_path / "none.yaml"),
        "keys list": _cli("keys", "list", "--db", url),
        "keys revoke": _cli("keys", "revoke", "99", "--db", url),
    }


def cli_typed() -> tuple[str, ...]:
    """What the commands print as given: the rubric's and knowledge base's ids (a rule without
    a name shows its id), the project and agent of the file's name, the people named."""
    rubric = load_rubric(RUBRIC_FILE)
    ids = (rubric.id, "changxiang-plan", *(rule.id for _, _, rule in rubric.rules()))
    return (*TYPED, *ids, PROJECT, "A017", "admin1", "none")


def test_command_line_reads_in_chinese(tmp_path, sqlite_url, monkeypatch):
    _locale(monkeypatch, "zh_CN")
    outputs = _cli_outputs(tmp_path, sqlite_url)
    english = {}
    for name, (_code, text) in outputs.items():
        found = english_words(text, cli_typed())
        if found:
            english[name] = (sorted(found), text[-3000:])
    assert not english, english
    assert [outputs[n][0] for n in ("score", "audit", "audit clean", "check-rubric")] == [
        2,
        1,
        0,
        2,
    ]
    assert outputs["keys list"][0] == 0 and "管理员" in outputs["keys list"][1]
    # grades and statuses by the names the pages use
    assert "不合格" in outputs["score"][1] and "漏说" in outputs["score"][1]


def test_json_output_keeps_the_result_spec_codes(tmp_path, sqlite_url, monkeypatch):
    _locale(monkeypatch, "zh_CN")
    _world(tmp_path, sqlite_url)
    code, out = _cli("score", CALL, "--rubric", RUBRIC_FILE, "--format", "json", "--db", sqlite_url)
    assert code == 0, out
    [result] = json.loads(out)
    assert result["grade"] == Grade.FAIL
    statuses = {f["status"] for f in result["findings"]}
    assert statuses and statuses <= set(FindingStatus.values()), statuses
    assert {f["category"] for f in result["findings"]} <= set(Category.values())


def test_command_line_reads_in_english_with_qa_locale_en(tmp_path, sqlite_url, monkeypatch):
    _locale(monkeypatch, "en")
    outputs = _cli_outputs(tmp_path, sqlite_url)
    code, score = outputs["score"]
    assert code == 2 and "calls 1  machine pass rate" in score and " fail " in score
    assert "missed" in score and "不合格" not in score
    assert "ok (telecom-data-upgrade v" in outputs["check-rubric"][1]
    assert "clean: no problems" in outputs["audit clean"][1]
    assert "Administrator" in outputs["keys list"][1]
