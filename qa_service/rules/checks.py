"""Check kinds: one small class per kind, each behind the same interface.

A check reads a `Call` (utterances in time order, with their normalized text) and returns
findings with evidence. `build_checks(rubric)` turns a rubric into the list of checks.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from qa_service.config import (
    DEFAULT_FUZZY,
    DOUBT_RELAX,
    DOUBTFUL_WORDS,
    HANGUP_TAIL_S,
    LEFT_CONTEXT,
    REPLY_LEAD_S,
    SPARSE_CHARS_PER_S,
    SPARSE_MIN_S,
)
from qa_service.domain.enums import Category, FindingStatus, Role
from qa_service.domain.results import Evidence, Finding, Utterance
from qa_service.i18n import _
from qa_service.rules.knowledge import (
    Claim,
    KnowledgeBase,
    compile_knowledge,
    knowledge_of,
    wrong_claims,
)
from qa_service.rules.matching import (
    Match,
    PhraseMatcher,
    PreparedText,
    prepare,
)
from qa_service.rules.normalize import normalize
from qa_service.rules.rubric import (
    AttitudeError,
    FactCheck,
    ForbiddenPhrase,
    Interruption,
    MandatoryPoint,
    Objection,
    PhraseRule,
    Rubric,
    ScriptSection,
    Silence,
    SpeechRate,
)
from qa_service.rules.semantic import (
    CallSimilarities,
    CallVectors,
    ExampleBank,
    SimilarRules,
    cuts_number,
    embed_utterances,
    vector_kind,
)

QUESTION = re.compile(
    r"[?？]$|吗|呢|什么|怎么|多少|哪|为什么|能不能|是不是|可不可以|要不要|收不收|有没有"
)


@dataclass(frozen=True)
class RowLayout:
    """What Call.similarities reads from a call's vectors besides the product with a bank,
    the same for every bank and every evaluation: made once per vectors (it survives
    Call.reset, as the texts do)."""

    vectors: CallVectors
    owners: list[int]  # the utterance of each segment row
    pairs: list[tuple[int, int]]  # (a, b): an utterance and the next of the same speaker
    first: np.ndarray  # the row of each pair's a (its whole text), then of its b
    second: np.ndarray
    pair_norms: np.ndarray  # (pairs, 1): the norm of each pair's two unit rows added
    row_owners: list[int]  # the utterance of every table row, the pairs' rows included
    describe: Callable[[int], tuple[int, str, str]]
    cuts: Callable[[int], bool]  # whether a row's window cuts a number (semantic.cuts_number)

    @classmethod
    def of(cls, call: Call, cv: CallVectors) -> RowLayout:
        owners, whole, pairs = call.same_speaker_pairs(cv)
        first = np.asarray([whole[a] for a, _ in pairs], np.intp)
        second = np.asarray([whole[b] for _, b in pairs], np.intp)
        norms = np.sqrt(2.0 + 2.0 * np.multiply(cv.vectors[first], cv.vectors[second]).sum(1))
        return cls(
            cv,
            owners,
            pairs,
            first,
            second,
            np.maximum(norms, 1e-6)[:, None],
            owners + [a for a, _ in pairs],
            call._row_text(cv, owners, pairs),
            call._row_cuts(cv, owners),
        )


@dataclass
class Call:
    """A transcript ready for checking: utterances sorted by start, texts prepared once."""

    utterances: list[Utterance]
    duration: float
    texts: list[PreparedText] = field(default_factory=list)
    # Sentence vectors of the utterances (owners in the order given), from the stored
    # transcript; embedded on first need when absent or made by another model.
    vectors: CallVectors | None = None

    def __post_init__(self) -> None:
        order = sorted(
            range(len(self.utterances)),
            key=lambda i: (self.utterances[i].start, self.utterances[i].end),
        )
        if order != list(range(len(order))):
            self.utterances = [self.utterances[i] for i in order]
            if self.vectors is not None:
                self.vectors = self.vectors.reordered(order)
            self.texts = []
        if len(self.texts) != len(self.utterances):
            self.texts = [prepare(u.text) for u in self.utterances]
        self._by_role: dict[str, list[int]] = {Role.AGENT: [], Role.CUSTOMER: []}
        for i, u in enumerate(self.utterances):
            self._by_role.setdefault(u.role, []).append(i)
        self._by_role[Role.ANY] = list(range(len(self.utterances)))
        # How far each utterance's fuzzy threshold is lowered (config.DOUBT_RELAX).
        self.doubts = [
            DOUBT_RELAX if u.confidence < DOUBTFUL_WORDS else 0.0 for u in self.utterances
        ]
        self._cache: dict[tuple[int, int], Match | None] = {}
        self._exact: dict[int, dict[int, Match]] = {}
        self._masks = [t.syllable_mask for t in self.texts]
        self._mask_union = 0
        for mask in self._masks:
            self._mask_union |= mask
        self._fuzzy_ok: dict[int, frozenset[int]] = {}
        self._starts: list[int] = []
        offset = 0
        for t in self.texts:
            self._starts.append(offset)
            offset += len(t.norm) + 1
        self._joined = "\n".join(t.norm for t in self.texts)
        self._similarities: dict[int, CallSimilarities] = {}
        self._layout: RowLayout | None = None
        self._similar_hits: dict[int, dict[int, Match]] = {}
        self._literal_first: dict[tuple[int, tuple[int, ...]], int | None] = {}
        # The utterance each script section was found in, as the section checks run in script
        # order (ScriptOrder): keyed by (id of the ScriptOrder, rule id).
        self.section_evidence: dict[tuple[int, str], tuple[int, bool]] = {}

    def similarities(self, bank: ExampleBank) -> CallSimilarities:
        """Cosine of every segment of every utterance (semantic.segments), and of every
        utterance joined with the next one of the same speaker, with every example of the bank
        (computed once per call and bank)."""
        cached = self._similarities.get(id(bank))
        if cached is not None:
            return cached
        embedder = bank.embedder  # loading it limits BLAS to one thread (semantic.py)
        if self.vectors is None or self.vectors.model != vector_kind(embedder.name):
            self.vectors = embed_utterances(embedder, [u.text for u in self.utterances])
        layout = self._layout
        if layout is None or layout.vectors is not self.vectors:
            layout = self._layout = RowLayout.of(self, self.vectors)
        cv, segments = layout.vectors, len(layout.owners)
        # One table for the segments' rows and the pairs' rows below them.
        table = np.empty((segments + len(layout.pairs), bank.matrix.shape[1]), np.float32)
        single = table[:segments]
        np.matmul(cv.vectors, bank.matrix, out=single)
        if layout.pairs:
            # The cosine of the pair's vector (the two unit rows added, made unit again) with
            # each example, from the two rows' own cosines: no second product with the bank.
            a, b = single[layout.first], single[layout.second]
            paired = table[segments:]
            np.divide(a + b, layout.pair_norms, out=paired)
            # A pair counts only where it is closer to an example than either half alone: the
            # meaning is split across the two, not carried by one (which matches by itself).
            paired[paired <= np.maximum(a, b)] = -1.0
        cached = self._similarities[id(bank)] = CallSimilarities(
            table, layout.describe, layout.row_owners, layout.cuts
        )
        return cached

    def _row_text(
        self, cv: CallVectors, owners: list[int], pairs: list[tuple[int, int]]
    ) -> Callable[[int], tuple[int, str, str]]:
        """(utterance, text read for negation, text read for numbers) of a table row."""
        segments = len(owners)

        def describe(row: int) -> tuple[int, str, str]:
            if row >= segments:
                a, b = pairs[row - segments]
                return a, f"{self.utterances[a].text} {self.utterances[b].text}", ""
            owner = owners[row]
            lo, hi = cv.spans[row].tolist()
            norm = self.texts[owner].norm
            if lo == 0 and hi >= len(norm):
                return owner, self.utterances[owner].text, ""
            return owner, norm[max(0, lo - LEFT_CONTEXT) : hi], self.utterances[owner].text

        return describe

    def _row_cuts(self, cv: CallVectors, owners: list[int]) -> Callable[[int], bool]:
        """Whether a table row is a window that cuts a number in two (pairs never are); asked
        of the few rows that pass a threshold only."""
        segments = len(owners)

        def cuts(row: int) -> bool:
            if row >= segments:
                return False
            lo, hi = cv.spans[row].tolist()
            return cuts_number(self.texts[owners[row]].norm, lo, hi)

        return cuts

    def same_speaker_pairs(
        self, cv: CallVectors
    ) -> tuple[list[int], dict[int, int], list[tuple[int, int]]]:
        """The utterance of each of the vectors' rows, the row of each utterance's whole text,
        and each utterance with the next one of the same speaker (both with vectors) as
        (a, b): the rows similarities() compares."""
        # Rows come grouped by utterance, its whole text first: the first row of each run.
        owners = cv.owners.tolist()
        whole: dict[int, int] = {}
        previous = None
        for row, owner in enumerate(owners):
            if owner != previous:
                whole[owner], previous = row, owner
        pairs = [
            (a, b)
            for role in (Role.AGENT, Role.CUSTOMER)
            for a, b in zip(self._by_role[role], self._by_role[role][1:])
            if a in whole and b in whole
        ]
        return owners, whole, pairs

    def similar_hits(self, matcher: PhraseMatcher) -> dict[int, Match]:
        """The matcher's similarity hits by utterance (once per call); `unless` phrases cancel
        a hit as they cancel a phrase hit."""
        hits = self._similar_hits.get(id(matcher))
        if hits is None:
            similar = matcher.similar
            hits = (
                similar.candidates(self.similarities(similar.bank)) if similar is not None else {}
            )
            if matcher.unless:
                hits = {i: m for i, m in hits.items() if not matcher.cancels(self.texts[i])}
            self._similar_hits[id(matcher)] = hits
        return hits

    def exact_first(self, matcher: PhraseMatcher, indices: list[int]) -> int | None:
        """The first utterance among `indices` that says one of the matcher's phrases as
        written (normalized): no near-homophone, no meaning."""
        if matcher.plain_any:
            exact = self._exact_hits(matcher)
            return next((i for i in indices if i in exact), None)
        for i in indices:
            said = matcher.match(self.texts[i], self.doubts[i])
            if said is not None and said.similarity >= 1.0:
                return i
        return None

    def literal_first(self, matcher: PhraseMatcher, indices: list[int]) -> int | None:
        """The first utterance among `indices` that says one of the matcher's phrases (exact or
        near-homophone), never by meaning."""
        key = (id(matcher), tuple(indices))
        if key not in self._literal_first:
            found = None
            for i in indices:
                if matcher.plain_any:
                    said = self._exact_hits(matcher).get(i) or self._fuzzy_any(matcher, i)
                else:
                    said = matcher.match(self.texts[i], self.doubts[i])
                if said:
                    found = i
                    break
            self._literal_first[key] = found
        return self._literal_first[key]

    def reset(self) -> None:
        """Forget matcher results (kept per evaluation), keeping texts and vectors."""
        self.section_evidence.clear()
        self._literal_first.clear()
        self._cache.clear()
        self._exact.clear()
        self._fuzzy_ok.clear()
        self._similarities.clear()
        self._similar_hits.clear()

    def indices(self, role: str) -> list[int]:
        return self._by_role.get(role, [])

    def _exact_hits(self, matcher: PhraseMatcher) -> dict[int, Match]:
        """Exact `any` hits of every utterance, from one scan of the call (once per matcher)."""
        exact = self._exact.get(id(matcher))
        if exact is None:
            exact = self._exact[id(matcher)] = matcher.exact_any_hits(self._joined, self._starts)
        return exact

    def _may_fuzzy(self, matcher: PhraseMatcher) -> frozenset[int]:
        """The utterances that pass the matcher's quick reject (PhraseMatcher.fuzzy_any): the
        only ones where a near-homophone of an `any` phrase can be (once per matcher)."""
        may = self._fuzzy_ok.get(id(matcher))
        if may is None:
            may = self._fuzzy_ok[id(matcher)] = matcher.fuzzy_candidates(
                self._masks, self._mask_union
            )
        return may

    def _fuzzy_any(self, matcher: PhraseMatcher, index: int) -> Match | None:
        """matcher.fuzzy_any on one utterance, asked only where the quick reject lets it."""
        if index not in self._may_fuzzy(matcher):
            return None
        return matcher.fuzzy_any(self.texts[index], self.doubts[index])

    def match(self, matcher: PhraseMatcher, index: int) -> Match | None:
        """Matcher result on one utterance, computed once per call (several checks share
        matchers: farewell for sections and for agent_hangup, for instance)."""
        key = (id(matcher), index)
        if key in self._cache:
            return self._cache[key]
        if matcher.plain_any:
            # Exact hits for every utterance come from one scan; only the rest need the
            # per-utterance path (fuzzy).
            exact = self._exact_hits(matcher)
            found = exact.get(index) or self._fuzzy_any(matcher, index)
        else:
            found = matcher.match(self.texts[index], self.doubts[index])
        if found is None and matcher.similar:
            found = self.similar_hits(matcher).get(index)
        self._cache[key] = found
        return found

    def hits(self, matcher: PhraseMatcher, indices: list[int]) -> list[tuple[int, Match]]:
        """Every utterance among `indices` that the matcher hits, in order (one pass)."""
        if not matcher.plain_any:
            return [(i, m) for i in indices if (m := self.match(matcher, i))]
        exact = self._exact_hits(matcher)
        may = self._may_fuzzy(matcher)
        fuzzy = matcher.fuzzy_any_hits(
            self.texts, [i for i in indices if i not in exact and i in may], self.doubts
        )
        similar = self.similar_hits(matcher) if matcher.similar else {}
        return [(i, m) for i in indices if (m := exact.get(i) or fuzzy.get(i) or similar.get(i))]

    def first_hit(self, matcher: PhraseMatcher, indices: list[int]) -> tuple[int, Match] | None:
        """The first utterance among `indices` that says one of the matcher's phrases, else
        the first that says it in other words (`similar`). A phrase said is the stronger
        evidence, and a point said in its own words needs no similarity at all (the
        similarity of a call is the rule engine's largest cost)."""
        if matcher.plain_any:
            exact = self._exact_hits(matcher)
            may = self._may_fuzzy(matcher)
            for i in indices:
                if i in exact:
                    return i, exact[i]
                if i in may and (found := matcher.fuzzy_any(self.texts[i], self.doubts[i])):
                    return i, found
        else:
            for i in indices:
                if found := matcher.match(self.texts[i], self.doubts[i]):
                    return i, found
        if matcher.similar:
            similar = self.similar_hits(matcher)
            for i in indices:
                if i in similar:
                    return i, similar[i]
        return None

    def evidence(self, index: int, found: Match | None = None) -> Evidence:
        u = self.utterances[index]
        if found is None:
            return Evidence.of(u)
        return Evidence.of(
            u, matched=found.matched, phrase=found.phrase, similarity=found.similarity
        )


class Check(ABC):
    category: Category

    @abstractmethod
    def run(self, call: Call) -> list[Finding]: ...


def matcher_for(
    rule: PhraseRule, fuzzy: float, similar: SimilarRules | None = None
) -> PhraseMatcher:
    matcher = PhraseMatcher(
        rule.any, rule.all, rule.regex, rule.unless, rule.fuzzy if rule.fuzzy is not None else fuzzy
    )
    if similar is not None:
        matcher.similar = similar.matcher(rule.similar, rule.any, rule.similar_threshold)
    return matcher


def phrase_matcher(
    phrases: Sequence[str],
    fuzzy: float,
    similar: SimilarRules | None,
    examples: Sequence[str],
    threshold: float | None,
) -> PhraseMatcher:
    """A plain `any` list with its example sentences (objections, outcome)."""
    matcher = PhraseMatcher(any=phrases, fuzzy=fuzzy)
    if similar is not None:
        matcher.similar = similar.matcher(examples, phrases, threshold)
    return matcher


class PhrasePresenceCheck(Check):
    """Something the agent must say (script sections, mandatory points): hit or missed."""

    def __init__(
        self,
        rule: ScriptSection | MandatoryPoint,
        category: Category,
        fuzzy: float,
        similar: SimilarRules | None = None,
    ):
        self.rule = rule
        self.category = category
        self.matcher = matcher_for(rule, fuzzy, similar)

    def window(self, indices: list[int]) -> list[int]:
        return indices

    def found(self, call: Call) -> tuple[int, Match] | None:
        return call.first_hit(self.matcher, self.window(call.indices(self.rule.role)))

    def run(self, call: Call) -> list[Finding]:
        if first := self.found(call):
            index, found = first
            return [
                Finding(
                    self.rule.id,
                    self.category,
                    FindingStatus.HIT,
                    0,
                    self.rule.name,
                    evidence=[call.evidence(index, found)],
                )
            ]
        return [
            Finding(
                self.rule.id,
                self.category,
                FindingStatus.MISSED,
                self.rule.weight,
                self.rule.name,
                detail=self._where(),
            )
        ]

    def _where(self) -> str:
        return ""


class ScriptOrder:
    """A rubric's script sections in script order (the order the rubric lists them: 首问语 开场白
    产品介绍 建议说服 总结成交 结束语), shared by their checks. A section whose key phrase is
    said as written is found wherever it is said; one heard only as a near-homophone or said
    in other words must respect the script: after the utterance of every earlier section whose
    key phrase was said, not before that of an earlier section found otherwise, and before the
    first key-phrase hit of every later one (a
    closing is not found in the lines before the product introduction). A section confined to
    the call's opening (within_first) may share the utterance of the one before it (您好 我是…),
    one confined to its end (within_last) that of the one after it. Meaning evidence of an
    earlier section bounds loosely (the same utterance stays open): a guess must not push the
    next section out of its place. When the script opens with sections confined to its first
    lines, the role's first utterance is theirs even when they were not found."""

    def __init__(self) -> None:
        self.checks: list[ScriptSectionCheck] = []

    def anchored(self, call: Call, check: ScriptSectionCheck) -> bool:
        """Key phrases acting as examples (the default, no QA-written example) find a section
        of the script's body only when an earlier body section (产品介绍 ...) was found: a
        resemblance to the key phrases alone has no place in the script to stand in."""
        if getattr(check.matcher.similar, "label", "") != "phrase-as-example":
            return True
        if check.rule.within_first or check.rule.within_last:
            return True
        k = self.checks.index(check)
        body = [c for c in self.checks[:k] if not (c.rule.within_first or c.rule.within_last)]
        return not body or any((id(self), c.rule.id) in call.section_evidence for c in body)

    def allowed(self, call: Call, check: ScriptSectionCheck) -> tuple[int, int]:
        """The open range (lo, hi) of utterance indices where `check` may match by meaning."""
        k = self.checks.index(check)
        lo, hi = -1, len(call.utterances)
        agent = call.indices(check.rule.role)
        if (
            agent
            and not check.rule.within_first
            and any(c.rule.within_first for c in self.checks[:k])
        ):
            # the role's first line is the opening's (首问语 / 开场白), said or not: a later
            # section is not found in it by resemblance (预约续版 heard for 郑女士吧 in noise)
            lo = agent[0]
        for c in self.checks[:k]:
            found = call.section_evidence.get((id(self), c.rule.id))
            if found is not None:
                at, literal = found
                lo = max(lo, at - 1 if check.rule.within_first or not literal else at)
        for c in self.checks[k + 1 :]:
            said = call.exact_first(c.matcher, c.window(call.indices(c.rule.role)))
            if said is not None:
                hi = min(hi, said + 1 if check.rule.within_last else said)
        return lo, hi


class ScriptSectionCheck(PhrasePresenceCheck):
    rule: ScriptSection

    def __init__(
        self,
        rule: ScriptSection,
        fuzzy: float,
        similar: SimilarRules | None = None,
        order: ScriptOrder | None = None,
    ):
        super().__init__(rule, Category.SCRIPT_SECTION, fuzzy, similar)
        self.order = order
        if order is not None:
            order.checks.append(self)

    def window(self, indices: list[int]) -> list[int]:
        if self.rule.within_first:
            indices = indices[: self.rule.within_first]
        if self.rule.within_last:
            indices = indices[-self.rule.within_last :]
        return indices

    def found(self, call: Call) -> tuple[int, Match] | None:
        indices = self.window(call.indices(self.rule.role))
        if self.order is None:
            return call.first_hit(self.matcher, indices)
        if (at := call.exact_first(self.matcher, indices)) is not None:
            first: tuple[int, Match] | None = call.first_hit(self.matcher, [at])
        else:
            # heard as a near-homophone or said in other words: in the script's order
            lo, hi = self.order.allowed(call, self)
            window = [i for i in indices if lo < i < hi]
            said = call.literal_first(self.matcher, window)
            if said is not None:
                first = call.first_hit(self.matcher, [said])
            elif self.matcher.similar and self.order.anchored(call, self):
                first = call.first_hit(self.matcher, window)
            else:
                first = None
        if first is not None:
            exact = call.exact_first(self.matcher, [first[0]]) is not None
            call.section_evidence[(id(self.order), self.rule.id)] = (first[0], exact)
        return first

    def _where(self) -> str:
        if self.rule.within_first:
            return _(
                "not in the {role}'s first {count} utterances",
                role=_(self.rule.role),
                count=self.rule.within_first,
            )
        if self.rule.within_last:
            return _(
                "not in the {role}'s last {count} utterances",
                role=_(self.rule.role),
                count=self.rule.within_last,
            )
        return ""


class PhraseViolationCheck(Check):
    """Something nobody should hear (forbidden phrases, rude or shirking words)."""

    def __init__(
        self,
        rule: ForbiddenPhrase | AttitudeError,
        category: Category,
        fuzzy: float,
        similar: SimilarRules | None = None,
    ):
        self.rule = rule
        self.category = category
        self.matcher = matcher_for(rule, fuzzy, similar)
        self.matcher.short_initials = True

    def run(self, call: Call) -> list[Finding]:
        evidence = [
            call.evidence(i, m) for i, m in call.hits(self.matcher, call.indices(self.rule.role))
        ]
        return [violation(self.rule, self.category, evidence)] if evidence else []


def violation(
    rule: ForbiddenPhrase | AttitudeError,
    category: Category,
    evidence: list[Evidence],
    detail: str = "",
) -> Finding:
    return Finding(
        rule.id,
        category,
        FindingStatus.VIOLATION,
        rule.deduct,
        rule.name,
        rule.severity,
        detail,
        evidence,
    )


class AgentHangupCheck(Check):
    """B: the call ends while the customer speaks, or right after the customer asked
    something, and the agent said no farewell."""

    category = Category.ATTITUDE_ERROR

    def __init__(self, rule: AttitudeError, fuzzy: float):
        self.rule = rule
        self.farewell = PhraseMatcher(any=rule.farewell, fuzzy=fuzzy)

    def run(self, call: Call) -> list[Finding]:
        if not call.utterances:
            return []
        last = max(range(len(call.utterances)), key=lambda i: call.utterances[i].end)
        final = call.utterances[last]
        if final.role != Role.CUSTOMER:
            return []
        cut = final.end >= call.duration - HANGUP_TAIL_S
        asked = bool(QUESTION.search(final.text.strip()))
        if not (cut or asked):
            return []
        agent_tail = call.indices(Role.AGENT)[-2:]
        if any(call.match(self.farewell, i) for i in agent_tail):
            return []
        why = (
            _("the recording ends while the customer is speaking")
            if cut
            else _("the call ends right after the customer asked a question")
        )
        return [
            violation(
                self.rule,
                self.category,
                [call.evidence(last)],
                _("{why}, with no farewell from the agent", why=why),
            )
        ]


class HoldWithoutReasonCheck(Check):
    """D: the agent asks the customer to wait and the line stays silent longer than
    `hold_seconds`, with no apology or reason given when asking."""

    category = Category.ATTITUDE_ERROR

    def __init__(self, rule: AttitudeError, fuzzy: float):
        self.rule = rule
        self.hold = PhraseMatcher(any=rule.hold_phrases, fuzzy=fuzzy)
        self.reason = PhraseMatcher(any=rule.reason_phrases, fuzzy=fuzzy)

    def run(self, call: Call) -> list[Finding]:
        evidence, waits = [], []
        starts = [u.start for u in call.utterances]
        for index, found in call.hits(self.hold, call.indices(Role.AGENT)):
            if call.match(self.reason, index):
                continue
            ask = call.utterances[index]
            later = [s for s in starts if s > ask.end]
            if not later:
                continue
            wait = min(later) - ask.end
            if wait > self.rule.hold_seconds:
                evidence.append(call.evidence(index, found))
                waits.append(wait)
        if not evidence:
            return []
        limit = self.rule.hold_seconds
        waited = _("; ").join(
            _("waited {seconds:.1f} s (limit {limit:g} s)", seconds=w, limit=limit) for w in waits
        )
        detail = _("{waits}, no reason given", waits=waited)
        return [violation(self.rule, self.category, evidence, detail)]


class TransferWithoutReasonCheck(Check):
    """C: the agent transfers the customer without saying why."""

    category = Category.ATTITUDE_ERROR

    def __init__(self, rule: AttitudeError, fuzzy: float):
        self.rule = rule
        self.transfer = PhraseMatcher(any=rule.transfer_phrases, fuzzy=fuzzy)
        self.reason = PhraseMatcher(any=rule.reason_phrases + rule.transfer_reasons, fuzzy=fuzzy)

    def run(self, call: Call) -> list[Finding]:
        evidence = []
        for index, found in call.hits(self.transfer, call.indices(Role.AGENT)):
            if not call.match(self.reason, index):
                evidence.append(call.evidence(index, found))
        return (
            [violation(self.rule, self.category, evidence, _("transfer with no reason given"))]
            if evidence
            else []
        )


class ObjectionCheck(Check):
    """异议处理: each time the customer raises the objection, one of the agent's next
    `within_turns` utterances must give an approved answer."""

    category = Category.OBJECTION

    def __init__(self, rule: Objection, fuzzy: float, similar: SimilarRules | None = None):
        self.rule = rule
        threshold = rule.fuzzy if rule.fuzzy is not None else fuzzy
        self.raised = phrase_matcher(
            rule.customer_says,
            threshold,
            similar,
            rule.customer_says_similar,
            rule.similar_threshold,
        )
        self.answer = phrase_matcher(
            rule.agent_should, threshold, similar, rule.agent_should_similar, rule.similar_threshold
        )

    def occurrences(self, call: Call) -> list[tuple[int, Match, list[tuple[int, Match | None]]]]:
        """(customer utterance, its match, [(agent reply, answer match)]) per raised objection."""
        out: list[tuple[int, Match, list[int]]] = []
        agents = call.indices(Role.AGENT)
        for index, found in call.hits(self.raised, call.indices(Role.CUSTOMER)):
            start = call.utterances[index].start - REPLY_LEAD_S
            replies = [i for i in agents if call.utterances[i].start >= start][
                : self.rule.within_turns
            ]
            if out and replies == out[-1][2]:
                continue  # the same objection over two chunks before the agent spoke again
            out.append((index, found, replies))
        return [(i, f, [(r, call.match(self.answer, r)) for r in replies]) for i, f, replies in out]

    def run(self, call: Call) -> list[Finding]:
        occurrences = self.occurrences(call)
        if not occurrences:
            return []
        evidence, unanswered = [], 0
        for index, found, replies in occurrences:
            evidence.append(call.evidence(index, found))
            answers = [(r, m) for r, m in replies if m]
            if answers:
                evidence += [call.evidence(r, m) for r, m in answers[:1]]
            else:
                unanswered += 1
                evidence += [call.evidence(r) for r, _ in replies]
        status = FindingStatus.UNHANDLED if unanswered else FindingStatus.HANDLED
        detail = _(
            "raised {count} time(s), {answered} answered within {turns} agent turn(s)",
            count=len(occurrences),
            answered=len(occurrences) - unanswered,
            turns=self.rule.within_turns,
        )
        return [
            Finding(
                self.rule.id,
                self.category,
                status,
                self.rule.weight if unanswered else 0,
                self.rule.name,
                detail=detail,
                evidence=evidence,
            )
        ]


class CappedCheck(Check):
    """Violations counted per occurrence, their deductions capped at `max_deduct`."""

    def capped(
        self,
        rule_id: str,
        name: str,
        deduct: float,
        max_deduct: float | None,
        items: Iterable[tuple[str, list[Evidence]]],
    ) -> list[Finding]:
        findings, total = [], 0.0
        for detail, evidence in items:
            amount = deduct
            if max_deduct is not None:
                amount = max(0.0, min(deduct, max_deduct - total))
            total += amount
            findings.append(
                Finding(
                    rule_id,
                    self.category,
                    FindingStatus.VIOLATION,
                    amount,
                    name,
                    detail=detail,
                    evidence=evidence,
                )
            )
        return findings


class SilenceCheck(CappedCheck):
    category = Category.SILENCE

    def __init__(self, rule: Silence):
        self.rule = rule

    def run(self, call: Call) -> list[Finding]:
        items: list[tuple[str, list[Evidence]]] = []
        covered_until: float | None = None
        last_index = 0  # the utterance that reaches covered_until
        for index, u in enumerate(call.utterances):
            if covered_until is not None and u.start - covered_until > self.rule.max_gap_seconds:
                gap = u.start - covered_until
                items.append(
                    (
                        _(
                            "{seconds:.1f} s of silence (limit {limit:g} s)",
                            seconds=gap,
                            limit=self.rule.max_gap_seconds,
                        ),
                        [call.evidence(last_index), call.evidence(index)],
                    )
                )
            if covered_until is None or u.end >= covered_until:
                covered_until, last_index = u.end, index
        return self.capped("silence", "静音", self.rule.deduct, self.rule.max_deduct, items)


def sparse(call: Call, index: int) -> bool:
    """Mostly noise the VAD held open around a word or two (config.SPARSE_CHARS_PER_S): where
    in it the customer spoke is unknown."""
    u = call.utterances[index]
    return (
        u.duration > SPARSE_MIN_S and len(call.texts[index].norm) < SPARSE_CHARS_PER_S * u.duration
    )


class InterruptionCheck(CappedCheck):
    category = Category.INTERRUPTION

    def __init__(self, rule: Interruption):
        self.rule = rule

    def run(self, call: Call) -> list[Finding]:
        items: list[tuple[str, list[Evidence]]] = []
        customers = call.indices(Role.CUSTOMER)
        for a in call.indices(Role.AGENT):
            agent = call.utterances[a]
            for c in customers:
                customer = call.utterances[c]
                if customer.start < agent.start < customer.end and not sparse(call, c):
                    overlap = min(agent.end, customer.end) - agent.start
                    if overlap >= self.rule.min_overlap_seconds:
                        items.append(
                            (
                                _(
                                    "agent talked over the customer for {seconds:.1f} s",
                                    seconds=overlap,
                                ),
                                [call.evidence(c), call.evidence(a)],
                            )
                        )
                        break
        extra = items[self.rule.max_count :]
        return self.capped("interruption", "抢话", self.rule.deduct, self.rule.max_deduct, extra)


def spoken_chars(text: PreparedText) -> int:
    return len(text.norm)


class SpeechRateCheck(Check):
    category = Category.SPEECH_RATE

    def __init__(self, rule: SpeechRate):
        self.rule = rule

    def run(self, call: Call) -> list[Finding]:
        agents = call.indices(Role.AGENT)
        seconds = sum(call.utterances[i].duration for i in agents)
        if seconds < 5:  # too little speech for a rate to mean anything
            return []
        chars = sum(spoken_chars(call.texts[i]) for i in agents)
        rate = chars / seconds * 60
        too_fast = self.rule.max_chars_per_minute and rate > self.rule.max_chars_per_minute
        too_slow = self.rule.min_chars_per_minute and rate < self.rule.min_chars_per_minute
        if not (too_fast or too_slow):
            return []
        fastest = sorted(
            agents,
            key=lambda i: -spoken_chars(call.texts[i]) / max(call.utterances[i].duration, 0.1),
        )[:3]
        limit = (
            f"> {self.rule.max_chars_per_minute:g}"
            if too_fast
            else f"< {self.rule.min_chars_per_minute:g}"
        )
        return [
            Finding(
                "speech_rate",
                self.category,
                FindingStatus.VIOLATION,
                self.rule.deduct,
                "语速",
                detail=_("agent speaks {rate:.0f} chars/min ({limit})", rate=rate, limit=limit),
                evidence=[call.evidence(i) for i in sorted(fastest)],
            )
        ]


class ProductFactCheck(Check):
    """知识库核对 (knowledge-base check): an agent stating a product fact with a value the
    knowledge base contradicts. One finding per fact, every wrong statement as evidence.
    Customers' words are not checked: a customer misquoting the price is no agent error."""

    category = Category.PRODUCT_FACT

    def __init__(self, kb: KnowledgeBase, rule: FactCheck):
        self.kb = kb
        self.compiled = compile_knowledge(kb)
        self.rule = rule

    def run(self, call: Call) -> list[Finding]:
        wrong: dict[str, list[tuple[int, Claim]]] = {}
        for index in call.indices(Role.AGENT):
            text = call.utterances[index].text
            for claim in wrong_claims(text, self.compiled, call.texts[index].clauses):
                wrong.setdefault(claim.fact.id, []).append((index, claim))
        findings = []
        for items in wrong.values():
            fact = items[0][1].fact
            evidence = [
                Evidence.of(
                    call.utterances[i],
                    matched=c.said,
                    value=fact.show(c.value),
                    kb_value=fact.show(fact.value),
                )
                for i, c in items
            ]
            said = "、".join(dict.fromkeys(fact.show(c.value) for _, c in items))
            findings.append(
                Finding(
                    f"product_fact.{fact.id}",
                    self.category,
                    FindingStatus.VIOLATION,
                    self.rule.deduct,
                    f"{fact.name or fact.id}与知识库不符",
                    self.rule.severity,
                    _(
                        "agent said {said}; knowledge base {kb}: {value}",
                        said=said,
                        kb=self.kb.id,
                        value=fact.show(fact.value),
                    ),
                    evidence,
                )
            )
        return findings


# The implementations of rubric.BUILTIN_CHECKS (a unit test holds the two to the same names).
BUILTINS: dict[str, Callable[[AttitudeError, float], Check]] = {
    "agent_hangup": AgentHangupCheck,
    "hold_without_reason": HoldWithoutReasonCheck,
    "transfer_without_reason": TransferWithoutReasonCheck,
}


def build_checks(
    rubric: Rubric, default_fuzzy: float = DEFAULT_FUZZY, similar: SimilarRules | None = None
) -> list[Check]:
    fuzzy = rubric.fuzzy if rubric.fuzzy is not None else default_fuzzy
    checks: list[Check] = []
    order = ScriptOrder()
    presence: list[PhrasePresenceCheck] = [
        ScriptSectionCheck(r, fuzzy, similar, order) for r in rubric.script_sections
    ]
    presence += [
        PhrasePresenceCheck(r, Category.MANDATORY_POINT, fuzzy, similar)
        for r in rubric.mandatory_points
    ]
    # A segment that says another section's or point's key phrase is that rule's evidence,
    # never this one's by meaning (semantic.SimilarMatcher.explained_elsewhere).
    for check in presence:
        if check.matcher.similar:
            check.matcher.similar.compete(
                np.asarray(
                    sorted(
                        {
                            col
                            for other in presence
                            if other.rule.id != check.rule.id and other.matcher.similar
                            for col in other.matcher.similar.cols.tolist()
                        }
                        - set(check.matcher.similar.cols.tolist())
                    ),
                    dtype=np.intp,
                ),
                tuple(
                    dict.fromkeys(
                        n
                        for other in presence
                        if other.rule.id != check.rule.id
                        for p in other.rule.any
                        if (n := normalize(p)) and n not in map(normalize, check.rule.any)
                    )
                ),
            )
    checks += presence
    checks += [
        PhraseViolationCheck(r, Category.FORBIDDEN_PHRASE, fuzzy, similar)
        for r in rubric.forbidden_phrases
    ]
    for rule in rubric.attitude_errors:
        if rule.check:
            checks.append(BUILTINS[rule.check](rule, fuzzy))
        if rule.has_phrases():
            checks.append(PhraseViolationCheck(rule, Category.ATTITUDE_ERROR, fuzzy, similar))
    checks += [ObjectionCheck(r, fuzzy, similar) for r in rubric.objections]
    if rubric.silence:
        checks.append(SilenceCheck(rubric.silence))
    if rubric.interruption:
        checks.append(InterruptionCheck(rubric.interruption))
    if rubric.speech_rate:
        checks.append(SpeechRateCheck(rubric.speech_rate))
    kb = knowledge_of(rubric)
    if kb is not None and kb.facts:
        checks.append(ProductFactCheck(kb, rubric.fact_check))
    return checks
