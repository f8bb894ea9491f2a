import re
import textwrap

import pytest

from qa_service.domain.enums import SectionKind
from qa_service.exceptions import RubricError
from qa_service.i18n import message
from qa_service.rules.rubric import DEFAULT_FAREWELL, load_rubric, parse_rubric
from tests.support import ROOT, RUBRICS, said


def test_spec_example_loads_unchanged():
    rubric = load_rubric(ROOT / "tests" / "data" / "spec_example.yaml")
    assert rubric.id == "telecom-data-upgrade"
    assert rubric.attitude_errors[1].check == "agent_hangup"
    assert rubric.forbidden_phrases[0].severity == "fatal"
    assert rubric.objections[0].within_turns == 2


@pytest.mark.parametrize("path", sorted(RUBRICS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_rubrics_load(path):
    rubric = load_rubric(path)
    assert rubric.script_sections and rubric.mandatory_points


def refused(text: str) -> RubricError:
    with pytest.raises(RubricError) as info:
        parse_rubric(text, "bad.yaml")
    return info.value


def test_bad_regex_names_file_line_field():
    err = refused("id: x\nforbidden_phrases:\n  - id: f\n    regex: ['(赚']\n    deduct: 5\n")
    assert "bad.yaml:4:" in str(err) and "forbidden_phrases[0](id=f).regex" in str(err)
    assert re.search(said("bad regex {pattern}: {reason}", pattern="'(赚'"), str(err))


def test_duplicate_id():
    err = refused(
        "id: x\nmandatory_points:\n  - {id: a, any: [你好], weight: 5}\n"
        "forbidden_phrases:\n  - {id: a, any: [滚], deduct: 5}\n"
    )
    first = message(
        "duplicate id {id} (first used in {where})", id="'a'", where="mandatory_points[0]"
    )
    assert f"bad.yaml:5: forbidden_phrases[0].id: {first}" in str(err)


def test_unknown_check():
    err = refused("id: x\nattitude_errors:\n  - {id: z, check: hang_up, deduct: 5}\n")
    assert (
        "bad.yaml:3:" in str(err)
        and ".check" in str(err)
        and re.search(
            said("unknown check {check}; known checks: {checks}", check="'hang_up'"), str(err)
        )
    )


def test_weight_not_a_number():
    err = refused("id: x\nmandatory_points:\n  - id: a\n    any: [你好]\n    weight: ten\n")
    assert "bad.yaml:5:" in str(err) and "weight" in str(err) and "应为数字" in str(err)


def test_rule_without_phrases_and_bad_yaml():
    assert message("needs at least one of {fields}", fields="any, all, regex, similar") in str(
        refused("id: x\nmandatory_points:\n  - {id: a, weight: 5}\n")
    )
    assert re.search(said("not valid YAML: {reason}"), str(refused("id: [1\n")))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RubricError, match=said("no such file")):
        load_rubric(tmp_path / "nope.yaml")


SHARED = ROOT.parent / "shared"


@pytest.mark.parametrize(
    "path", sorted((SHARED / "corpus").glob("*/rubric.yaml")), ids=lambda p: p.parent.name
)
def test_shared_corpus_rubrics_load(path):
    assert load_rubric(path).script_sections


def spec_yaml_blocks() -> list[str]:
    text = (SHARED / "docs" / "rubric-and-result-spec.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml")[1:]]
    return [textwrap.dedent(b) for b in blocks]


def test_every_yaml_example_of_the_spec_loads():
    blocks = spec_yaml_blocks()
    assert len(blocks) >= 2  # the full rubric and the `similar:` example
    for i, block in enumerate(blocks):
        text = block if block.lstrip().startswith("id:") else "id: spec-example\n" + block
        parse_rubric(text, f"spec block {i}")
    similar = parse_rubric("id: s\n" + blocks[1], "spec")
    assert similar.mandatory_points[0].similar == ["每个月只要交九十六块钱", "月租是96元"]


