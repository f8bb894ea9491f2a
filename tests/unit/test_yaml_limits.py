"""Every YAML document we parse (rubrics, knowledge bases) is refused past its limits while the
parser reads it, before an object is built; a refusal lists a bounded number of problems; an
audit's script is refused past its limits before any matching."""

from __future__ import annotations

import re

import pytest

from qa_service.config import (
    MAX_PROBLEM_CHARS,
    MAX_PROBLEMS,
    YAML_MAX_ALIASES,
    YAML_MAX_CHARS,
    YAML_MAX_DEPTH,
)
from qa_service.exceptions import KnowledgeError, RubricError, ScriptError
from qa_service.i18n import message
from qa_service.rules.audit import check_size
from qa_service.rules.knowledge import parse_knowledge
from qa_service.rules.rubric import parse_rubric
from tests.support import RUBRICS, said

RUBRIC_YAML = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
# Nine levels of ten aliases each: 10**9 values once expanded, from 300 characters.
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
)


def refusal(parse, text: str) -> RubricError:
    with pytest.raises(RubricError) as refused:
        parse(text)
    return refused.value


@pytest.mark.parametrize("parse", [parse_rubric, parse_knowledge])
@pytest.mark.parametrize(
    ("text", "says"),
    [
        (LAUGHS, ("more than {n:,} values once its aliases are expanded", {})),
        (
            "x: &a v\nfacts: [" + ", ".join(["*a"] * (YAML_MAX_ALIASES + 1)) + "]\n",
            ("more than {n} aliases (*name)", {"n": YAML_MAX_ALIASES}),
        ),
        (
            "x: &a [1, *a]\n",
            ("an alias (*name) to no node before it, or to the node it is in", {}),
        ),
        (
            "x: " + "[" * (YAML_MAX_DEPTH + 1) + "]" * (YAML_MAX_DEPTH + 1) + "\n",
            ("nested deeper than {n} levels", {"n": YAML_MAX_DEPTH}),
        ),
        (
            "# " + "x" * YAML_MAX_CHARS + "\n",
            ("{n:,} characters: more than the {max:,} allowed", {"max": YAML_MAX_CHARS}),
        ),
    ],
    ids=["laughs", "aliases", "cycle", "depth", "size"],
)
def test_yaml_past_its_limits_is_one_short_problem(parse, text, says):
    refused = refusal(parse, text)
    assert len(refused.problems) == 1, refused.problems
    assert re.fullmatch(said(says[0], **says[1]), refused.problems[0][2]), refused.problems
    assert len(str(refused)) < 500


def test_a_few_aliases_still_load():
    text = RUBRIC_YAML.replace(
        "outcome:\n  success: [给我办一下, 那就办吧]",
        "outcome:\n  success: &yes [给我办一下, 那就办吧]\n  extra_success: *yes",
    )
    assert "&yes" in text
    refused = refusal(parse_rubric, text)  # extra_success is no field: the alias itself is fine
    assert "extra_success" in str(refused) and "alias" not in str(refused)
    parse_rubric(RUBRIC_YAML.replace("success: [给我办一下, 那就办吧]", "success: &s [给我办一下]"))


def test_problems_are_bounded():
    many = RUBRIC_YAML.replace(
        "forbidden_phrases:\n",
        "forbidden_phrases:\n"
        + f"  - id: long\n    ? {'k' * 5_000}\n    : 1\n"  # a key past YAML's simple keys
        + "".join(f"  - {{id: x{i}, wieght: 1}}\n" for i in range(500)),
    )
    refused = refusal(parse_rubric, many)
    assert len(refused.problems) == MAX_PROBLEMS + 1
    assert re.fullmatch(
        said("and {more:,} more problems (the first {n} shown)", n=MAX_PROBLEMS),
        refused.problems[-1][2],
    )
    assert any(p[2].startswith("未知字段 'kkk") and p[2].endswith("…") for p in refused.problems)
    assert all(
        len(p[1]) <= MAX_PROBLEM_CHARS and len(p[2]) <= MAX_PROBLEM_CHARS for p in refused.problems
    )
    kb = "id: k\nfacts:\n" + f"- id: f\n  ? {'k' * 5_000}\n  : 1\n" + "- 1\n" * 1_000
    refused = refusal(parse_knowledge, kb)
    assert isinstance(refused, KnowledgeError) and len(refused.problems) == MAX_PROBLEMS + 1
    assert len(str(refused)) < (MAX_PROBLEMS + 1) * (2 * MAX_PROBLEM_CHARS + 50)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("您好" * 6, "QA_AUDIT_MAX_CHARS"),
        ("好\n" * 4, "QA_AUDIT_MAX_LINES"),
        ("好\n" + "您" * 6, "QA_AUDIT_MAX_LINE_CHARS"),
    ],
)
def test_script_limits(text, says):
    with pytest.raises(ScriptError) as refused:
        check_size(text, "s.md", max_chars=10, max_lines=3, max_line_chars=5)
    assert says in str(refused.value)
    if says == "QA_AUDIT_MAX_LINE_CHARS":
        assert str(refused.value) == message(
            "{source}:{number}: the line has {n:,} characters, more than the {max:,} a line may "
            "have ({setting}); break it into sentences",
            source="s.md",
            number=2,
            n=6,
            max=5,
            setting=says,
        )


def test_script_within_limits():
    check_size("您好\n请问", "s.md", max_chars=10, max_lines=3, max_line_chars=5)
