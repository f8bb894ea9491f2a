"""Masking of personal numbers in transcripts: phone, ID-card and bank-card numbers.

Applied to text served to non-admin roles, and to stored text when QA_MASK_STORED_TEXT is
set. Numbers are said digit by digit on these calls and Whisper writes them in Arabic digits,
in Chinese numerals (一三八…, 幺 and 两 included, traditional forms too) or a mix, with
spaces or separators between groups. A run of digit characters (separators allowed between
groups) is read as its digits; where the run, or a stretch of whole groups in it, has the
length of a phone (11, starting 1[3-9]), ID-card (18, the last may be X) or bank-card
(16-19) number, it is masked, keeping the first 3-4 and the last 4 digits.
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
_DIGIT = "[" + "".join(re.escape(c) for c in DIGITS) + "]"
_SEP = r"[\s\-–—－_.·・,，、/]{1,3}"
# A run: digit groups with separators between them; an ID card may end in X.
RUN = re.compile(rf"{_DIGIT}+(?:{_SEP}{_DIGIT}+)*(?:[Xx])?")
LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")


def _kind(digits: str) -> str | None:
    n = len(digits)
    if digits[-1] in "Xx":
        return "id_card" if n == 18 and digits[:-1].isdigit() else None
    if n == 11 and digits[0] == "1" and digits[1] in "3456789":
        return "phone"
    if n == 18:
        return "id_card"
    if 16 <= n <= 19:
        return "bank_card"
    return None


def _masked(chars: list[str]) -> str:
    """Keep the first 3 (4 for long numbers) and the last 4 digits, as they were written."""
    keep = 3 if len(chars) <= 12 else 4
    return "".join(chars[:keep]) + "*" * (len(chars) - keep - 4) + "".join(chars[-4:])


def _mask_run(run: str) -> str:
    # groups: (start, end) of each stretch of digit characters within the run
    groups = [(m.start(), m.end()) for m in re.finditer(rf"(?:{_DIGIT}|[Xx])+", run)]

    def value(a: int, b: int) -> str:
        return "".join(DIGITS.get(c, c) for c in run[a:b] if c in DIGITS or c in "Xx")

    out: list[str] = []
    pos, i = 0, 0
    while i < len(groups):
        # the longest stretch of whole groups from group i that is a personal number
        for j in range(len(groups) - 1, i - 1, -1):
            start, end = groups[i][0], groups[j][1]
            if _kind(value(start, end)):
                chars = [c for c in run[start:end] if c in DIGITS or c in "Xx"]
                out.append(run[pos:start] + _masked(chars))
                pos, i = end, j + 1
                break
        else:
            i += 1
    return "".join(out) + run[pos:]


def _bounded(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    # part of a longer word of digits (a letter-digit code): leave it
    if start and text[start - 1].isascii() and text[start - 1].isalnum():
        return match.group(0)
    if end < len(text) and text[end].isascii() and text[end].isalnum():
        return match.group(0)
    return _mask_run(match.group(0))


def mask(text: str) -> str:
    text = RUN.sub(_bounded, text)
    return LANDLINE.sub(lambda m: _masked(list(m.group(0).replace("-", ""))), text)
