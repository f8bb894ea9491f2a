"""Knowledge base loading and the product-fact check on hand-made utterances (no audio)."""

import re

import pytest

from qa_service.config import Settings, get_settings
from qa_service.domain.results import Utterance as U
from qa_service.exceptions import KnowledgeError, RubricError
from qa_service.i18n import codes
from qa_service.i18n import message as message_of
from qa_service.rules.checks import Call, ProductFactCheck, build_checks
from qa_service.rules.knowledge import (
    UNITS,
    claims,
    knowledge_of,
    load_knowledge,
    outside_reason,
    parse_knowledge,
)
from qa_service.rules.rubric import FactCheck, load_rubric, parse_rubric
from tests import support
from tests.support import RUBRICS

KB = parse_knowledge("""
id: plan
product: 畅享套餐
facts:
  - {id: fee, name: 月费, words: [月费, 每月, 每个月, 一个月], value: 96, unit: 元, allowed: [76]}
  - {id: minutes, name: 通话时长, words: [国内通话, 国内电话], value: 300, unit: 分钟}
  - {id: term, name: 合约期, words: [合约期, 签约], value: 12, unit: 个月}
  - {id: prestore, name: 预存, words: [预存, 存], value: 168, unit: 元}
  - {id: rebate, name: 返还, words: [返], value: 504, unit: 元}
  - {id: rate, name: 手续费率, words: [手续费率, 费率], value: 0.6, unit: "%"}
  - {id: speed, name: 宽带速率, words: [宽带, 速率], value: 1000, unit: 兆}
  - {id: deadline, name: 活动截止, words: [截止, 截至], value: 2026-12-31}
  - id: cancel
    name: 可免费退订
    value: true
    affirm: [免费退订]
    deny: [退订要收费, 不能退订]
""")
CHECK = ProductFactCheck(KB, FactCheck(deduct=20))


def wrong(text):
    return [(c.fact.id, c.fact.show(c.value)) for c in claims(text, KB) if not c.right]


def said(text):
    return {c.fact.id: c.fact.show(c.value) for c in claims(text, KB)}


@pytest.mark.parametrize(
    "text",
    [
        "这个套餐每月九十六元，包含国内通话三百分钟",
        "月费96元，合约期一年",  # 一年 = 12个月
        "每个月能打五个小时的国内电话",  # 5小时 = 300分钟
        "九十六块钱一个月",  # the value before the word naming it
        "预存一百六十八元可以返五百零四元",  # two facts in one clause
        "手续费率百分之零点六",
        "千兆宽带",
        "活动十二月三十一号截止",
        "合约到期后可以免费退订",
        "现在每月只要七十六元",  # the promotion the knowledge base allows
    ],
)
def test_right_values_pass(text):
    assert said(text), f"no fact read from {text!r}"
    assert wrong(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("这个套餐每月九十九元", [("fee", "99元")]),
        ("月费99元", [("fee", "99元")]),
        ("合约期两年", [("term", "24个月")]),
        ("合约期是十八个月", [("term", "18个月")]),
        ("每个月能打四个小时的国内电话", [("minutes", "240分钟")]),
        ("预存一百六十八元可以返四百元", [("rebate", "400元")]),
        ("手续费率百分之一点六", [("rate", "1.6%")]),
        ("一百兆宽带", [("speed", "100兆")]),
        ("活动截止到二零二六年十一月三十日", [("deadline", "2026-11-30")]),
        ("到期退订要收费的", [("cancel", "否")]),
    ],
)
def test_wrong_values_are_found(text, expected):
    assert wrong(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "我的工号是三二一五，这个套餐每月九十六元",  # 3215 is the agent's number
        "每月九十六元，有问题拨打一万号",
        "您的尾号八八六六，每个月九十六元",
        "算下来每天三块多",  # per day, and an estimate
        "分月送您五百多块话费",  # an estimate
        "打扰您两分钟",  # minutes, but not of calls
        "不是九十九元，每月是九十六元",
        "合约七十二个元",  # 合约期十二个月 misheard: a bare number is money only
        "合约到七后可一免费退订",
        "合约七一年",  # 合约期一年 misheard: digits read one by one are no quantity
        "反5104元化费每月有300分钟的国内通话",  # 返504元话费 misheard; 每月 is two characters on
    ],
)
def test_other_numbers_in_the_sentence_are_not_facts(text):
    assert wrong(text) == []


def test_check_reports_agent_errors_only_with_both_values():
    call = Call(
        [
            U("agent", 0.0, 3.0, "您好，我是电信客户经理，工号三二一五。"),
            U("customer", 3.5, 5.0, "不是每月九十九元吗？"),  # the customer's words are not checked
            U("agent", 5.5, 9.0, "这个套餐每月九十九元，合约期一年。"),
            U("agent", 9.5, 12.0, "月费九十九块，国内通话三百分钟。"),
        ],
        13.0,
    )
    findings = CHECK.run(call)
    assert len(findings) == 1
    f = findings[0]
    assert (f.rule_id, f.category, f.status, f.deduction) == (
        "product_fact.fee",
        "product_fact",
        "violation",
        20,
    )
    assert [e.role for e in f.evidence] == ["agent", "agent"]
    assert [(e.value, e.kb_value) for e in f.evidence] == [("99元", "96元"), ("99元", "96元")]
    assert "99元" in f.detail and "96元" in f.detail


