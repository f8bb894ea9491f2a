"""Phrase matching tolerant of recognition errors.

Exact first: the normalized phrase inside the normalized utterance. Then, for phrases of at
least FUZZY_MIN_SYLLABLES, pinyin similarity: the phrase's toneless pinyin against the best
aligned span of the utterance's pinyin (rapidfuzz), accepted at or above the threshold.
Two guards keep fuzzy matching from flipping meaning: a hit preceded by a negator (不需要 for
需要) does not count unless the phrase carries the negation itself, and a fuzzy span must hold
a negator exactly when the phrase does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional, Sequence

from rapidfuzz import fuzz

from qa_service.normalize import normalize, normalize_plain, syllables

NEGATORS = frozenset("不没别未")
# Two-syllable phrases (再见, 您好) sit within one letter of too many other words (在线,
# 你好) for pinyin similarity to mean anything: they match exactly or not at all.
FUZZY_MIN_SYLLABLES = 3


@dataclass(frozen=True)
class PreparedText:
    """Normalized text with its pinyin string and a map from pinyin offsets to characters."""

    norm: str
    pinyin: str
    char_at: tuple[int, ...]  # char_at[i]: index in `norm` of the syllable at pinyin offset i
    plain: str = ""  # normalized with numerals as spoken (for regexes written 百分之百 ...)

    @classmethod
    def of(cls, text: str) -> "PreparedText":
        return prepare(text)


@lru_cache(maxsize=65536)
def prepare(text: str) -> PreparedText:
    prepared = prepare_normalized(normalize(text))
    plain = normalize_plain(text)
    if plain != prepared.norm:
        prepared = PreparedText(prepared.norm, prepared.pinyin, prepared.char_at, plain)
    return prepared


@lru_cache(maxsize=65536)
def prepare_normalized(norm: str) -> PreparedText:
    parts, char_at = [], []
    for index, syllable in enumerate(syllables(norm)):
        if parts:
            char_at.append(index)  # the separating space belongs to the next syllable
        parts.append(syllable)
        char_at.extend([index] * len(syllable))
    return PreparedText(norm, " ".join(parts), tuple(char_at))


@dataclass(frozen=True)
class Match:
    phrase: str  # the rubric phrase as written
    matched: str  # the normalized span of the utterance that matched
    similarity: float  # 1.0 for exact


@dataclass(frozen=True)
class Phrase:
    text: str
    prepared: PreparedText

    @property
    def negated(self) -> bool:
        return any(ch in NEGATORS for ch in self.prepared.norm)

    @property
    def fuzzy_ok(self) -> bool:
        return len(self.prepared.norm) >= FUZZY_MIN_SYLLABLES


def compile_phrases(phrases: Iterable[str]) -> tuple[Phrase, ...]:
    out = []
    for text in phrases:
        prepared = prepare(text)
        if prepared.norm:
            out.append(Phrase(text, prepared))
    return tuple(out)


def _negated_before(norm: str, start: int) -> bool:
    return start > 0 and norm[start - 1] in NEGATORS


def find_exact(phrase: Phrase, text: PreparedText) -> Optional[Match]:
    needle, hay = phrase.prepared.norm, text.norm
    start = hay.find(needle)
    while start >= 0:
        if phrase.negated or not _negated_before(hay, start):
            return Match(phrase.text, needle, 1.0)
        start = hay.find(needle, start + 1)
    return None


def find_fuzzy(phrase: Phrase, text: PreparedText, threshold: float) -> Optional[Match]:
    if threshold >= 1.0 or not phrase.fuzzy_ok or not text.pinyin:
        return None
    source = phrase.prepared.pinyin
    cutoff = threshold * 100
    aligned = fuzz.partial_ratio_alignment(source, text.pinyin, score_cutoff=cutoff)
    if aligned is None:
        return None
    first = text.char_at[aligned.dest_start]
    last = text.char_at[max(aligned.dest_start, aligned.dest_end - 1)]
    best: Optional[tuple[float, int, int]] = None
    # The alignment is on letters; re-score whole-character spans around it and keep the best.
    for lo in (first - 1, first, first + 1):
        for hi in (last, last + 1, last + 2):
            if lo < 0 or hi > len(text.norm) or hi - lo < 1:
                continue
            span = prepare_normalized(text.norm[lo:hi]).pinyin
            score = fuzz.ratio(source, span)
            if best is None or score > best[0]:
                best = (score, lo, hi)
    if best is None or best[0] < cutoff:
        return None
    _, lo, hi = best
    span = text.norm[lo:hi]
    if any(ch in NEGATORS for ch in span) != phrase.negated:
        return None
    if not phrase.negated and _negated_before(text.norm, lo):
        return None
    return Match(phrase.text, span, round(best[0] / 100, 3))


class PhraseMatcher:
    """A rule's phrases: `any` (one of them), `all` (every one in the same utterance),
    `regex` (over normalized text) and `unless` (cancels a hit in the same utterance)."""

    def __init__(
        self,
        any: Sequence[str] = (),
        all: Sequence[str] = (),
        regex: Sequence[str] = (),
        unless: Sequence[str] = (),
        fuzzy: float = 1.0,
    ):
        self.any = compile_phrases(any)
        self.all = compile_phrases(all)
        self.regex = tuple(re.compile(r) for r in regex)
        self.unless = compile_phrases(unless)
        self.fuzzy = fuzzy

    def __bool__(self) -> bool:
        return bool(self.any or self.all or self.regex)

    def _one(self, phrases: Sequence[Phrase], text: PreparedText) -> Optional[Match]:
        for phrase in phrases:
            found = find_exact(phrase, text)
            if found:
                return found
        best = None
        for phrase in phrases:
            found = find_fuzzy(phrase, text, self.fuzzy)
            if found and (best is None or found.similarity > best.similarity):
                best = found
        return best

    def match(self, text: PreparedText) -> Optional[Match]:
        found = self._one(self.any, text) if self.any else None
        if found is None and self.all:
            parts = [self._one((p,), text) for p in self.all]
            if all(parts):
                found = Match(
                    "+".join(p.phrase for p in parts),
                    "+".join(p.matched for p in parts),
                    min(p.similarity for p in parts),
                )
        if found is None:
            for pattern in self.regex:
                m = pattern.search(text.norm) or (text.plain and pattern.search(text.plain))
                if m:
                    found = Match(pattern.pattern, m.group(0), 1.0)
                    break
        if found is not None and self.unless and self._one(self.unless, text):
            return None
        return found
