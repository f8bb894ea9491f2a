"""`similar:` rules with the real embedded sentence model (it loads in about a second):
numbers and negation must agree with the example, evidence names the example."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from qa_service.config import COMPETING_SLACK, CROWDING_TYPICAL, DEFAULT_SIMILAR_THRESHOLD
from qa_service.domain.results import Utterance
from qa_service.exceptions import ModelIntegrityError, RubricError
from qa_service.i18n import message
from qa_service.rules.checks import Call
from qa_service.rules.normalize import normalize
from qa_service.rules.rubric import parse_rubric
from qa_service.rules.scoring import Scorer
from qa_service.rules.semantic import (
    DEFAULT_MODEL,
    MODELS,
    Example,
    cuts_number,
    negated,
    numbers_of,
    segments,
    verify,
)
from tests.support import said

RUBRIC = """
id: t
similar_threshold: 0.55
mandatory_points:
  - id: monthly_fee
    any: [月费96元]
    similar: [每个月只要交九十六块钱]
  - id: undo
    any: [随时撤销]
    similar: [办了以后可以撤销]
objections:
  - id: pricey
    customer_says: [太贵]
    customer_says_similar: [这个价格太高了]
    agent_should: [每天只要]
    agent_should_similar: [平均一天才三块钱]
outcome:
  success: [就办吧]
  success_similar: [我需要这个套餐]
  refusal: [没兴趣]