def test_clean_call_has_no_fact_findings():
    call = Call([U("agent", 0.0, 4.0, "每月九十六元，合约期十二个月，到期免费退订。")], 5.0)
    assert CHECK.run(call) == []


def test_shipped_rubric_runs_the_fact_check():
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    kb = knowledge_of(rubric)
    assert kb is not None and {f.id for f in kb.facts} >= {"monthly_fee", "contract_term"}
    checks = [c for c in build_checks(rubric) if isinstance(c, ProductFactCheck)]
    assert len(checks) == 1 and checks[0].rule.deduct == rubric.fact_check.deduct


@pytest.mark.parametrize("path", sorted((RUBRICS / "kb").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_knowledge_bases_load(path):
    assert load_knowledge(path).facts


def refused(text):
    with pytest.raises(KnowledgeError) as info:
        parse_knowledge(text, "kb.yaml")
    return str(info.value)


def test_bad_knowledge_bases_name_file_line_field():
    message = refused(
        "id: x\nfacts:\n  - id: fee\n    words: [月费]\n    value: 九十多\n    unit: 元\n"
    )
    value = message_of(
        "must be a number (in {unit}), a date ({example}) or {yes_no}",
        unit="`unit`",
        example="2026-12-31",
        yes_no="true/false",
    )
    assert f"kb.yaml:5: facts[0](id=fee).value: {value}" in message
    assert message.count("kb.yaml:5:") == 1
    message = refused("id: x\nfacts:\n  - {id: fee, words: [月费], value: 96, unit: 斤}\n")
    assert "kb.yaml:3: facts[0](id=fee).unit: Value error" not in message
    assert (
        "kb.yaml:3: facts[0](id=fee).unit: "
        + message_of("unknown unit {unit}; known units: {units}", unit="'斤'", units=codes(UNITS))
        in message
    )
    message = refused("id: x\nfacts:\n  - {id: fee, words: [月费], value: 96}\n")
    assert (
        "kb.yaml:3: facts[0](id=fee): "
        + message_of("a numeric fact needs a {field} ({units})", field="`unit`", units=codes(UNITS))
        in message
    )
    message = refused("id: x\nfacts:\n  - {id: cancel, value: true}\n")
    assert message_of("a yes/no rule needs {a} or {b} phrases", a="`affirm`", b="`deny`") in message
    message = refused("id: x\nfacts: [\n")
    assert re.search(r"kb.yaml:\d+: .+: " + support.said("not valid YAML: {reason}"), message), (
        message
    )
    assert message_of("knowledge base refused") in refused("- just a list\n")
    message = refused(
        "id: x\nfacts:\n  - {id: fee, words: [月费], value: 96, unit: 元, price: 3}\n"
    )
    assert "facts[0](id=fee).price: 未知字段" in message


def test_values_written_in_words():
    kb = parse_knowledge(
        "id: x\nfacts:\n  - {id: fee, words: [月费], value: 九十六, unit: 元, allowed: [七十六]}\n"
        "  - {id: rate, words: [费率], value: 百分之零点六, unit: '%'}\n"
    )
    assert (kb.facts[0].value, kb.facts[0].allowed, kb.facts[1].value) == (96, [76], 0.6)


def test_rubric_pointing_to_a_missing_knowledge_base(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("id: r\nname: x\nknowledge_base: kb/none.yaml\n", encoding="utf-8")
    with pytest.raises(RubricError) as info:
        knowledge_of(load_rubric(path))
    assert f"{path}:3: knowledge_base: " + message_of(
        "no such file: {path}", path=tmp_path / "kb" / "none.yaml"
    ) in str(info.value)


def test_rubric_knowledge_base_resolves_next_to_the_file(tmp_path):
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "p.yaml").write_text(
        "id: p\nfacts:\n  - {id: fee, words: [月费], value: 96, unit: 元}\n", encoding="utf-8"
    )
    path = tmp_path / "r.yaml"
    path.write_text(
        "id: r\nknowledge_base: kb/p.yaml\nfact_check: {deduct: 15, severity: fatal}\n",
        encoding="utf-8",
    )
    rubric = load_rubric(path)
    assert knowledge_of(rubric).id == "p"
    assert (rubric.fact_check.deduct, rubric.fact_check.severity) == (15, "fatal")
    # A rubric read from text (the database) resolves against the given folder.
    stored = parse_rubric(path.read_text(encoding="utf-8"), "r v1")
    assert knowledge_of(stored, tmp_path).id == "p"


def refused_rubric(rubric, base=None) -> str:
    with pytest.raises(RubricError) as info:
        knowledge_of(rubric, base)
    return str(info.value)


def test_knowledge_base_outside_the_allowed_folders_is_refused(tmp_path, monkeypatch, request):
    """A rubric cannot make the service read another file: not by an absolute path, not by
    `..`, not through a symlink; the refusal is the same whether the file exists or not, and
    never quotes it."""
    kb_dir, outside = tmp_path / "rubrics", tmp_path / "elsewhere"
    (kb_dir / "kb").mkdir(parents=True)
    outside.mkdir()
    secret = outside / "secret.yaml"
    secret.write_text("id: s\nfacts: []\npassword: hunter2\n", encoding="utf-8")
    (kb_dir / "kb" / "link.yaml").symlink_to(secret)
    # QA_KNOWLEDGE_DIR: rubrics, relative to the directory the service starts in
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_KNOWLEDGE_DIR", "rubrics")
    get_settings.cache_clear()
    request.addfinalizer(get_settings.cache_clear)
    messages = {}
    for path in (
        "/etc/passwd",
        "/etc/no-such-file",
        str(secret),
        "../elsewhere/secret.yaml",
        "kb/../../elsewhere/secret.yaml",
        "kb/../../elsewhere/none.yaml",
        "kb/link.yaml",
    ):
        stored = parse_rubric(f"id: r\nknowledge_base: {path}\n", "uploaded rubric")
        message = refused_rubric(stored)
        assert outside_reason() in message, path
        assert "hunter2" not in message and "root:" not in message
        assert message_of("no such file: {path}", path="") not in message
        messages[path] = message
    assert len(set(messages.values())) == 1, messages  # nothing tells them apart
    # a rubric file's own folder is allowed too, but `..` out of it is not
    (tmp_path / "campaign").mkdir()
    rubric_file = tmp_path / "campaign" / "r.yaml"
    rubric_file.write_text("id: r\nknowledge_base: ../elsewhere/secret.yaml\n", encoding="utf-8")
    assert outside_reason() in refused_rubric(load_rubric(rubric_file))
    # what is inside still loads, and `..` that stays inside is fine
    (kb_dir / "kb" / "p.yaml").write_text(
        "id: p\nfacts:\n  - {id: fee, words: [月费], value: 96, unit: 元}\n", encoding="utf-8"
    )
    stored = parse_rubric("id: r\nknowledge_base: kb/../kb/p.yaml\n", "uploaded rubric")
    assert knowledge_of(stored).id == "p"
    missing = parse_rubric("id: r\nknowledge_base: kb/none.yaml\n", "uploaded rubric")
    assert message_of("no such file: {path}", path="") in refused_rubric(missing)


def test_a_file_that_is_not_yaml_is_not_quoted(tmp_path):
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "notes.yaml").write_text(
        "db_password: !s3cr3t-value x\nroot:x:0:0:root:/root:/bin/bash\n",
        encoding="utf-8",
    )
    (tmp_path / "kb" / "binary.yaml").write_bytes(b"\xff\xfe top secret \x00")
    for name in ("notes.yaml", "binary.yaml"):
        stored = parse_rubric(f"id: r\nknowledge_base: kb/{name}\n", "uploaded rubric")
        with pytest.raises(KnowledgeError) as info:
            knowledge_of(stored, tmp_path)
        message = str(info.value)
        assert message_of("knowledge base refused") in message, message
        for text in ("root:x", "/bin/bash", "s3cr3t", "top secret", "0xff", "xff"):
            assert text not in message, (name, message)


def test_no_false_alarms_on_the_dev_corpora_reference_transcripts():
    """Every agent turn of the 32 dev calls (both corpora: key phrases and paraphrases, 五个小时
    for 300分钟, 九十六块钱一个月, 工号三二一五, 一万号, 三百多元话费) states the product right:
    the shipped knowledge base finds no wrong value in any of them, and reads the facts in
    most."""
    import json

    from tests.support import DEV, need

    kb = load_knowledge(RUBRICS / "kb" / "telecom-data-upgrade.yaml")
    check = ProductFactCheck(kb, FactCheck())
    refs = sorted(DEV.glob("*.ref.json")) + sorted(
        (DEV.parent / "dev-paraphrase").glob("*.ref.json")
    )
    need(bool(refs), f"dev corpora not found under {DEV.parent}")
    stated = 0
    for ref in refs:
        turns = json.loads(ref.read_text(encoding="utf-8"))
        turns = turns["turns"] if isinstance(turns, dict) else turns
        utts = [U(t["role"], t["start"], t["end"], t["text"]) for t in turns]
        assert check.run(Call(utts, utts[-1].end + 1)) == [], ref.name
        stated += sum(bool(claims(u.text, kb)) for u in utts if u.role == "agent")
    assert len(refs) == 32 and stated >= 60


def test_knowledge_dir_does_not_follow_the_working_directory(tmp_path, monkeypatch):
    """A service started outside the checkout still reads the rubrics' knowledge bases; a
    relative QA_KNOWLEDGE_DIR is fixed to the folder the service starts in."""
    monkeypatch.delenv("QA_KNOWLEDGE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings().knowledge_dir == RUBRICS
    monkeypatch.setenv("QA_KNOWLEDGE_DIR", "kbs")
    assert Settings().knowledge_dir == tmp_path / "kbs"
