import pytest

from qa_service.normalize import normalize, syllables, to_simplified


@pytest.mark.parametrize("text, expected", [
    ("每個月只要九十六元！", "每个月只要96元"),       # traditional -> simplified, numerals, punctuation
    ("中國電信", "中国电信"),
    ("百分之零点六", "0.6%"),
    ("收益0.6%", "收益0.6%"),
    ("十二个月", "12个月"),
    ("12个月", "12个月"),
    ("ＡＢＣ　１２３，你好。", "abc123你好"),        # full-width -> half-width, lowercase, spaces out
    ("预存一百六十八元", "预存168元"),
    ("一万号", "10000号"),
    ("1万号", "10000号"),                           # Whisper's way of writing it, same result
    ("三百分钟", "300分钟"),
])
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
