import pytest

from qa_service.rubric import RubricError, load_rubric, parse_rubric
from tests.support import RUBRICS, ROOT


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
    assert "bad regex" in str(err)


def test_duplicate_id():
    err = refused("id: x\nmandatory_points:\n  - {id: a, any: [你好], weight: 5}\n"
                  "forbidden_phrases:\n  - {id: a, any: [滚], deduct: 5}\n")
    assert "bad.yaml:5:" in str(err) and "duplicate id 'a'" in str(err)


def test_unknown_check():
    err = refused("id: x\nattitude_errors:\n  - {id: z, check: hang_up, deduct: 5}\n")
    assert "bad.yaml:3:" in str(err) and ".check" in str(err) and "unknown check 'hang_up'" in str(err)


def test_weight_not_a_number():
    err = refused("id: x\nmandatory_points:\n  - id: a\n    any: [你好]\n    weight: ten\n")
    assert "bad.yaml:5:" in str(err) and "weight" in str(err) and "number" in str(err)


def test_rule_without_phrases_and_bad_yaml():
    assert "needs at least one of" in str(refused("id: x\nmandatory_points:\n  - {id: a, weight: 5}\n"))
    assert "not valid YAML" in str(refused("id: [1\n"))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(RubricError, match="no such file"):
        load_rubric(tmp_path / "nope.yaml")