def test_unknown_field_is_refused_with_line_and_the_likely_name():
    err = refused("id: x\nmandatory_points:\n  - id: a\n    any: [你好]\n    wieght: 10\n")
    assert "bad.yaml:5:" in str(err)
    assert "mandatory_points[0](id=a).wieght" in str(err)
    assert "未知字段 'wieght'（是不是 'weight'？）" in str(err)
    top = refused("id: x\nscoringg: {total: 100}\n")
    assert "bad.yaml:2:" in str(top) and "是不是 'scoring'" in str(top)
    nested = refused("id: x\nscoring: {total: 100, pass: 60}\n")
    assert "scoring.pass" in str(nested) and "未知字段 'pass'" in str(nested)


def test_an_unknown_key_with_a_bracket_is_a_rubric_error():
    # schemathesis found it: "[" in a key dropped it from the location, and naming the unknown
    # field raised IndexError (a 500 on POST /rubrics)
    with pytest.raises(RubricError, match="未知字段"):
        parse_rubric('"a[b": 1\n', "uploaded rubric")


def test_section_kind_from_id_name_or_explicit():
    rubric = parse_rubric(
        "id: x\nscript_sections:\n"
        "  - {id: greeting, any: [您好]}\n"  # by id
        "  - {id: s2, name: 结束语, any: [再见]}\n"  # by the Chinese name
        "  - {id: pitch, name: 卖点, kind: persuasion, any: [划算]}\n"  # said outright
        "  - {id: custom, name: 自定义, any: [好]}\n"
    )  # none of the six
    assert [s.kind for s in rubric.script_sections] == [
        SectionKind.GREETING,
        SectionKind.FAREWELL,
        SectionKind.PERSUASION,
        None,
    ]
    assert "kind" in str(refused("id: x\nscript_sections:\n  - {id: a, kind: hello, any: [好]}\n"))


def test_builtin_defaults_are_visible_and_the_farewell_follows_the_section():
    plain = parse_rubric("id: x\nattitude_errors:\n  - {id: h, check: agent_hangup, deduct: 5}\n")
    assert plain.attitude_errors[0].farewell == DEFAULT_FAREWELL
    assert "稍等" in plain.attitude_errors[0].hold_phrases
    assert "因为" in plain.attitude_errors[0].transfer_reasons
    with_section = parse_rubric(
        "id: x\nscript_sections:\n  - {id: bye, name: 结束语, any: [拜拜了您]}\n"
        "attitude_errors:\n  - {id: h, check: agent_hangup, deduct: 5}\n"
        "  - {id: h2, check: agent_hangup, farewell: [回头见], deduct: 5}\n"
    )
    assert with_section.attitude_errors[0].farewell == ["拜拜了您"]
    assert with_section.attitude_errors[1].farewell == ["回头见"]  # the rule's own wins


def test_check_names_are_one_list():
    from typing import get_args

    from qa_service.rules.checks import BUILTINS
    from qa_service.rules.rubric import BUILTIN_CHECKS, AttitudeError

    assert set(BUILTINS) == set(BUILTIN_CHECKS)
    annotation = AttitudeError.model_fields["check"].annotation
    assert set(get_args(get_args(annotation)[0])) == set(BUILTIN_CHECKS)


def test_recognition_is_biased_toward_what_the_agent_should_say_only():
    text = (
        "id: x\nasr: {hotwords: [畅享套餐, 合约期]}\n"
        "script_sections:\n  - {id: greeting, any: [您好, 你好]}\n"
        "  - {id: closing, any: [帮您办理, 畅享套餐]}\n"
        "mandatory_points:\n  - {id: fee, any: [每月96元]}\n"
        "forbidden_phrases:\n  - {id: fp, any: [保证不扣费]}\n"
        "attitude_errors:\n  - {id: rude, any: [你烦不烦]}\n"
        "objections:\n  - {id: o, customer_says: [太贵], agent_should: [算下来]}\n"
        "outcome: {success: [给我办], refusal: [不需要]}\n"
    )
    rubric = parse_rubric(text)
    # What the agent should say, each term once and not again when it is a hotword; never a
    # violation's, an objection's or the customer's words.
    assert rubric.script_terms() == ["您好", "你好", "帮您办理", "每月96元"]
    off = parse_rubric(text.replace("asr: {", "asr: {script_phrases: false, "))
    assert off.script_terms() == [] and off.asr.hotwords == ["畅享套餐", "合约期"]
