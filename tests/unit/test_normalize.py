import json
import random

import pytest
from pypinyin import Style, lazy_pinyin

from qa_service.rules.normalize import (
    normalize,
    respell_hotwords,
    spoken,
    syllables,
    to_simplified,
)
from tests.support import ROOT


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "每個月只要九十六元！",
            "每个月只要96元",
        ),  # traditional -> simplified, numerals, punctuation
        ("中國電信", "中国电信"),
        ("百分之零点六", "0.6%"),
        ("收益0.6%", "收益0.6%"),
        ("十二个月", "12个月"),
        ("12个月", "12个月"),
        ("ＡＢＣ　１２３，你好。", "abc123你好"),  # full-width -> half-width, lowercase, spaces out
        ("预存一百六十八元", "预存168元"),
        ("一万号", "10000号"),
        ("1万号", "10000号"),  # Whisper's way of writing it, same result
        ("三百分钟", "300分钟"),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_numerals_unify_both_ways():
    assert normalize("每月九十六元") == normalize("每月96元")
    assert normalize("合约期是十二个月") == normalize("合约期是12个月")
    assert normalize("利率百分之零点六") == normalize("利率0.6%")


def test_display_text_keeps_punctuation_but_is_simplified():
    assert to_simplified("您好，請問是陳先生嗎？") == "您好,请问是陈先生吗?"


def test_syllables_one_per_character():
    norm = normalize("唱想套餐96元")
    assert syllables(norm) == ("chang", "xiang", "tao", "can", "9", "6", "yuan")
    assert len(syllables(norm)) == len(norm)


def test_syllables_word_by_word_read_as_the_whole_text():
    """syllables() reads pypinyin's words one by one (and keeps them): the same pinyin as
    pypinyin reading the whole text, on real ASR output, its spoken form and pieces of it
    (the spans fuzzy matching rescores), polyphones and mixed text included."""
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text("utf-8"))
    texts = [u["text"] for t in data.values() for u in t["utterances"]]
    texts += ["银行行长长得很高", "重庆重新开始", "还有还款", "合约71年", "5g套餐abc"]
    rng = random.Random(7)
    pieces = []
    for text in texts:
        for form in (normalize(text), spoken(text)):
            cuts = sorted(rng.randrange(len(form) + 1) for _ in range(2))
            pieces += [form, form[cuts[0] : cuts[1]], form[cuts[0] :]]
    whole = [
        tuple(lazy_pinyin(p, style=Style.NORMAL, errors=list))
        if len(lazy_pinyin(p, style=Style.NORMAL, errors=list)) == len(p)
        else tuple(lazy_pinyin(ch, style=Style.NORMAL, errors=list)[0] for ch in p)
        for p in pieces
    ]
    assert [syllables(p) for p in pieces] == whole


@pytest.mark.parametrize(
    "heard, meant",
    [
        ("不用能，我没兴趣", "不用了我没兴趣"),  # 了 of a pitched voice heard as 能 / 闻 / 零
        ("不用闻", "不用了"),
        ("好吧 不用零 谢谢", "好吧不用了谢谢"),
        ("不可能。", "不可能"),  # words that end in those characters stay
        ("看新闻", "看新闻"),
        ("话费清零。", "话费清0"),  # (cn2an writes the numeral)
        ("一百零", "100"),
        ("你能帮我吗", "你能帮我吗"),  # not at the end of a clause
        ("能", "能"),
    ],
)
def test_clause_final_particle_heard_as_a_homophone(heard, meant):
    assert normalize(heard) == meant


HOTWORDS = ["畅享套餐", "合约期", "预存", "一万号"]


@pytest.mark.parametrize(
    "heard, meant",
    [
        ("我们新出的唱享套餐", "我们新出的畅享套餐"),  # the same toneless pinyin
        ("合约七十二个月", "合约期十二个月"),
        ("跟你说说唱唱套餐", "跟你说说畅享套餐"),  # one syllable two letters off
        ("创想套餐，仗享套餐", "畅享套餐，畅享套餐"),  # each run of characters on its own
        ("畅享套餐", "畅享套餐"),  # already right
    ],
)
def test_hotwords_heard_as_near_homophones_are_spelled_as_written(heard, meant):
    assert respell_hotwords(heard, HOTWORDS) == meant


@pytest.mark.parametrize(
    "text",
    [
        "畅游套餐也不错",  # another product: you/xiang is no near-homophone
        "送一部合约机",  # 合约机 is a word: a 3-character hotword needs an exact homophone
        "我先预存一下",  # two-character hotwords are left alone (too many homophones)
        "倡讯套餐",  # xun/xiang: three letters off
        "",
    ],
)
def test_other_words_are_not_respelled(text):
    assert respell_hotwords(text, HOTWORDS) == text
    assert respell_hotwords("唱享套餐", []) == "唱享套餐"
