"""Warnings about a rubric's `similar:` examples, for `check-rubric`.

- overlap: an example of one rule would itself match another rule's examples (cosine at or
  above that rule's threshold, numbers and negation agreeing), so both rules fire on the same
  sentences;
- unused: an example that matches no utterance of a set of calls (the dev calls), a sign it
  is worded unlike what agents and customers say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa_service.domain.results import Utterance
from qa_service.i18n import message
from qa_service.rules.checks import Call
from qa_service.rules.scoring import Scorer
from qa_service.rules.semantic import SimilarMatcher


@dataclass(frozen=True)
class RuleExamples:
    rule: str  # rule id, with the field for objections and the outcome
    matcher: SimilarMatcher


def example_sets(scorer: Scorer) -> list[RuleExamples]:
    """Every rule's written examples (not rule phrases acting as examples)."""
    out = []
    for check in scorer.checks:
        rule = getattr(check, "rule", None)
        for field, attr in (
            ("", "matcher"),
            ("customer_says_similar", "raised"),
            ("agent_should_similar", "answer"),
        ):
            matcher = getattr(check, attr, None)
            similar = getattr(matcher, "similar", None)
            if similar and similar.label == "similar" and rule is not None:
                out.append(RuleExamples(f"{rule.id}.{field}" if field else rule.id, similar))
    for field in ("success", "refusal"):
        similar = getattr(scorer, field).similar
        if similar and similar.label == "similar":
            out.append(RuleExamples(f"outcome.{field}_similar", similar))
    return out


def overlaps(scorer: Scorer) -> list[str]:
    sets = example_sets(scorer)
    if not sets:
        return []
    bank = sets[0].matcher.bank
    sims = bank.matrix.T @ bank.matrix  # example x example cosines
    warnings = []
    for i, a in enumerate(sets):
        for b in sets[i + 1 :]:
            if a.rule.split(".")[0] == b.rule.split(".")[0]:
                continue  # an objection's two sides are different roles
            for ca in a.matcher.cols:
                for cb in b.matcher.cols:
                    score = float(sims[ca, cb])
                    ea, eb = bank.examples[ca], bank.examples[cb]
                    if (
                        score >= min(a.matcher.threshold, b.matcher.threshold)
                        and eb.agrees(ea.text)
                        and ea.agrees(eb.text)
                    ):
                        warnings.append(
                            message(
                                "rules {a} and {b}: examples {ea} and {eb} are {score:.2f} "
                                "alike, so both rules would match the same sentences",
                                a=a.rule,
                                b=b.rule,
                                ea=repr(ea.text),
                                eb=repr(eb.text),
                                score=score,
                            )
                        )
    return warnings


def load_calls(path: Path) -> list[Call]:
    """Calls from a transcripts cache (benchmarks/data/*.json: id -> {duration, utterances})
    or from a corpus folder's reference transcripts (*.ref.json)."""
    calls = []
    if path.is_dir():
        for ref in sorted(path.rglob("*.ref.json")):
            turns = json.loads(ref.read_text(encoding="utf-8"))["turns"]
            utts = [Utterance(t["role"], t["start"], t["end"], t["text"]) for t in turns]
            calls.append(Call(utts, max((u.end for u in utts), default=0.0)))
        return calls
    data = json.loads(path.read_text(encoding="utf-8"))
    for t in data.values():
        calls.append(Call([Utterance(**u) for u in t["utterances"]], t["duration"]))
    return calls


def unused(scorer: Scorer, calls: list[Call]) -> list[str]:
    sets = example_sets(scorer)
    if not sets or not calls:
        return []
    bank = sets[0].matcher.bank
    best = np.full(len(bank.examples), -1.0)
    for call in calls:
        table = call.similarities(bank).table
        if len(table):
            best = np.maximum(best, table.max(axis=0))
    warnings = []
    for rule in sets:
        for col in rule.matcher.cols:
            if best[col] < rule.matcher.threshold:
                warnings.append(
                    message(
                        "rule {rule}: example {example} matches none of the {n} calls (closest "
                        "{best:.2f}, threshold {threshold:.2f})",
                        rule=rule.rule,
                        example=repr(bank.examples[col].text),
                        n=len(calls),
                        best=best[col],
                        threshold=rule.matcher.threshold,
                    )
                )
    return warnings
