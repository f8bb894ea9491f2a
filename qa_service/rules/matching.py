"""Phrase matching tolerant of recognition errors.

Exact first: the normalized phrase inside the normalized utterance. Then, for phrases of at
least FUZZY_MIN_SYLLABLES, pinyin similarity: the phrase's toneless pinyin against the best
aligned span of the utterance's pinyin (rapidfuzz), accepted at or above the threshold. Both
are read with their numerals as said (normalize.spoken), so a numeral heard in place of a
word keeps its sound (合约七一年 for 合约期一年); the matched span is reported that way too.
Two guards keep fuzzy matching from flipping meaning: a hit preceded by a negator (不需要 for
需要) does not count unless the phrase carries the negation itself, and a fuzzy span must hold
a negator exactly when the phrase does: the negator itself or, in a span as long as the phrase,
its homophone where the phrase has it (补 heard for 不 in 保证明年补偿下 keeps the negation).
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from rapidfuzz import fuzz

from qa_service.config import FUZZY_MIN_SYLLABLES, FUZZY_SHORT_SYLLABLES
from qa_service.rules.normalize import normalize, normalize_plain, spoken, syllables

NEGATORS = frozenset("不没别未")
_NEGATOR_SOUNDS = {ch: syllables(ch)[0] for ch in NEGATORS}


@dataclass(frozen=True)
class PreparedText:
    """Normalized text (exact matching), and for fuzzy matching the text as said (numerals in
    words: normalize.spoken) with its pinyin string and a map from pinyin offsets to it."""

    norm: str
    pinyin: str
    char_at: tuple[int, ...]  # char_at[i]: index in `said` of the syllable at pinyin offset i
    plain: str = ""  # normalized with numerals as spoken (for regexes written 百分之百 ...)
    # Its distinct syllables as bits of one int (syllable_bits): the quick rejects below count
    # shared syllables with one AND and a popcount, four times faster than a set intersection.
    syllable_mask: int = field(default=0, compare=False)
    said: str = ""  # what pinyin, char_at and syllable_mask describe; fuzzy spans come from it
    # knowledge.ClauseForms of the text, where they were stored with it (text_forms); else
    # None and the knowledge base reads the text itself (typed loosely: knowledge imports this).
    clauses: Any = field(default=None, compare=False)


_SYLLABLE_BIT: dict[str, int] = {}
_SYLLABLE_BIT_LOCK = threading.Lock()


def syllable_bits(parts: Iterable[str]) -> int:
    """One bit per distinct syllable, each syllable its own bit for the process's lifetime
    (a shared bit would undercount and reject a true match: hence the lock)."""
    bits = 0
    for part in parts:
        bit = _SYLLABLE_BIT.get(part)
        if bit is None:
            with _SYLLABLE_BIT_LOCK:
                bit = _SYLLABLE_BIT.setdefault(part, 1 << len(_SYLLABLE_BIT))
        bits |= bit
    return bits


@lru_cache(maxsize=65536)
def prepare(text: str) -> PreparedText:
    norm, plain = normalize(text), normalize_plain(text)
    return with_sound(norm, plain if plain != norm else "", prepare_said(spoken(text)))


def with_sound(norm: str, plain: str, sound: PreparedText, clauses: Any = None) -> PreparedText:
    """A normalized text with the pinyin of its text as said (prepare_said, said_from)."""
    return PreparedText(
        norm, sound.pinyin, sound.char_at, plain, sound.syllable_mask, sound.said, clauses
    )


@lru_cache(maxsize=65536)
def prepare_said(said: str) -> PreparedText:
    """Pinyin of a text as said (and of a span of one, when fuzzy matching rescores it)."""
    return said_from(said, syllables(said))


@lru_cache(maxsize=65536)
def said_pinyin(said: str) -> str:
    """prepare_said(said).pinyin without the offsets and mask: what a fuzzy span is scored by
    (find_fuzzy rescores nine spans around each alignment)."""
    return " ".join(syllables(said))


def said_from(said: str, parts: Sequence[str]) -> PreparedText:
    """A text as said with its syllables, one per character (prepare_said reads them;
    text_forms reads them back from where a transcript stored them)."""
    char_at: list[int] = []
    for index, syllable in enumerate(parts):
        if index:
            char_at.append(index)  # the separating space belongs to the next syllable
        char_at.extend([index] * len(syllable))
    return PreparedText(
        said, " ".join(parts), tuple(char_at), syllable_mask=syllable_bits(parts), said=said
    )


@dataclass(frozen=True)
class Match:
    phrase: str  # the rubric phrase as written
    matched: str  # the normalized span of the utterance that matched
    similarity: float  # 1.0 for exact


@dataclass(frozen=True)
class Phrase:
    text: str
    prepared: PreparedText
    negated: bool = False
    fuzzy_ok: bool = False
    # A quick necessary condition before aligning: at or above any useful threshold, at least
    # half of the phrase's syllables occur letter for letter in the utterance (a near-homophone
    # changes one or two syllables, not most). It changes no finding and makes the rule engine
    # several times faster (decision 0008).
    min_shared: int = 0

    @classmethod
    def of(cls, text: str) -> Phrase:
        prepared = prepare(text)
        return cls(
            text,
            prepared,
            negated=any(ch in NEGATORS for ch in prepared.norm),
            fuzzy_ok=len(prepared.norm) >= FUZZY_MIN_SYLLABLES,
            min_shared=math.ceil(prepared.syllable_mask.bit_count() / 2),
        )


def compile_phrases(phrases: Iterable[str]) -> tuple[Phrase, ...]:
    return tuple(p for p in map(Phrase.of, phrases) if p.prepared.norm)


def holds_negation(phrase: Phrase, span: str) -> bool:
    """Whether a fuzzy span says the negation its phrase says: a negator in it, or a span as
    long as the phrase with the negator's sound where the phrase has the negator (the
    recognizer wrote a homophone, 补 for 不; what was said is still negated)."""
    if any(ch in NEGATORS for ch in span):
        return True
    said = phrase.prepared.said  # numerals as words, as the span is
    if len(span) != len(said):
        return False
    heard = syllables(span)
    return any(ch in NEGATORS and heard[i] == _NEGATOR_SOUNDS[ch] for i, ch in enumerate(said))


def _negated_before(norm: str, start: int) -> bool:
    return start > 0 and norm[start - 1] in NEGATORS


def find_exact(phrase: Phrase, text: PreparedText) -> Match | None:
    needle, hay = phrase.prepared.norm, text.norm
    start = hay.find(needle)
    while start >= 0:
        if phrase.negated or not _negated_before(hay, start):
            return Match(phrase.text, needle, 1.0)
        start = hay.find(needle, start + 1)
    return None


# Pinyin initials (声母), longest first so that zh/ch/sh win over z/c/s.
_INITIALS = ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw")


def initial(syllable: str) -> str:
    return next((i for i in _INITIALS if syllable.startswith(i)), "")


def same_initials(phrase_pinyin: str, span_pinyin: str) -> bool:
    """A short phrase (FUZZY_SHORT_SYLLABLES or fewer syllables) and a span heard for it: as
    many syllables, each changed one with the phrase's initial. Longer phrases: always."""
    want, got = phrase_pinyin.split(), span_pinyin.split()
    if len(want) > FUZZY_SHORT_SYLLABLES:
        return True
    return len(want) == len(got) and all(
        a == b or initial(a) == initial(b) for a, b in zip(want, got)
    )


