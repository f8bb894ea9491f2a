"""Score, grade, outcome and highlights of one call under one rubric (spec: Scoring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from qa_service.config import (
    DEFAULT_CALIBRATION,
    DEFAULT_FUZZY,
    DEFAULT_PHRASE_MARGIN,
    DEFAULT_SIMILAR_THRESHOLD,
    NO_SPEECH_MIN_CHARS,
    NO_SPEECH_WARNING,
)
from qa_service.domain.enums import CallOutcome, Category, FindingStatus, Grade, Role, SectionKind
from qa_service.domain.results import CallResult, Evidence, Finding, Highlight, Utterance
from qa_service.i18n import _
from qa_service.rules import knowledge, matching, normalize, semantic
from qa_service.rules.checks import Call, build_checks, phrase_matcher
from qa_service.rules.matching import PhraseMatcher, PreparedText, prepare
from qa_service.rules.rubric import Rubric, Scoring
from qa_service.rules.semantic import (
    DEFAULT_MODEL,
    CallVectors,
    Embedder,
    ExampleBank,
    SimilarRules,
)

# Deductions capped per occurrence live in these categories; the rest count once per rule.
PER_OCCURRENCE = {Category.SILENCE, Category.INTERRUPTION}
# Script sections whose lines are worth collecting as highlight scripts in successful calls.
HIGHLIGHT_KINDS = (SectionKind.PERSUASION, SectionKind.CLOSING)


def total_deduction(findings: list[Finding]) -> float:
    once: dict[tuple[str, str], float] = {}
    total = 0.0
    for f in findings:
        if f.category in PER_OCCURRENCE:
            total += f.deduction
        else:
            key = (f.category, f.rule_id)
            once[key] = max(once.get(key, 0.0), f.deduction)
    return total + sum(once.values())


# How close a silence must begin to the end of an attitude error's evidence to be its span.
SAME_SPAN_S = 0.5


def once_per_span(findings: list[Finding]) -> None:
    """One span penalised once: a silence that begins where an attitude error's evidence ends
    (the hold after 请稍等 without a reason) is dismissed here, pointing at the attitude error
    that counts it."""
    attitude = [
        (f, e)
        for f in findings
        if f.category == Category.ATTITUDE_ERROR and f.status == FindingStatus.VIOLATION
        for e in f.evidence
    ]
    for f in findings:
        if f.category != Category.SILENCE or f.status != FindingStatus.VIOLATION or not f.evidence:
            continue
        before = f.evidence[0]  # the utterance the silence follows
        counted = next(
            (a for a, e in attitude if abs(before.end - e.end) <= SAME_SPAN_S),
            None,
        )
        if counted is not None:
            f.status, f.deduction = FindingStatus.DISMISSED, 0.0
            f.detail += _("; ") + _(
                "counted once, under the attitude error {name}",
                name=counted.name or counted.rule_id,
            )


def grade_of(score: float, fatal: bool, scoring: Scoring) -> Grade:
    if fatal or score < scoring.pass_score:
        return Grade.FAIL
    return Grade.EXCELLENT if score >= scoring.excellent_score else Grade.PASS


def score_findings(findings: list[Finding], scoring: Scoring) -> tuple[float, Grade, bool]:
    fatal = any(f.fatal for f in findings)
    score = 0.0 if fatal else max(0.0, scoring.total - total_deduction(findings))
    return score, grade_of(score, fatal, scoring), fatal


def speech_chars(utterances: Sequence[Utterance]) -> int:
    """Recognized characters of a whole call, both speakers: letters and digits only, so
    punctuation a recognizer puts around nothing does not count."""
    return sum(ch.isalnum() for u in utterances for ch in u.text)


def no_speech(utterances: Sequence[Utterance]) -> bool:
    """Too little speech in the whole call to grade it (config.NO_SPEECH_MIN_CHARS: silence,
    noise, a dead line): speech_chars below it, counted only as far as needed."""
    chars = 0
    for u in utterances:
        chars += sum(map(str.isalnum, u.text))
        if chars >= NO_SPEECH_MIN_CHARS:
            return False
    return True


class Scorer:
    """A rubric compiled once (phrases normalized, pinyin computed), applied to many calls."""

    def __init__(
        self,
        rubric: Rubric,
        default_fuzzy: float = DEFAULT_FUZZY,
        similar_threshold: float = DEFAULT_SIMILAR_THRESHOLD,
        phrase_margin: float | None = DEFAULT_PHRASE_MARGIN,
        model: str = DEFAULT_MODEL,
        embedder: Embedder | None = None,
        similar_calibration: float = DEFAULT_CALIBRATION,
    ):
        self.rubric = rubric
        fuzzy = rubric.fuzzy if rubric.fuzzy is not None else default_fuzzy
        # Every example sentence of the rubric lands in one bank (embedded once, lazily).
        self.bank = ExampleBank(model, embedder)
        similar = SimilarRules(
            self.bank,
            rubric.similar_threshold if rubric.similar_threshold is not None else similar_threshold,
            phrase_margin,
            similar_calibration,
        )
        self.checks = build_checks(rubric, fuzzy, similar)
        out = rubric.outcome
        threshold = out.fuzzy if out.fuzzy is not None else fuzzy
        self.success = phrase_matcher(
            out.success, threshold, similar, out.success_similar, out.similar_threshold
        )
        self.refusal = phrase_matcher(
            out.refusal, threshold, similar, out.refusal_similar, out.similar_threshold
        )
        self.agent_success = PhraseMatcher(any=out.agent_success, fuzzy=threshold)
        self.agent_refusal = PhraseMatcher(any=out.agent_refusal, fuzzy=threshold)

    @property
    def uses_similarity(self) -> bool:
        return bool(self.bank)

    def outcome(self, call: Call) -> tuple[CallOutcome, int | None]:
        """The customer's last word decides: a refusal followed by 那就办吧 is a success.
        When no customer utterance decides (the reply was lost to the line, or hallucinated
        over), the agent's wrap-up does: 登记好了 is a sale, 不打扰您了 a refusal."""
        out = self.rubric.outcome
        decided = self._last_decision(call.indices(out.role), self.success, self.refusal, call)
        if decided[0] == CallOutcome.UNKNOWN and out.role == Role.CUSTOMER and out.agent_turns:
            decided = self._last_decision(
                self.wrap_up(call), self.agent_success, self.agent_refusal, call
            )
        return decided

    def wrap_up(self, call: Call) -> list[int]:
        """The agent's wrap-up: its last `agent_turns` utterances, and every utterance of its
        after the customer's last one (a confirmation and a farewell the recognizer cut into
        four pieces: 好的 已经给您登记好了 / 保单会发到您手机上 / 感谢您的接听 / 再见)."""
        agent = call.indices(Role.AGENT)
        customer = call.indices(Role.CUSTOMER)
        last = customer[-1] if customer else -1
        tail = [i for i in agent if i > last]
        return sorted({*agent[-self.rubric.outcome.agent_turns :], *tail})

    @staticmethod
    def _last_decision(
        indices: list[int], success: PhraseMatcher, refusal: PhraseMatcher, call: Call
    ) -> tuple[CallOutcome, int | None]:
        for index in reversed(indices):
            if success and call.match(success, index):
                return CallOutcome.SUCCESS, index
            if refusal and call.match(refusal, index):
                return CallOutcome.REFUSAL, index
        return CallOutcome.UNKNOWN, None

    def evaluate(self, call: Call, recording: str = "") -> CallResult:
        """The call's findings, score, grade, outcome and highlights under this rubric; what
        the rubric does not know (warnings, ids, metadata) is left for the caller to fill."""
        findings: list[Finding] = []
        for check in self.checks:
            findings += check.run(call)
        if self.rubric.silence and not self.rubric.silence.with_attitude_error:
            once_per_span(findings)
        if no_speech(call.utterances) and not any(f.fatal for f in findings):
            return self.not_graded(call, recording)
        score, grade, fatal = score_findings(findings, self.rubric.scoring)
        outcome, _ = self.outcome(call)
        return CallResult(
            recording=recording,
            rubric_id=self.rubric.id,
            rubric_version=self.rubric.version,
            score=score,
            grade=grade,
            fatal=fatal,
            outcome=outcome,
            duration=call.duration,
            findings=findings,
            utterances=call.utterances,
            highlights=self.highlights(findings, outcome),
        )

    def not_graded(self, call: Call, recording: str) -> CallResult:
        """A call with no speech to judge (`no_speech`): not graded, so no score (0 here, null
        in the JSON), no findings (every section "missed" says nothing about the agent), no
        outcome, and a warning saying why."""
        return CallResult(
            recording=recording,
            rubric_id=self.rubric.id,
            rubric_version=self.rubric.version,
            score=0.0,
            grade=Grade.NO_SPEECH,
            fatal=False,
            outcome=CallOutcome.UNKNOWN,
            duration=call.duration,
            utterances=call.utterances,
            warnings=[NO_SPEECH_WARNING],
        )

    def highlights(self, findings: list[Finding], outcome: CallOutcome) -> list[Highlight]:
        """亮点话术: approved answers to objections, and in successful calls the agent's
        persuasion and closing lines."""
        out: list[Highlight] = []
        seen: set[tuple[float, str]] = set()

        def add(e: Evidence, reason: str) -> None:
            key = (e.start, reason)
            if e.role == Role.AGENT and key not in seen:
                seen.add(key)
                out.append(Highlight(e.role, e.start, e.end, e.text, reason))

        for f in findings:
            if f.category == Category.OBJECTION:
                for e in f.evidence:
                    if e.role == Role.AGENT and e.phrase:
                        add(e, f"objection_handled:{f.rule_id}")
        if outcome == CallOutcome.SUCCESS:
            kinds = {s.id: s.kind for s in self.rubric.script_sections}
            for f in findings:
                kind = kinds.get(f.rule_id) if f.category == Category.SCRIPT_SECTION else None
                if kind in HIGHLIGHT_KINDS and f.status == FindingStatus.HIT:
                    add(f.evidence[0], kind.value)
        return sorted(out, key=lambda h: h.start)