"""


@pytest.fixture(scope="module")
def scorer():
    return Scorer(parse_rubric(RUBRIC))


def run(scorer, *turns):
    utts = [Utterance(role, i * 3.0, i * 3.0 + 2.5, text) for i, (role, text) in enumerate(turns)]
    ev = scorer.evaluate(Call(utts, len(utts) * 3.0))
    return {f.rule_id: f for f in ev.findings}, ev


def test_paraphrase_with_the_same_number_hits_and_names_the_example(scorer):
    found, _ = run(scorer, ("agent", "您好"), ("agent", "这个套餐月租是九十六块钱一个月"))
    fee = found["monthly_fee"]
    assert fee.status == "hit"
    evidence = fee.evidence[0]
    assert evidence.phrase == "每个月只要交九十六块钱"
    assert 0.55 <= evidence.similarity < 1.0


def test_another_number_does_not_satisfy_the_example(scorer):
    found, _ = run(scorer, ("agent", "这个套餐月租是九十九块钱一个月"))
    assert found["monthly_fee"].status == "missed"


def test_negated_sentence_does_not_satisfy_a_positive_example(scorer):
    found, _ = run(scorer, ("agent", "这个业务办了以后不能撤销"))
    assert found["undo"].status == "missed"
    found, _ = run(scorer, ("agent", "这个业务办了以后随时都能撤销的"))
    assert found["undo"].status == "hit"


def test_negated_customer_answer_is_not_a_success(scorer):
    _, ev = run(scorer, ("agent", "您看需要吗"), ("customer", "我不需要这个套餐"))
    assert ev.outcome != "success"
    _, ev = run(scorer, ("agent", "您看需要吗"), ("customer", "这个套餐我需要的"))
    assert ev.outcome == "success"


def test_objection_and_answer_in_other_words(scorer):
    found, _ = run(
        scorer, ("customer", "你们这个价格也太高了吧"), ("agent", "其实平均下来一天才三块钱")
    )
    assert found["pricey"].status == "handled"
    found, _ = run(scorer, ("customer", "你们这个价格也太高了吧"), ("agent", "好的那我先挂了"))
    assert found["pricey"].status == "unhandled"


def test_two_adjacent_utterances_of_one_speaker_match_together(scorer):
    found, _ = run(scorer, ("agent", "这个套餐每个月只要交"), ("agent", "九十六块钱"))
    assert found["monthly_fee"].status == "hit"


def test_pair_cosines_equal_those_of_the_pair_embedded_as_one_vector(scorer):
    # Call.similarities derives a pair's cosines from its two rows' own cosines; the same
    # figures as making the pair's unit vector and multiplying it with the bank again.
    from qa_service.rules.semantic import unit_rows

    utts = [
        Utterance("agent", 0, 2, "这个套餐每个月只要交"),
        Utterance("agent", 3, 5, "九十六块钱"),
        Utterance("customer", 6, 8, "太贵了"),
    ]
    call = Call(utts, 9.0)
    table = call.similarities(scorer.bank).table
    cv, rows = call.vectors, len(call.vectors.owners)
    first, second = [int((cv.owners == i).argmax()) for i in (0, 1)]
    direct = unit_rows(cv.vectors[[first]] + cv.vectors[[second]]) @ scorer.bank.matrix
    derived = table[rows]  # the one pair (agent 0 + agent 1), -1 where a half alone is closer
    kept = derived > -1
    assert kept.any()
    assert abs(derived[kept] - direct[0][kept]).max() < 1e-5


def test_a_phrase_said_is_the_evidence_before_an_earlier_paraphrase(scorer):
    found, _ = run(scorer, ("agent", "这个套餐月租是九十六块钱一个月"), ("agent", "月费96元"))
    evidence = found["monthly_fee"].evidence[0]
    assert (evidence.text, evidence.similarity) == ("月费96元", 1.0)
    found, _ = run(scorer, ("agent", "这个套餐月租是九十六块钱一个月"), ("agent", "好的"))
    assert found["monthly_fee"].evidence[0].phrase == "每个月只要交九十六块钱"


def test_guards_directly():
    assert numbers_of("每月96元合约12个月一个月") == {"96", "12"}
    assert negated("不能撤销") and not negated("可以撤销")
    assert not negated("不好意思打扰您了") and not negated("您要不要办")
    assert not Example.of("每月96元").agrees("每月99元")
    assert Example.of("我不需要").agrees("不需要了谢谢")
    assert not Example.of("我需要").agrees("我不需要")
    # the clause closest to the example decides, not a negation elsewhere in the utterance
    assert Example.of("每月96元").agrees("不好意思 不用担心 每月96元")


def test_a_numeral_inside_a_word_is_no_amount_to_repeat():
    # 第三者 (third party) and 每周二 (Tuesdays) are words; 200万 and 三块钱 are amounts
    assert Example.of("第三者责任险能赔200万").numbers == {"2000000"}
    assert Example.of("三者险保额是两百万").numbers == {"2000000"}
    assert Example.of("每周二开放赎回").numbers == frozenset()
    assert Example.of("平均一天才三块钱").numbers == {"3"}
    assert Example.of("签约两年").numbers == {"2"}
    rubric = """
id: car
mandatory_points:
  - {id: third_party, any: [三者险200万], similar: [第三者责任险能赔200万]}
