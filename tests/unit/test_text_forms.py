"""Prepared texts stored with a transcript (rules/text_forms.py) read back equal to what
matching.prepare gives, and the stored form changes whenever prepare's output does."""

from __future__ import annotations

import hashlib
import json
import zlib

from qa_service.rules import text_forms
from qa_service.rules.matching import PreparedText, prepare
from tests.support import ROOT

# Texts that exercise every step of prepare: traditional characters, numerals both ways,
# units and percentages, dates, Latin letters, signs, spaces, nothing at all.
ODD = [
    "",
    "  ",
    "A B  c",
    "喂，您好！ 3G套餐 99元",
    "ok啊。。",
    "您這個月話費是一百二十八塊五",
    "百分之百 100% 3.5折 二〇二六年12月1日",
    "5G畅享套餐每月29元，合约期一年",
    "号码138 0013 8000，身份证后四位1234",
]
# sha256 of [norm, plain, said, pinyin] of every text below, for FORM_REVISION (see
# text_forms): when prepare's output changes, bump the revision and record the new digest.
FINGERPRINT = {1: "ed69b956cb0ece3d0407249d778cd46a4835d32ea8ac81c9bb8c7c543b95f6ac"}


def texts() -> list[str]:
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text("utf-8"))
    return [u["text"] for t in data.values() for u in t["utterances"]] + ODD


def test_texts_read_back_as_prepared():
    prepared = [prepare(t) for t in texts()]
    packed = text_forms.pack(prepared)
    assert packed is not None
    back = text_forms.unpack(packed)
    assert back == prepared
    assert [t.syllable_mask for t in back] == [t.syllable_mask for t in prepared]
    assert text_forms.unpack(text_forms.pack([])) == []


def test_a_pinyin_that_cannot_be_cut_back_is_not_stored():
    # one "syllable" holding a space: splitting the pinyin string would misplace every offset
    odd = PreparedText("a b", "a   b", (0, 1, 1, 2, 2), said="a b")
    assert text_forms.pack([prepare("您好"), odd]) is None


def test_the_form_changes_when_prepare_does():
    rows = [[p.norm, p.plain, p.said, p.pinyin] for p in map(prepare, texts())]
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()
    assert digest == FINGERPRINT.get(text_forms.FORM_REVISION), (
        f"matching.prepare gives other texts than FORM_REVISION {text_forms.FORM_REVISION} "
        f"recorded: bump text_forms.FORM_REVISION and record {digest} for it here"
    )
    assert text_forms.FORM.startswith(f"r{text_forms.FORM_REVISION} ")


def test_damaged_data_reads_as_none():
    good = text_forms.pack([prepare("您好"), prepare("不需要")])
    assert good is not None
    for damaged in (
        b"",
        good[:-3],
        zlib.compress(b"[1, 2]"),
        zlib.compress(b'[["ab", "", "", 5]]'),
        zlib.compress('[["您好", "", "", "nin"]]'.encode()),  # one syllable for two characters
    ):
        assert text_forms.unpack(damaged) is None, damaged
