"""Pre-trial script audit: the shipped scripts (clean ones report nothing, planted ones every
planted problem), script formats, and the CLI's exit codes."""

import json

import pytest
from typer.testing import CliRunner

from qa_service.cli import app
from qa_service.exceptions import ScriptError
from qa_service.i18n import message
from qa_service.rules.audit import audit, parse_script, read_script
from qa_service.rules.knowledge import knowledge_of
from qa_service.rules.rubric import load_rubric
from tests.support import RUBRICS, said

SCRIPTS = RUBRICS / "scripts"
RUBRIC_OF = {
    "telecom-data-upgrade": "telecom-data-upgrade.yaml",
    "contract-care-call": "care-call.yaml",
    "broadband-satisfaction-survey": "satisfaction-survey.yaml",
}
# What was planted in each *.planted.md, as (kind, id): all of it must be reported, and
# nothing else.
PLANTED = {
    "telecom-data-upgrade": {
        ("product_fact", "monthly_fee"),
        ("product_fact", "contract_term"),
        ("product_fact", "free_cancel"),
        ("mandatory_point", "cancel_rule"),
        ("forbidden_phrase", "disparage"),
        ("forbidden_phrase", "false_promise"),
        ("script_part", "总结成交"),
        ("project_type", "no_closing"),
    },
    "contract-care-call": {
        ("product_fact", "renewal_fee"),
        ("product_fact", "auto_renewal"),
        ("forbidden_phrase", "hard_sell"),
        ("project_type", "hard_selling"),
        ("mandatory_point", "usage"),
        ("mandatory_point", "hotline"),
    },
    "broadband-satisfaction-survey": {
        ("product_fact", "speed"),
        ("product_fact", "survey_gift"),
        ("forbidden_phrase", "lead_answer"),
        ("project_type", "hard_selling"),
        ("mandatory_point", "q_speed"),
        ("script_part", "结束语"),
    },
}


def run_audit(name, planted=False, required_type=None):
    rubric = load_rubric(RUBRICS / RUBRIC_OF[name])
    script = read_script(SCRIPTS / f"{name}{'.planted' if planted else ''}.md")
    return audit(script, rubric, knowledge_of(rubric), required_type)


def test_every_product_has_both_scripts():
    assert {p.name for p in SCRIPTS.glob("*.md")} == {
        f"{name}{kind}.md" for name in RUBRIC_OF for kind in ("", ".planted")
    }


@pytest.mark.parametrize("name", sorted(RUBRIC_OF))
def test_clean_script_reports_nothing(name):
    report = run_audit(name)
    assert report.problems == []
    assert report.clean
    assert all(p.found for p in report.parts if p.required)
    assert all(p.explained for p in report.points)


@pytest.mark.parametrize("name", sorted(RUBRIC_OF))
def test_planted_problems_are_all_reported(name):
    report = run_audit(name, planted=True)
    assert {(p.kind, p.id) for p in report.problems} == PLANTED[name]
    facts = {f.fact: (f.said, f.kb_value, f.line) for f in report.facts}
    assert all(line for _, _, line in facts.values())  # every fact problem has its line


def test_planted_values_and_lines():
    facts = {f.fact: f for f in run_audit("telecom-data-upgrade", planted=True).facts}
    assert (facts["monthly_fee"].said, facts["monthly_fee"].kb_value) == ("99元", "96元")
    assert (facts["contract_term"].said, facts["contract_term"].kb_value) == (
        "24个月",
        "12个月",
    )
    assert facts["monthly_fee"].line == 7


def test_required_type_differs_from_the_rubric():
    report = run_audit("telecom-data-upgrade", required_type="关怀")
    kinds = {(p.kind, p.id) for p in report.problems}
    assert ("project_type", "type") in kinds
    assert ("project_type", "hard_selling") in kinds  # 帮您办理 in a care script


def test_script_forms_headings_roles_and_directions():
    script = parse_script(
        "# 标题\n\n一、首问语\n1. 您好\n**开场白**：我是电信客户经理\n"
        "【产品介绍】每月九十六元\n（客户犹豫时）名额有限\n客户：太贵了\n坐席：更划算\n"
        "(停顿)\n",
        "s.md",
    )
    assert script.headings == {"首问语": 3, "开场白": 5, "产品介绍": 6}
    assert [(ln.line, ln.role, ln.part, ln.text) for ln in script.lines] == [
        (4, "agent", "首问语", "您好"),
        (5, "agent", "开场白", "我是电信客户经理"),
        (6, "agent", "产品介绍", "每月九十六元"),
        (7, "agent", "产品介绍", "名额有限"),
        (8, "customer", "产品介绍", "太贵了"),
        (9, "agent", "产品介绍", "更划算"),
    ]