"""
    # said without naming the cover (0.64 from the example): before, the 3 of 第三者 was asked for
    found = findings_of(rubric, "撞了别人的车或者人 最多能赔到两百万")
    assert found["third_party"].status == "hit"
    assert found["third_party"].evidence[0].phrase == "第三者责任险能赔200万"
    # another amount still does not satisfy the example
    found = findings_of(rubric, "撞了别人的车或者人 最多能赔到一百万")
    assert found["third_party"].status == "missed"


def test_windows_cover_long_texts():
    spans = segments("您" * 30)
    assert spans[0] == (0, 30) and max(hi for _, hi in spans[1:]) == 30
    assert len(spans) == len(set(spans))


def test_clauses_the_text_marks_are_segments_of_their_own():
    text = "每月有三百分钟的国内通话 九十六块钱一个月，好的"
    norm = normalize(text)
    pieces = [norm[lo:hi] for lo, hi in segments(text)]
    assert pieces[0] == norm
    # the fee's clause whole, where no window of the stride grid starts or ends
    assert "96块钱1个月" in pieces
    assert "每月有300分钟的国内通话" in pieces
    assert "好的" not in pieces  # too short to mean anything alone
    # a numeral read across the mark (一百 六十八 -> 168): no clause spans, windows only
    split_numeral = "先存一百 六十八元话费就能参加这个活动"
    assert segments(split_numeral) == segments(normalize(split_numeral))


def test_rubric_fields_and_bad_threshold():
    rubric = parse_rubric(RUBRIC)
    assert rubric.similar_threshold == 0.55
    assert rubric.objections[0].agent_should_similar == ["平均一天才三块钱"]
    only_examples = parse_rubric("id: x\nmandatory_points:\n  - {id: p, similar: [月租是96元]}\n")
    assert only_examples.mandatory_points[0].has_phrases()
    with pytest.raises(RubricError, match="similar_threshold"):
        parse_rubric("id: x\nsimilar_threshold: 1.5\n")


def test_a_model_file_that_is_not_ours_is_refused():
    spec = MODELS[DEFAULT_MODEL]
    tampered = dataclasses.replace(spec, files={name: "0" * 64 for name in spec.files})
    with pytest.raises(ModelIntegrityError, match="does not match"):
        verify(tampered)
    verify(spec)


def test_check_rubric_warns_about_overlapping_and_unused_examples(tmp_path):
    from typer.testing import CliRunner

    from qa_service.cli import app

    rubric = tmp_path / "r.yaml"
    rubric.write_text(
        """
id: lint
mandatory_points:
  - {id: fee, any: [月费96元], similar: [每个月只要交96块钱]}
  - {id: fee_again, any: [资费96元], similar: [每个月只需要交96块钱]}
  - {id: weather, any: [天气], similar: [明天会下大雨记得带伞]}
""",
        encoding="utf-8",
    )
    calls = tmp_path / "calls.json"
    calls.write_text(
        json.dumps(
            {
                "c1": {
                    "duration": 9.0,
                    "utterances": [
                        {
                            "role": "agent",
                            "start": 0.0,
                            "end": 3.0,
                            "text": "您好 这个套餐每个月只要交96块钱",
                        },
                        {"role": "customer", "start": 3.5, "end": 5.0, "text": "好的"},
                    ],
                }
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["check-rubric", str(rubric), "--calls", str(calls)])
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s", "", result.output)  # the console wraps long lines

    def says(msgid: str, **known) -> re.Match | None:
        return re.search(re.sub(r"(\\ |\s)", "", said(msgid, **known)), text)

    overlap = (
        "rules {a} and {b}: examples {ea} and {eb} are {score:.2f} alike, so both rules would "
        "match the same sentences"
    )
    unused = (
        "rule {rule}: example {example} matches none of the {n} calls (closest {best:.2f}, "
        "threshold {threshold:.2f})"
    )
    assert says(overlap, a="fee", b="fee_again")
    assert says(unused, rule="weather", example="'明天会下大雨记得带伞'", n=1)
    assert not says(unused, rule="fee")  # the fee example does match the call
    missing = CliRunner().invoke(
        app, ["check-rubric", str(rubric), "--calls", str(tmp_path / "no")]
    )
    assert missing.exit_code == 2 and message(
        "{path}: no such file or folder", path=tmp_path / "no"
    ) in re.sub(r"\n", "", missing.output)


CROWDED = """
id: crowd
mandatory_points:
  - {id: fee, any: [月费96元], similar: [每个月只要交96块钱]}
  - {id: minutes, any: [300分钟], similar: [每个月送300分钟的国内通话]}
script_sections:
  - {id: persuasion, any: [更划算], similar: [每个月能帮您省下不少话费]}
  - {id: farewell, any: [再见], similar: [祝您生活愉快], similar_threshold: 0.5}
