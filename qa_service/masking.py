"""Masking of personal numbers in transcripts: phone, ID-card and bank-card numbers.

Applied to text served to non-admin roles, and to stored text when QA_MASK_STORED_TEXT is
set. Whisper writes spoken digits as Arabic numerals, spaced or not; runs are matched with
optional separators between digits.
"""
from __future__ import annotations

import re

_SEP = r"[\s\-]?"
# Longest first: a bank card (16-19 digits) must not be taken for a phone number inside it.
PATTERNS = [
    ("bank_card", re.compile(rf"(?<!\d)(?:\d{_SEP}){{15,18}}\d(?!\d)")),
    ("id_card", re.compile(rf"(?<!\d)(?:\d{_SEP}){{16}}[\dXx](?![\dXx])")),
    ("phone", re.compile(rf"(?<!\d)1{_SEP}[3-9](?:{_SEP}\d){{9}}(?!\d)")),
    ("landline", re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")),
]


def _hide(match: re.Match) -> str:
    digits = [c for c in match.group(0) if c.isalnum()]
    keep = 3 if len(digits) <= 12 else 4  # enough to recognise, not enough to reuse
    return "".join(digits[:keep]) + "*" * (len(digits) - keep - 4) + "".join(digits[-4:])


def mask(text: str) -> str:
    for _, pattern in PATTERNS:
        text = pattern.sub(_hide, text)
    return text
