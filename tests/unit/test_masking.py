"""Masking of phone, ID-card and bank-card numbers however Whisper writes the digits."""

import re

import pytest

from qa_service.domain.masking import mask

DIGIT_OR_NUMERAL = re.compile(r"[0-9零〇一幺二两兩三四五六七八九]")


@pytest.mark.parametrize(
    "text, kept",
    [
        ("我的电话是一三八一二三四五六七八好吧", ("一三八", "五六七八")),  # Chinese numerals
        ("幺三八 幺二三四 五六七八", ("幺三八", "五六七八")),  # 幺 for one, grouped with spaces
        ("号码138一二三四5678", ("138", "5678")),  # mixed
        ("一三八-两二三四-五六七八", ("一三八", "五六七八")),  # 两 and separators
        ("13812345678", ("138", "5678")),
        ("1 3 8 1 2 3 4 5 6 7 8", ("138", "5678")),  # one digit at a time
        ("身份证是一一零一零一一九九零零三零七七七七X", ("一一零一", "七七七X")),  # ID card, 18
        ("身份证 110101 19900307 777X", ("1101", "777X")),
        ("卡号6222 0212 3456 7890 123", ("6222", "0123")),  # bank card, 19
        ("卡号六二二二零二一二三四五六七八九零", ("六二二二", "七八九零")),  # bank card, 16
    ],
)
def test_personal_numbers_are_masked(text, kept):
    out = mask(text)
    assert "*" in out, out
    first, last = kept
    # only the first and last few digits survive, nothing in between
    assert first in out and out.rstrip("好吧").endswith(last), out
    hidden = len(DIGIT_OR_NUMERAL.findall(text.replace("X", "9"))) - len(first) - len(last)
    assert out.count("*") == hidden, out


@pytest.mark.parametrize(
    "text",
    [
        "一下就好，两三天到账",
        "套餐一百二十八元",
        "订单号A138123456789",
        "2026-11-20 09:14",
        "一二三四五",  # too short for any personal number
    ],
)
def test_other_text_is_left_alone(text):
    assert mask(text) == text


def test_two_numbers_in_one_sentence():
    out = mask("手机一三八一二三四五六七八，备用13998765432")
    assert out == "手机一三八****五六七八，备用139****5432"