"""


def hits(scorer, text):
    ev = scorer.evaluate(Call([Utterance("agent", 0.0, 2.0, text)], 3.0))
    return {f.rule_id for f in ev.findings if f.status == "hit"}


def test_a_crowded_example_of_a_script_rule_keeps_its_threshold_and_rivals_decide():
    scorer = Scorer(parse_rubric(CROWDED))
    by_rule = {c.rule.id: c.matcher.similar for c in scorer.checks}
    crowding = scorer.bank.crowding
    # the generic persuasion example sits near the minutes' (and the fee's) example ...
    persuasion = by_rule["persuasion"]
    assert crowding[persuasion.cols[0]] > CROWDING_TYPICAL
    # ... yet a script section's or point's own example is not calibrated: the rival rules'
    # examples decide between them, at the rubric-wide threshold less the slack (decision 0030)
    assert persuasion.thresholds[0] == pytest.approx(DEFAULT_SIMILAR_THRESHOLD - COMPETING_SLACK)
    # a threshold the rule sets itself is taken as written
    assert by_rule["farewell"].thresholds[0] == pytest.approx(0.5)
    # a sentence about the fee: the fee only, the minutes: the minutes only; the window
    # 这个套餐每个月9 (0.54 from persuasion's example, 0.52 from the fee's) cuts the amount
    # and is no evidence for an example without one
    assert cuts_number(normalize("这个套餐每个月九十六块钱"), 0, 8)
    assert not cuts_number(normalize("这个套餐每个月九十六块钱"), 2, 11)
    assert hits(scorer, "这个套餐每个月九十六块钱") == {"fee"}
    assert hits(scorer, "每个月有三百分钟的国内通话") == {"minutes"}
    # a sentence that does say it matches the crowded example, also 0.59-0.61 from it, where
    # a threshold raised by its crowding (0.63) lost it
    assert hits(scorer, "换过来每个月能省不少钱") == {"persuasion"}
    assert hits(scorer, "升级以后每个月反而省钱") == {"persuasion"}
    assert hits(scorer, "一个月下来能省不少") == {"persuasion"}


def test_examples_without_rival_rules_and_key_phrases_as_examples_stay_calibrated():
    rubric = parse_rubric(
        CROWDED
        + """objections:
  - id: pricey
    customer_says: [太贵]
    agent_should: [省钱]
    agent_should_similar: [每个月能帮您省下不少钱]
"""
    )
    scorer = Scorer(rubric)
    answer = next(c for c in scorer.checks if c.rule.id == "pricey").answer.similar
    assert scorer.bank.crowding[answer.cols[0]] > CROWDING_TYPICAL
    assert answer.thresholds[0] > 0.55
    # key phrases acting as examples (no `similar:`) stay calibrated too
    phrases = Scorer(
        parse_rubric("""
id: crowd
mandatory_points:
  - {id: fee, any: [每个月只要交96块钱]}
script_sections:
  - {id: persuasion, any: [每个月能帮您省下不少话费]}
""")
    )
    fee = next(c for c in phrases.checks if c.rule.id == "fee").matcher.similar
    assert phrases.bank.crowding[fee.cols[0]] > CROWDING_TYPICAL
    assert fee.thresholds[0] > 0.55 + 0.1 + 0.01


def test_calibration_follows_examples_added_later():
    from qa_service.rules.semantic import ExampleBank, SimilarMatcher

    bank = ExampleBank()
    fee = SimilarMatcher(bank, ["每个月只要交96块钱"], 0.55, calibration=1.0)
    assert fee.thresholds[0] == pytest.approx(0.55)  # no other rule yet
    SimilarMatcher(bank, ["每个月能帮您省下不少话费"], 0.55, calibration=1.0)
    assert fee.thresholds[0] > 0.55


def findings_of(rubric_text, *texts, customer=()):
    utts = [
        Utterance("customer" if i in customer else "agent", i * 3.0, i * 3.0 + 2.5, t)
        for i, t in enumerate(texts)
    ]
    ev = Scorer(parse_rubric(rubric_text)).evaluate(Call(utts, len(utts) * 3.0))
    return {f.rule_id: f for f in ev.findings}


CARD = """
id: card
script_sections:
  - {id: opening, name: 开场白, any: [信用卡中心], within_first: 3}
  - {id: product_intro, name: 产品介绍, any: [给您推荐]}
  - {id: closing, name: 总结成交, any: [帮您把本期账单, 帮您办理分期]}
