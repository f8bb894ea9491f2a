"""Masking of phone, ID-card and bank-card numbers however Whisper writes the digits."""

import re

import pytest

from qa_service.domain.masking import mask

DIGIT_OR_NUMERAL = re.compile(r"[0-9零〇一幺二两兩三四五六七八九叉]")


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
        # fillers and pauses between the groups of a number read out
        ("一三八，嗯，一二三四，五六七八", ("一三八", "五六七八")),
        ("幺三八 呃 幺二三四 那个 五六七八", ("幺三八", "五六七八")),
        ("一三八。一二三四！五六七八", ("一三八", "五六七八")),
        ("1 3 8，嗯，1 2 3 4，5 6 7 8", ("138", "5678")),
        # landlines: 0, a 2-3 digit area code, 7-8 digits
        ("零二一六四八八一二三四", ("零二一", "一二三四")),
        ("座机021-64881234", ("021", "1234")),
        ("0755 8888 1234", ("075", "1234")),
        ("零幺零，嗯，八八八八，一二三四", ("零幺零", "一二三四")),
        # ID cards: the old 15 digits; 18 ending in x or 叉
        ("身份证110101900307777", ("1101", "7777")),
        ("身份证一一零一零一九零零三零七七七七", ("一一零一", "七七七七")),
        ("身份证110101199003077777x", ("1101", "777x")),
        ("身份证一一零一零一一九九零零三零七七七七叉", ("一一零一", "七七七叉")),
        ("一一零一零一，一九九零零三零七，七七七，叉", ("一一零一", "七七七叉")),
        # bank card with fillers
        ("卡号六二二二，嗯，零二一二，三四五六，七八九零，一二三", ("六二二二", "零一二三")),
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
        # prices, dates, durations, periods and small numbers calls are full of
        "每月九十六元",
        "合约期是12个月",
        "2026年11月20日",
        "预存一百六十八元",
        "可以分三期，六期，十二期",
        "利率百分之零点六",
        "九十六元，12个月，2026年11月20日，一百六十八，三期，六期，十二期，百分之零点六",
        "通话时长 00:12:34",
        "2026-11-20T09:14:03.123456+08:00",
        "每月96元，三百分钟，一万号",
        "1，2，3，嗯，4，5",
        "价格是1,299.00元",
        "score_1234567890123456_v1",  # an identifier, not a number read out
        "0.6%",
    ],
)
def test_other_text_is_left_alone(text):
    assert mask(text) == text


def test_two_numbers_in_one_sentence():
    out = mask("手机一三八一二三四五六七八，备用13998765432")
    assert out == "手机一三八****五六七八，备用139****5432"


@pytest.mark.parametrize(
    "text, out",
    [
        ("+8613812345678", "+86138****5678"),
        ("+86 138 1234 5678", "+86138****5678"),
        ("加八六，一三八一二三四五六七八", "加八六一三八****五六七八"),
        ("八六一三八一二三四五六七八", "八六一三八****五六七八"),
        ("0086 13812345678", "0086138****5678"),
        ("+86 21 6488 1234", "+86216***1234"),
    ],
)
def test_country_prefix_is_kept_and_the_number_masked(text, out):
    assert mask(text) == out


def test_long_hostile_runs_take_linear_time():
    """Stretches longer than the longest number are never read: 4,000 characters of digits
    and separators (the longest review comment) are masked piece by piece in milliseconds,
    not in cubic time (17 s before); the bound is generous, and in CPU time so that a busy
    machine's waiting does not count."""
    import time

    text = "1 " * 2_000
    t0 = time.process_time()
    out = mask(text)
    assert time.process_time() - t0 < 2
    assert "*" in out and len(out) < len(text)


def test_response_bodies_are_masked_value_by_value():
    """The API's masking step (api/masking.py): every string value of a JSON body, however it
    is escaped, keys and numbers untouched; a body with nothing to mask is passed on as it
    was; text (HTML, Markdown) as text."""
    import json

    from qa_service.api.masking import mask_body

    data = {
        "13812345678": "key",  # a key is never changed
        "id": 13812345678,  # nor a JSON number
        "text": "我的手机是一三八，嗯，一二三四，五六七八",
        "lines": [{"text": "一三八\n一二三四\n五六七八"}, "每月九十六元"],
        "call_time": "2026-11-20T09:14:03+08:00",
    }
    for ensure_ascii in (True, False):
        body = json.dumps(data, ensure_ascii=ensure_ascii).encode()
        out = json.loads(mask_body(body, "application/json"))
        assert out["13812345678"] == "key" and out["id"] == 13812345678
        assert out["text"] == "我的手机是一三八****五六七八"
        assert out["lines"] == [{"text": "一三八****五六七八"}, "每月九十六元"]
        assert out["call_time"] == data["call_time"]
    plain = json.dumps({"id": 1, "items": [1, 2, 3], "at": "2026-11-20T09:14:03"}).encode()
    assert mask_body(plain, "application/json") is plain
    page = "<p>客户 13812345678</p>".encode()
    assert mask_body(page, "text/html; charset=utf-8").decode() == "<p>客户 138****5678</p>"
    assert mask_body(b'{"broken": "13812345678"', "application/json") == b'{"broken": "138****5678"'


def test_masking_middleware_on_every_kind_of_answer():
    """The step itself on a bare app: JSON, text and a gzip body are masked (Content-Length
    follows); an admin's answer, audio and static files pass as they are."""
    import gzip

    from fastapi import FastAPI, Request
    from fastapi.responses import PlainTextResponse, Response
    from fastapi.testclient import TestClient

    from qa_service.api import masking

    app = FastAPI()
    masking.install(app)
    said = "客户电话一三八一二三四五六七八"

    @app.get("/json")
    def as_json(request: Request, role: str = "viewer") -> dict:
        masking.note_caller(request, role)
        return {"text": said}

    @app.get("/text")
    def as_text() -> PlainTextResponse:
        return PlainTextResponse(said, media_type="text/markdown; charset=utf-8")

    @app.get("/gzip")
    def as_gzip() -> Response:
        body = gzip.compress(f'{{"text": "{said}"}}'.encode())
        return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})

    @app.get("/audio")
    def audio() -> Response:
        return Response(said.encode(), media_type="audio/wav")

    masked = "客户电话一三八****五六七八"
    with TestClient(app) as client:
        for url in ("/json", "/json?role=reviewer", "/gzip"):
            r = client.get(url)
            assert r.json() == {"text": masked}, url
            assert int(r.headers["content-length"]) == len(r.content)
        assert client.get("/text").text == masked
        assert client.get("/json?role=admin").json() == {"text": said}
        assert client.get("/audio").content == said.encode()