def find_fuzzy(
    phrase: Phrase, text: PreparedText, threshold: float, short_initials: bool = False
) -> Match | None:
    if threshold >= 1.0 or not phrase.fuzzy_ok or not text.pinyin:
        return None
    if (phrase.prepared.syllable_mask & text.syllable_mask).bit_count() < phrase.min_shared:
        return None
    source = phrase.prepared.pinyin
    cutoff = threshold * 100
    aligned = fuzz.partial_ratio_alignment(source, text.pinyin, score_cutoff=cutoff)
    if aligned is None:
        return None
    first = text.char_at[aligned.dest_start]
    last = text.char_at[max(aligned.dest_start, aligned.dest_end - 1)]
    best: tuple[float, int, int] | None = None
    # The alignment is on letters; re-score whole-character spans around it and keep the best.
    for lo in (first - 1, first, first + 1):
        for hi in (last, last + 1, last + 2):
            if lo < 0 or hi > len(text.said) or hi - lo < 1:
                continue
            span = said_pinyin(text.said[lo:hi])
            score = fuzz.ratio(source, span)
            if best is None or score > best[0]:
                best = (score, lo, hi)
    if best is None or best[0] < cutoff:
        return None
    _, lo, hi = best
    span = text.said[lo:hi]
    if short_initials and not same_initials(source, said_pinyin(span)):
        return None
    negation = (
        holds_negation(phrase, span) if phrase.negated else any(ch in NEGATORS for ch in span)
    )
    if negation != phrase.negated:
        return None
    if not phrase.negated and _negated_before(text.said, lo):
        return None
    return Match(phrase.text, span, round(best[0] / 100, 3))