mandatory_points:
  - {id: fee, name: 说明手续费, any: [每期手续费0.6%]}
"""


def test_a_closing_by_meaning_is_not_found_before_the_product_introduction():
    # an unseen product: the closing's key phrase as an example is 0.79 from the opening's
    # 来电是关于您的账单, said before the product introduction; no closing was said
    found = findings_of(
        CARD,
        "您好 我是信用卡中心的小张",
        "来电是关于您的账单",
        "给您推荐一下账单分期业务",
        "每期手续费百分之零点六",
        "我考虑一下",
        "好的 再见",
        customer={4},
    )
    assert found["product_intro"].status == "hit"
    assert found["closing"].status == "missed"
    # said in its own words after the introduction, the closing still counts by meaning ...
    found = findings_of(
        CARD,
        "您好 我是信用卡中心的小张",
        "给您推荐一下账单分期业务",
        "那我现在帮您把这期账单办成分期好吗",
    )
    assert found["closing"].status == "hit" and found["closing"].evidence[0].similarity < 1
    # ... and a key phrase said counts wherever it is
    found = findings_of(CARD, "您好 我是信用卡中心的小张", "我帮您办理分期吧", "给您推荐一下")
    assert found["closing"].status == "hit"


def test_no_meaning_match_on_a_segment_another_rules_key_phrase_explains():
    rubric = """
id: tv
mandatory_points:
  - {id: install, name: 安装, any: [免费上门安装]}
  - {id: repair, name: 维修, any: [免费上门维修]}
"""
    # 免费上门安装 is the installation's evidence, not the repair's by resemblance (0.77)
    found = findings_of(rubric, "我们提供免费上门安装", "您看怎么样")
    assert found["install"].status == "hit" and found["repair"].status == "missed"
    # another clause of the same utterance that says the repair in other words still does
    found = findings_of(rubric, "我们提供免费上门安装 坏了也有师傅免费上门来修")
    assert found["repair"].status == "hit"


def test_a_segment_closer_to_another_rules_example_is_that_rules():
    rubric = parse_rubric("""
id: tv
similar_threshold: 0.55
mandatory_points:
  - {id: install, name: 安装, any: [上门安装], similar: [师傅免费上门给您安装]}
  - {id: repair, name: 维修, any: [上门维修], similar: [坏了师傅免费上门给您修理]}
""")
    scorer = Scorer(rubric, similar_calibration=0.0)

    def said(text):
        ev = scorer.evaluate(Call([Utterance("agent", 0.0, 2.5, text)], 3.0))
        return {f.rule_id for f in ev.findings if f.status == "hit"}

    # 0.88 from the installation's example and 0.76 from the repair's: installation only
    assert said("师傅会免费上门给您装好") == {"install"}
    assert said("装的时候师傅免费上门") == {"install"}
    assert said("坏了的话师傅会上门来修") == {"repair"}


def test_key_phrases_as_examples_need_the_script_body_before_them():
    rubric = """
id: wm
script_sections:
  - {id: greeting, name: 首问语, any: [您好], within_first: 2}
  - {id: product_intro, name: 产品介绍, any: [稳利理财]}
  - {id: closing, name: 总结成交, any: [帮您预约续投]}
"""
    # 8 dB noise: 请问您是郑女士吧 came back as 预约续版 (0.83 from 帮您预约续投), and no product
    # introduction was heard: a resemblance to the key phrase alone is no closing
    found = findings_of(rubric, "喂 请问您是预约续版", "这次来电视赶给您聊聊您那地里才", "嗯 好的")
    assert found["closing"].status == "missed"
    # after the product introduction, the closing said in other words still counts
    found = findings_of(rubric, "您好", "给您说说新出的稳利理财", "我这边帮您把到期的钱预约续投吧")
    assert found["closing"].status == "hit" and found["closing"].evidence[0].similarity < 1
