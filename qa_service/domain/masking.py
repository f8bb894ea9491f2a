"""Masking of personal numbers in transcripts: phone, landline, ID-card and bank-card numbers.

Applied to every response a non-admin caller receives (qa_service/api/masking.py), and to stored
text when QA_MASK_STORED_TEXT is set. Numbers are said digit by digit on these calls and Whisper
writes them in Arabic digits, in Chinese numerals (一三八…, 幺 and 两 included, traditional
forms too) or a mix, with spaces, punctuation or fillers (嗯, 啊, 呃, 那个…) between groups. A
run of digit characters (separators allowed between groups) is read as its digits; where the
run, or a stretch of whole groups in it, has the shape of a mobile number (11, starting 1[3-9],
maybe after +86/86/0086), a landline (0, a 2-3 digit area code, 7-8 digits; +86 without the 0),
an ID-card number (15, or 18 where the last may be X or 叉) or a bank card (16-19), it is
masked, keeping the first 3-4 and the last 4 digits (and the country prefix). Counting words
(十 百 千 万 点) are not digits, so prices, dates and periods said as numbers (九十六元,
一百六十八, 十二期, 百分之零点六) never form such a run, nor do short digit numbers.
"""

from __future__ import annotations

import re

# Spoken digit -> value. Counting words (十 百 千) are not here: numbers are said digit by digit.
DIGITS = {
    **{str(d): str(d) for d in range(10)},
    **{chr(0xFF10 + d): str(d) for d in range(10)},  # full-width ０-９
    "零": "0",
    "〇": "0",
    "洞": "0",
    "一": "1",
    "幺": "1",
    "壹": "1",
    "二": "2",
    "两": "2",
    "兩": "2",
    "贰": "2",
    "貳": "2",
    "三": "3",
    "叁": "3",
    "參": "3",
    "四": "4",
    "肆": "4",
    "五": "5",
    "伍": "5",
    "六": "6",
    "陆": "6",
    "陸": "6",
    "七": "7",
    "柒": "7",
    "八": "8",
    "捌": "8",
    "九": "9",
    "玖": "9",
}
DIGIT_CLASS = "[" + "".join(re.escape(c) for c in DIGITS) + "]"
_DIGIT = DIGIT_CLASS
# What may stand between two groups of one number: spaces, dashes and punctuation (Chinese
# too) and the fillers of someone reading a number out, up to 6 of them ("，嗯，", " - ").
PUNCTUATION = r"\s\-–—－_.·・,，、/;；。…!！?？~～"  # the inside of a [character class]
FILLERS = ("那个", "就是", "然后", "嗯", "啊", "呃", "额", "哦", "噢", "唔")
_SEP = rf"(?:[{PUNCTUATION}]|" + "|".join(re.escape(f) for f in FILLERS) + "){1,6}"
# Every character a separator can hold, and at most how many: what a quick search allows
# between two digits (a superset of _SEP, one character class: no alternation to try).
BETWEEN = PUNCTUATION + "".join(sorted(set("".join(FILLERS))))
BETWEEN_MAX = 12
# The check letter closing an ID-card number: X, x, or 叉 as it is said.
CHECK = {"X": "X", "x": "x", "叉": "叉"}
_CHECK = r"(?:[Xx](?![A-Za-z0-9])|叉)"
# A run: an optional + (a country code), digit groups with separators between them, and maybe
# an ID card's check letter.
RUN = re.compile(rf"[+＋]?{_DIGIT}+(?:{_SEP}{_DIGIT}+)*(?:[\s,，、]?{_CHECK})?")
_GROUP = re.compile(rf"{_DIGIT}+|{_CHECK}")
LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")

MOBILE = re.compile(r"1[3-9]\d{9}")
AREA_LANDLINE = re.compile(r"0[1-9]\d{8,10}")  # 0 + 2-3 digit area code + 7-8 digits
INTL_LANDLINE = re.compile(r"[1-9]\d{8,10}")  # the same after +86: the 0 is dropped
LONGEST = 19  # digits of the longest number masked (a bank card)
SHORTEST = 10  # digits of the shortest one (a landline with a 2-digit area code)


def _kind(digits: str, plus: bool = False) -> int | None:
    """How many leading digits are a country prefix kept as said (0 for none) when `digits`
    (values, an ID card's check letter as X) is a personal number; None when it is not one."""
    n = len(digits)
    if digits[-1] == "X":
        return 0 if n == 18 and digits[:-1].isdigit() else None
    for prefix in ("0086", "86"):
        rest = digits[len(prefix) :]
        if digits.startswith(prefix) and (
            MOBILE.fullmatch(rest) or ((plus or prefix == "0086") and INTL_LANDLINE.fullmatch(rest))
        ):
            return len(prefix)
    if MOBILE.fullmatch(digits) or AREA_LANDLINE.fullmatch(digits):
        return 0
    if n == 15 or 16 <= n <= LONGEST:  # ID card (15 or 18 digits), bank card
        return 0
    return None


def _masked(chars: list[str]) -> str:
    """Keep the first 3 (4 for long numbers) and the last 4 digits, as they were written."""
    keep = 3 if len(chars) <= 12 else 4
    return "".join(chars[:keep]) + "*" * (len(chars) - keep - 4) + "".join(chars[-4:])


def _mask_run(run: str) -> str:
    # each stretch of digit characters in the run, with its values (a check letter as X)
    groups = [
        (m.start(), m.end(), "".join(DIGITS.get(c, "X") for c in m.group(0)))
        for m in _GROUP.finditer(run)
    ]
    plus = run[:1] in "+＋"
    out: list[str] = []
    pos, i = 0, 0
    while i < len(groups):
        # the longest stretch of whole groups from group i that is a personal number; only
        # stretches up to the longest number are read, so a long run costs linear time
        stretch = [groups[i][2]]
        for g in groups[i + 1 :]:
            if sum(map(len, stretch)) + len(g[2]) > LONGEST:
                break
            stretch.append(g[2])
        for j in range(i + len(stretch) - 1, i - 1, -1):
            value = "".join(stretch[: j - i + 1])
            prefix = _kind(value, plus and i == 0) if SHORTEST <= len(value) else None
            if prefix is not None:
                start, end = groups[i][0], groups[j][1]
                chars = [c for c in run[start:end] if c in DIGITS or c in CHECK]
                out.append(run[pos:start] + "".join(chars[:prefix]) + _masked(chars[prefix:]))
                pos, i = end, j + 1
                break
        else:
            i += 1
    return "".join(out) + run[pos:]


def _bounded(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    if end - start < SHORTEST:  # too few characters for any personal number
        return match.group(0)
    # part of a longer word (a letter-digit code, an identifier): leave it
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if (before.isascii() and (before.isalnum() or before == "_")) or (
        after.isascii() and (after.isalnum() or after == "_")
    ):
        return match.group(0)
    return _mask_run(match.group(0))


# Ten digit characters with at most a separator's characters between two of them: every
# number masked has at least that, so text without it (most text: dates, times, prices) is
# returned as it is after one search, without reading its runs.
_MAYBE = re.compile(rf"{_DIGIT}(?:[{BETWEEN}]{{0,{BETWEEN_MAX}}}{_DIGIT}){{{SHORTEST - 1}}}")


def mask(text: str) -> str:
    if not _MAYBE.search(text):
        return text
    text = RUN.sub(_bounded, text)
    return LANDLINE.sub(lambda m: _masked(list(m.group(0).replace("-", ""))), text)