def prepared_texts(utterances: Sequence[Utterance]) -> list[PreparedText]:
    """Each utterance's text prepared for matching, as a Call prepares them, and an agent's with
    what a knowledge base reads of it (stored with a transcript: rules/text_forms.py)."""
    return [
        replace(prepare(u.text), clauses=knowledge.clause_forms(u.text))
        if u.role == Role.AGENT
        else prepare(u.text)
        for u in utterances
    ]


def evaluate(
    recording: str,
    transcript_utterances: list[Utterance],
    duration: float,
    scorer: Scorer,
    vectors: CallVectors | None = None,
    warnings: Sequence[str] = (),
    texts: Sequence[PreparedText] = (),
) -> CallResult:
    """Check and score one transcript; `vectors` are its stored sentence vectors, if any
    (embedded here when the rubric has `similar:` examples and none are given); `warnings`
    are its recognition warnings (Transcript.warnings), carried into the result; `texts` its
    stored prepared texts (matching.prepare of each utterance), if any."""
    call = Call(transcript_utterances, duration, list(texts), vectors)
    result = scorer.evaluate(call, recording)
    result.warnings = [*warnings, *result.warnings]
    return result


# The caches keyed by a call's own texts (its utterances, their spans and clauses). Within a
# call, every rule asks them about the same texts; across calls they seldom meet a text again,
# and full they were a worker's largest growth (decision 0034). Words' readings and the
# knowledge base's clause vectors are shared by calls and stay.
CALL_TEXT_CACHES = (
    matching.prepare,
    matching.prepare_said,
    matching.said_pinyin,
    normalize.spoken,
    normalize.normalize,
    normalize.normalize_plain,
    normalize.syllables,
    semantic.negated,
    semantic.clauses,
    semantic.numbers_in,
    knowledge._clauses,
    knowledge._values,
    knowledge._ruled,
    knowledge._valued_clauses,
    knowledge._stating_clauses,
)


def forget_call_texts() -> None:
    """Empty the caches of calls' texts: a worker does it after each job."""
    for cache in CALL_TEXT_CACHES:
        cache.cache_clear()
