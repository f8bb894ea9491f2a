"""Prepared texts stored with a transcript (rules/text_forms.py) read back equal to what
matching.prepare gives, and the stored form changes whenever prepare's output does."""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import replace

from qa_service.rules import text_forms
from qa_service.rules.knowledge import clause_forms
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
# sha256 of [norm, plain, said, pinyin, valued clauses, stating clauses] of every text below,
# for FORM_REVISION (see text_forms): when prepare's or clause_forms' output changes, bump the
# revision and record the new digest.
FINGERPRINT = {2: "441d31b968fe74505f4ffa08e0b9df9fa0838fe1aabc56078c908fcceb6716b8"}


def texts() -> list[str]:
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text("utf-8"))
    return [u["text"] for t in data.values() for u in t["utterances"]] + ODD


def test_texts_read_back_as_prepared():
    # every other text with its clause forms, as an agent's is stored
    prepared = [
        replace(prepare(t), clauses=clause_forms(t)) if i % 2 else prepare(t)
        for i, t in enumerate(texts())
    ]
    assert any(p.clauses and p.clauses.valued for p in prepared)
    assert any(p.clauses and p.clauses.stating for p in prepared)
    packed = text_forms.pack(prepared)
    assert packed is not None
    back = text_forms.unpack(packed)
    assert back == prepared
    assert [t.syllable_mask for t in back] == [t.syllable_mask for t in prepared]
    assert [t.clauses for t in back] == [t.clauses for t in prepared]
    assert text_forms.unpack(text_forms.pack([])) == []


def test_a_pinyin_that_cannot_be_cut_back_is_not_stored():
    # one "syllable" holding a space: splitting the pinyin string would misplace every offset
    odd = PreparedText("a b", "a   b", (0, 1, 1, 2, 2), said="a b")
    assert text_forms.pack([prepare("您好"), odd]) is None


def test_the_form_changes_when_prepare_does():
    rows = [
        [p.norm, p.plain, p.said, p.pinyin, c.valued, c.stating]
        for p, c in ((prepare(t), clause_forms(t)) for t in texts())
    ]
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
        zlib.compress('[["好", "", "", "hao", ["a"]]]'.encode()),  # half the clause forms
        zlib.compress('[["好", "", "", "hao", [1], []]]'.encode()),  # a clause not a string
        zlib.compress('[["好", "", "", "hao", [], [["a", "b", 0, "c"]]]]'.encode()),
    ):
        assert text_forms.unpack(damaged) is None, damaged