def test_bad_scripts(tmp_path):
    with pytest.raises(ScriptError, match=said("{path}: no such file")):
        read_script(tmp_path / "none.md")
    empty = tmp_path / "empty.md"
    empty.write_text("# 只有标题\n\n", encoding="utf-8")
    with pytest.raises(
        ScriptError, match=said("{source}: no agent lines to audit (an empty script?)")
    ):
        read_script(empty)
    binary = tmp_path / "x.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(
        ScriptError, match=said("{path}: not UTF-8 text (Markdown, plain text or {ext})")
    ):
        read_script(binary)
    fake = tmp_path / "x.docx"
    fake.write_text("not a zip", encoding="utf-8")
    with pytest.raises(
        ScriptError, match=said("{path}: not a readable {ext} file ({reason})", ext=".docx")
    ):
        read_script(fake)


def test_docx_script(tmp_path):
    import docx

    document = docx.Document()
    for line in (
        (SCRIPTS / "telecom-data-upgrade.planted.md").read_text(encoding="utf-8").splitlines()
    ):
        document.add_paragraph(line)
    path = tmp_path / "script.docx"
    document.save(str(path))
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    report = audit(read_script(path), rubric, knowledge_of(rubric))
    assert {(p.kind, p.id) for p in report.problems} == PLANTED["telecom-data-upgrade"]


runner = CliRunner()


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout


def test_cli_exit_codes_and_json(tmp_path):
    rubric = RUBRICS / "telecom-data-upgrade.yaml"
    code, out = cli("audit", SCRIPTS / "telecom-data-upgrade.md", "--rubric", rubric)
    assert code == 0 and message("clean: no problems") in out
    code, out = cli(
        "audit",
        SCRIPTS / "telecom-data-upgrade.planted.md",
        "--rubric",
        rubric,
        "--format",
        "json",
        "--type",
        "marketing",
    )
    assert code == 1
    data = json.loads(out)
    assert not data["clean"] and len(data["problems"]) == len(PLANTED["telecom-data-upgrade"])
    code, out = cli("audit", SCRIPTS / "telecom-data-upgrade.planted.md", "--rubric", rubric)
    assert code == 1 and "99元" in out and "96元" in out
    # Bad input: exit 2 with the file named.
    assert cli("audit", tmp_path / "none.md", "--rubric", rubric)[0] == 2
    assert (
        cli("audit", SCRIPTS / "telecom-data-upgrade.md", "--rubric", tmp_path / "r.yaml")[0] == 2
    )
    assert (
        cli("audit", SCRIPTS / "telecom-data-upgrade.md", "--rubric", rubric, "--type", "sales")[0]
        == 2
    )
    assert (
        cli(
            "audit",
            SCRIPTS / "telecom-data-upgrade.md",
            "--rubric",
            rubric,
            "--out",
            tmp_path / "no" / "dir" / "a.json",
        )[0]
        == 2
    )
    bad_kb = tmp_path / "kb.yaml"
    bad_kb.write_text("id: x\nfacts: [{id: a}]\n", encoding="utf-8")
    code, _ = cli("audit", SCRIPTS / "telecom-data-upgrade.md", "--rubric", rubric, "--kb", bad_kb)
    assert code == 2
    # --kb replaces the rubric's knowledge base.
    other = tmp_path / "other.yaml"
    other.write_text(
        "id: other\nfacts:\n  - {id: fee, name: 月费, words: [每个月], value: 99, unit: 元}\n",
        encoding="utf-8",
    )
    code, out = cli(
        "audit",
        SCRIPTS / "telecom-data-upgrade.md",
        "--rubric",
        rubric,
        "--kb",
        other,
        "--format",
        "json",
    )
    assert code == 1 and json.loads(out)["facts"][0]["kb_value"] == "99元"


def test_points_said_in_other_words_count_with_similar_examples():
    """The audit matches as calls do, `similar:` examples included (the embedded sentence
    model): a paraphrased point is explained, one that is not said at all is not."""
    from qa_service.rules.rubric import parse_rubric

    rubric = parse_rubric("""
id: sim
script_sections:
  - {id: greeting, name: 首问语, any: [您好]}
mandatory_points:
  - {id: fee, name: 说明月费, any: [每月96元], similar: [每个月只要交九十六块钱, 月租是96元]}
  - {id: hotline, name: 告知热线, any: [一万号], similar: [有问题可以打客服热线一万号]}
""")
    script = parse_script("首问语：您好\n九十六块钱一个月，随时都能用。\n", "s.md")
    points = {p.id: p for p in audit(script, rubric).points}
    assert points["fee"].explained and points["fee"].phrase == "每个月只要交九十六块钱"
    assert points["fee"].similarity < 1
    assert not points["hotline"].explained
