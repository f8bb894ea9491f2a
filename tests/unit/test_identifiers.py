"""Agent ids, project names and rubric ids: one short line of letters, digits and _ - . at every
entry (rubric YAML, sidecar metadata, CLI); and no key's secret prefix in a review trail."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from typer.testing import CliRunner

from qa_service.app.people import Caller
from qa_service.cli import app
from qa_service.domain.identifiers import identifier_problem
from qa_service.domain.metadata import read_metadata
from qa_service.exceptions import MetadataError, RubricError
from qa_service.i18n import message
from qa_service.review.models import ReviewOut
from qa_service.rules.rubric import parse_rubric
from tests.support import said


@pytest.mark.parametrize(
    "value", ["A017", "telecom-upgrade", "care.call", "care_call", "关怀回访", "外呼一期", "x" * 64]
)
def test_valid_identifiers(value):
    assert identifier_problem(value) is None
    assert parse_rubric(f"id: {value}\n", "r").id == value


ONLY = "may hold only letters, digits and _ - . (not {char})"
LONG = "must be at most {max} characters (it has {n})"


@pytest.mark.parametrize(
    "value, msgid, fields",
    [
        ("care/../x", ONLY, {"char": "'/'"}),
        ("a..b", "must not be . or contain ..", {}),
        ("..", "must not be . or contain ..", {}),
        ("x" * 65, LONG, {"max": 64, "n": 65}),
        ("A" * 500, LONG, {"max": 64, "n": 500}),
        ("a b", ONLY, {"char": "' '"}),
        ("a\x00b", ONLY, {"char": "'\\x00'"}),
        ("a\nb", ONLY, {"char": "'\\n'"}),
        ("a\\b", ONLY, {"char": "'\\\\'"}),
        ("", "must not be empty", {}),
    ],
)
def test_invalid_identifiers(value, msgid, fields):
    assert identifier_problem(value) == message(msgid, **fields)


def test_rubric_id_is_refused_at_its_line():
    with pytest.raises(RubricError) as info:
        parse_rubric("name: x\nid: care/../x\n", "r.yaml")
    assert f"r.yaml:2: id: {message(ONLY, char=repr('/'))}" in str(info.value)


def test_sidecar_ids_are_checked(tmp_path):
    audio = tmp_path / "call.wav"
    audio.write_bytes(b"")
    sidecar = tmp_path / "call.json"
    sidecar.write_text(json.dumps({"agent_id": "A" * 500, "project": "p"}), encoding="utf-8")
    with pytest.raises(MetadataError, match=f"agent_id {said(LONG, max=64)}"):
        read_metadata(audio)
    sidecar.write_text(json.dumps({"agent_id": "A1", "project": "../etc"}), encoding="utf-8")
    with pytest.raises(MetadataError, match=f"project {said(ONLY, char=repr('/'))}"):
        read_metadata(audio)
    sidecar.write_text(json.dumps({"agent_id": "坐席07", "project": "外呼一期"}), encoding="utf-8")
    meta = read_metadata(audio)
    assert (meta.agent_id, meta.project) == ("坐席07", "外呼一期")


def test_cli_project_is_checked(tmp_path):
    done = CliRunner().invoke(
        app, ["wrapup", "--project", "../x", "--db", f"sqlite:///{tmp_path / 'qa.db'}"]
    )
    shown = re.sub(r"[\s│]", "", done.output)  # rich wraps the message in a box
    assert done.exit_code == 2 and re.sub(r"\s", "", message(ONLY, char="'/'")) in shown, shown


def test_review_trails_name_the_key_not_its_secret():
    key = Caller(name="质检员小王", role="reviewer", key_id=7)  # a key of no person
    assert key.shown == "质检员小王 (key 7)"
    person = Caller(name="wang", role="reviewer", key_id=7, user_id=3)  # a person's key
    assert person.shown == "wang"
    # reviews stored before keep their text, shown without the secret's first characters
    old = ReviewOut(
        id=1,
        recording_id=1,
        rubric_id="r",
        rubric_version=1,
        evaluation_id=1,
        target="finding",
        action="confirm",
        old_value="hit",
        new_value="hit",
        comment="",
        evidence_text="",
        reviewer="质检员小王 (qa_Ab3dE9f…)",
        created_at=datetime(2026, 1, 1),
        withdrawn_by="组长 (qa_Zz9-_x1…)",
    )
    assert (old.reviewer, old.withdrawn_by) == ("质检员小王", "组长")