class MeaningMatcher(Protocol):
    """What a PhraseMatcher's `similar` is: semantic.SimilarMatcher, named by its shape here
    because semantic imports this module."""

    bank: Any  # semantic.ExampleBank
    rivals: tuple[str, ...]  # other rules' key phrases (semantic.SimilarMatcher.rivals)
    competitors: Any  # other rules' example columns (semantic.SimilarMatcher.competitors)
    cols: Any  # this rule's example columns in the bank (numpy array of indices)

    def __bool__(self) -> bool: ...

    def candidates(self, sims: Any) -> dict[int, Match]: ...  # sims: semantic.CallSimilarities

    def compete(self, competitors: Any, rivals: tuple[str, ...]) -> None: ...


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
        # Near-homophones of short phrases keep each syllable's initial (same_initials): set
        # for violations, where a word merely resembling 问别人 would cost the agent points.
        self.short_initials = False
        # Example sentences matched by meaning (semantic.SimilarMatcher), tried by checks.Call
        # when the phrases find nothing: they need the whole call (vectors, the next utterance).
        self.similar: MeaningMatcher | None = None
        # One C-level scan for all `any` phrases (longest first), instead of one find each.
        self._any_pattern = (
            re.compile(
                "|".join(
                    re.escape(p.prepared.norm)
                    for p in sorted(self.any, key=lambda p: -len(p.prepared.norm))
                )
            )
            if self.any
            else None
        )
        self._by_norm = {p.prepared.norm: p for p in self.any}
        fuzzy_any = [p for p in self.any if p.fuzzy_ok]
        # Whole-matcher quick reject: an utterance sharing fewer syllables with all phrases
        # together than the least any phrase needs cannot fuzzy-match any of them.
        self._any_syllables = 0
        for p in fuzzy_any:
            self._any_syllables |= p.prepared.syllable_mask
        self._any_min_shared = min((p.min_shared for p in fuzzy_any), default=1 << 30)

    def __bool__(self) -> bool:
        return bool(self.any or self.all or self.regex or self.similar)

    def cancels(self, text: PreparedText) -> bool:
        """An `unless` phrase in the text (cancels any hit in it)."""
        return bool(self.unless) and self._one(self.unless, text) is not None

    def _any_exact(self, text: PreparedText) -> Match | None:
        if self._any_pattern is None:
            return None
        negated_hit = False
        for m in self._any_pattern.finditer(text.norm):
            phrase = self._by_norm[m.group(0)]
            if phrase.negated or not _negated_before(text.norm, m.start()):
                return Match(phrase.text, m.group(0), 1.0)
            negated_hit = True
        if negated_hit:  # a negated hit may hide an overlapping plain one: check one by one
            for phrase in self.any:
                found = find_exact(phrase, text)
                if found:
                    return found
        return None

    def _one(
        self, phrases: Sequence[Phrase], text: PreparedText, doubt: float = 0.0
    ) -> Match | None:
        if phrases is self.any:
            found = self._any_exact(text)
            if found:
                return found
            return self.fuzzy_any(text, doubt)
        for phrase in phrases:
            found = find_exact(phrase, text)
            if found:
                return found
        return self._fuzzy(phrases, text, doubt)

    def threshold(self, doubt: float = 0.0) -> float:
        """The fuzzy threshold for a text heard with this much doubt (see config.DOUBT_RELAX); fuzzy
        matching turned off (1.0) stays off."""
        return self.fuzzy if self.fuzzy >= 1.0 else self.fuzzy - doubt

    def fuzzy_any(self, text: PreparedText, doubt: float = 0.0) -> Match | None:
        """The best fuzzy hit among the `any` phrases (after exact matching found none)."""
        if (
            self.fuzzy >= 1.0
            or (self._any_syllables & text.syllable_mask).bit_count() < self._any_min_shared
        ):
            return None
        return self._fuzzy(self.any, text, doubt)

    def fuzzy_candidates(self, masks: Sequence[int], union: int | None = None) -> frozenset[int]:
        """The indices of the texts (by their syllable_mask) that pass fuzzy_any's quick
        reject: fuzzy_any finds nothing in the others. `union`, the masks OR-ed together when
        the caller has it, rejects them all at once: no text shares more with the phrases than
        all of them together."""
        if self.fuzzy >= 1.0:
            return frozenset()
        syllables, least = self._any_syllables, self._any_min_shared
        if union is not None and (syllables & union).bit_count() < least:
            return frozenset()
        return frozenset(i for i, m in enumerate(masks) if (syllables & m).bit_count() >= least)

    def fuzzy_any_hits(
        self, texts: Sequence[PreparedText], indices: Iterable[int], doubts: Sequence[float] = ()
    ) -> dict[int, Match]:
        """fuzzy_any over many texts (those of `indices`), by index; `doubts[i]` as in
        fuzzy_any (none when not given)."""
        return {
            i: found
            for i in indices
            if (found := self.fuzzy_any(texts[i], doubts[i] if doubts else 0.0))
        }

    def _fuzzy(
        self, phrases: Sequence[Phrase], text: PreparedText, doubt: float = 0.0
    ) -> Match | None:
        if self.fuzzy >= 1.0:
            return None
        threshold = self.threshold(doubt)
        best = None
        heard = text.syllable_mask
        for phrase in phrases:
            if (
                not phrase.fuzzy_ok
                or (phrase.prepared.syllable_mask & heard).bit_count() < phrase.min_shared
            ):
                continue
            found = find_fuzzy(phrase, text, threshold, self.short_initials)
            if found and (best is None or found.similarity > best.similarity):
                best = found
        return best

    def exact_any_hits(self, joined: str, starts: Sequence[int]) -> dict[int, Match]:
        """Exact `any` hits over many texts at once: `joined` is their normalized texts joined
        by newlines, `starts` where each begins. One scan per matcher instead of one per text."""
        if self._any_pattern is None:
            return {}
        hits: dict[int, Match] = {}
        for m in self._any_pattern.finditer(joined):
            index = bisect.bisect_right(starts, m.start()) - 1
            if index in hits:
                continue
            phrase = self._by_norm[m.group(0)]
            if (
                phrase.negated
                or m.start() == starts[index]
                or joined[m.start() - 1] not in NEGATORS
            ):
                hits[index] = Match(phrase.text, m.group(0), 1.0)
        return hits

    @property
    def plain_any(self) -> bool:
        """Only `any` phrases: an exact hit is final, no `all`, `regex` or `unless` to weigh."""
        return not (self.all or self.regex or self.unless)

    def match(self, text: PreparedText, doubt: float = 0.0) -> Match | None:
        """`doubt`: how far to lower the fuzzy threshold for this text (DOUBT_RELAX for an
        utterance the recognizer was unsure of)."""
        found = self._one(self.any, text, doubt) if self.any else None
        if found is None and self.all:
            tried = [self._one((p,), text, doubt) for p in self.all]
            parts = [m for m in tried if m is not None]
            if len(parts) == len(tried):
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
        if found is not None and self.cancels(text):
            return None
        return found
