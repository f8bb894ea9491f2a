"""Yes/no facts said in other words and negated (the sentence embedder runs for real)."""

import pytest

from qa_service.domain.results import Utterance as U
from qa_service.rules.audit import audit, read_script
from qa_service.rules.checks import Call, ProductFactCheck
from qa_service.rules.knowledge import (
    claims,
    knowledge_of,
    load_knowledge,
    negation,
    parse_knowledge,
)
from qa_service.rules.rubric import FactCheck, load_rubric
from tests.support import CARE_KNOWLEDGE, RUBRICS

KB = parse_knowledge(CARE_KNOWLEDGE)


def stated(text: str) -> dict[str, bool]:
    return {c.fact.id: c.value for c in claims(text, KB) if c.fact.type == "bool"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("到期后自动续约，现在就给您办理新套餐吧。", True),  # C007: no phrase said as written
        ("合约到期以后会自动给您续上的", True),
        ("到期以后会自动延续合约", True),  # paraphrase: by meaning
        ("套餐到期会自动帮您续签", True),
        ("合约到期后不会自动续约", False),
        ("我们不会自动给您续约的", False),
        ("到期之后没有自动续约这回事", False),
        ("续约需要您本人同意", False),  # the deny statement without a negator
        ("到期后不是不会自动续约", True),  # two negators: no negation
    ],
)
def test_auto_renewal_in_other_words_and_negated(text, value):
    assert stated(text) == {"auto_renewal": value}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("合约到期后可以免费退订", True),
        ("退订无需手续费", True),  # 无需 negates 需要手续费 (≈ 退订要收费)
        ("到期后随时可以退订", True),  # 可以退订: the core of 不能退订, not negated
        ("到期以后不能退订", False),
        ("到期退订是要收手续费的", False),
    ],
)
def test_free_cancel_agrees_and_contradicts(text, value):
    assert stated(text) == {"free_cancel": value}


@pytest.mark.parametrize(
    "text",
    [
        "合约到期以后会不会自动续约？",  # a question states nothing
        "到期以后自动续约吗",
        "您好，我是中国电信客户经理",
        "这个套餐很划算的",
        "打个电话就给您退了",  # as near 退订要收费 as 不能退订: says neither
        "不错，每月九十六元",  # 不错 is no negation, and no rule is named
        "您的合约即将到期",  # near 需要您同意才续约 in form (0.66), no word of it
    ],
)
def test_no_rule_stated(text):
    assert stated(text) == {}


@pytest.mark.parametrize(
    "text",
    ["合约到期后可一年费退订", "合约到期后可衣服退订", "合约到期后可一念非退订"],
)
def test_a_misheard_rule_states_nothing(text):
    """可以免费退订 as Whisper base heard it on two CPUs: near 退订要收费 in meaning, but the one
    word shared (退订) is in statements of both values, so nothing tells which it says."""
    kb = load_knowledge(RUBRICS / "kb" / "telecom-data-upgrade.yaml")
    assert [c for c in claims(text, kb) if c.fact.type == "bool"] == []


@pytest.mark.parametrize(
    ("text", "core", "negated"),
    [
        ("不会自动续约", "会自动续约", True),
        ("不能退订", "能退订", True),
        ("无需手续费", "需手续费", True),
        ("没有手续费", "手续费", True),
        ("别担心不会收费", "担心会收费", False),
        ("不错的无限流量", "不错的无限流量", False),
        ("未开通", "开通", True),
    ],
)
def test_negation_is_general(text, core, negated):
    assert negation(text) == (core, negated)


def test_the_check_quotes_the_calls_own_words():
    check = ProductFactCheck(KB, FactCheck(deduct=20))
    call = Call(
        [
            U("agent", 0.0, 2.0, "您的合约即将到期。"),
            U("customer", 2.5, 3.0, "到期以后会自动续约吗？"),
            U("agent", 3.5, 6.0, "到期后自动续约，现在就给您办理新套餐吧。"),
        ],
        7.0,
    )
    (finding,) = check.run(call)
    assert finding.rule_id == "product_fact.auto_renewal"
    (evidence,) = finding.evidence
    assert (evidence.matched, evidence.value, evidence.kb_value) == ("到期后自动续约", "是", "否")
    fine = Call([U("agent", 0.0, 2.0, "合约到期后不会自动续约，续约需要您同意")], 3.0)
    assert check.run(fine) == []


def test_the_audit_quotes_the_scripts_own_words():
    """The planted scripts: 九十九元 where the knowledge base says 96, auto-renewal where it
    says no; the points and facts name the script's words, not the rubric's phrases."""
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    report = audit(
        read_script(RUBRICS / "scripts" / "telecom-data-upgrade.planted.md"),
        rubric,
        knowledge_of(rubric),
    )
    fee = next(p for p in report.points if p.id == "monthly_fee")
    assert (
        fee.wrong_fact and fee.words == "每个月只要九十九元" and fee.phrase == "每个月只要九十六元"
    )
    (fact,) = [f for f in report.facts if f.fact == "monthly_fee"]
    assert (fact.words, fact.said, fact.kb_value) == ("每个月只要99元", "99元", "96元")
    care = load_rubric(RUBRICS / "care-call.yaml")
    report = audit(
        read_script(RUBRICS / "scripts" / "contract-care-call.planted.md"), care, knowledge_of(care)
    )
    (renewal,) = [f for f in report.facts if f.fact == "auto_renewal"]
    assert (renewal.words, renewal.said, renewal.kb_value) == ("到期后会自动续约", "是", "否")
    assert any(p.kind == "product_fact" and p.id == "auto_renewal" for p in report.problems)
