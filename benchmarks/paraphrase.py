"""Matching by meaning (`similar:`) on the labelled corpora: model comparison and thresholds.

Scores the cached ASR transcripts (no recognition) of the dev paraphrase corpus
(benchmarks/data/dev_paraphrase_transcripts.json) and of the clean dev corpus
(benchmarks/data/dev_transcripts.json) with
- the corpus's unchanged rubric, phrases only (today's matcher);
- the unchanged rubric with its `any` phrases acting as examples at threshold + margin;
- benchmarks/data/telecom-paraphrase-similar.yaml (the same rubric with `similar:` examples);
for each sentence model installed and each threshold, and prints findings P/R/F1, grade
agreement and outcome accuracy, plus the time to embed the utterances. `--samples` also
counts the findings that change on the sample recordings' reference transcripts (no labels
there: any new hit there is a false one to look at).

    python benchmarks/paraphrase.py [--models use-multilingual-v3 e5-small-q4] [--samples]
    python benchmarks/paraphrase.py --models use-multilingual-v3 --why   # misses, false hits
Refresh the cache with this machine's recognition: `python benchmarks/accuracy.py --corpus
../shared/corpus/dev-paraphrase --conditions clean --out DIR`, then DIR/clean.json's "calls".
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from scoring_accuracy import AccuracyReport, result_items

from qa_service.config import DEFAULT_CALIBRATION, DEFAULT_PHRASE_MARGIN, DEFAULT_SIMILAR_THRESHOLD
from qa_service.domain.results import Utterance
from qa_service.rules.checks import Call
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer
from qa_service.rules.semantic import MODELS, SimilarMatcher, embed_utterances, get_embedder

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPORA = {
    "dev-paraphrase": (
        SHARED / "corpus" / "dev-paraphrase",
        ROOT / "benchmarks" / "data" / "dev_paraphrase_transcripts.json",
    ),
    "dev": (SHARED / "corpus" / "dev", ROOT / "benchmarks" / "data" / "dev_transcripts.json"),
}
SIMILAR_RUBRIC = ROOT / "benchmarks" / "data" / "telecom-paraphrase-similar.yaml"
THRESHOLDS = {"use-multilingual-v3": (0.5, 0.55, 0.6, 0.65), "e5-small-q4": (0.88, 0.9, 0.92, 0.94)}
MARGINS = (0.1, 0.2, 0.3)


def load_calls(path: Path) -> dict[str, tuple[list[Utterance], float]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        cid: ([Utterance(**u) for u in t["utterances"]], t["duration"]) for cid, t in data.items()
    }


EXAMPLE_FIELDS = ("similar", "customer_says_similar", "agent_should_similar")


def with_examples(rubric, donor):
    """`rubric` with the example sentences of `donor`'s rules of the same id (and its outcome's):
    the clean dev corpus's own rubric gets the examples written for the paraphrase rubric."""
    by_id = {rule.id: rule for _, _, rule in donor.rules()}
    out = rubric.model_copy(deep=True)
    for _, _, rule in out.rules():
        source = by_id.get(rule.id)
        for name in EXAMPLE_FIELDS:
            if source is not None and hasattr(rule, name):
                setattr(rule, name, list(getattr(source, name)))
    out.outcome.success_similar = list(donor.outcome.success_similar)
    out.outcome.refusal_similar = list(donor.outcome.refusal_similar)
    return out


def report(
    corpus: Path,
    calls,
    vectors,
    model,
    rubric,
    threshold,
    margin,
    calibration: float = DEFAULT_CALIBRATION,
) -> AccuracyReport:
    scorer = Scorer(
        rubric,
        similar_threshold=threshold,
        phrase_margin=margin,
        model=model,
        similar_calibration=calibration,
    )
    labels = {x["id"]: x for x in json.loads((corpus / "labels.json").read_text())}
    rep = AccuracyReport()
    for cid, label in labels.items():
        utts, duration = calls[cid]
        ev = scorer.evaluate(Call(utts, duration, vectors=vectors.get(cid)))
        rep.add(cid, label, rubric, ev.findings, ev.grade, ev.outcome)
    return rep


def line(name: str, rep: AccuracyReport) -> str:
    return (
        f"  {name:<34} P {rep.precision:.3f} R {rep.recall:.3f} F1 {rep.f1:.3f} "
        f"grades {rep.grade_agreement:.3f} outcomes {rep.outcome_accuracy:.3f}"
    )


def why(corpus: Path, calls, vectors, model, rubric) -> list[str]:
    """Per call, each script section or mandatory point the labels and the findings disagree
    on: the rule's two best-scoring utterances of the agent by meaning (example, cosine,
    threshold, the text read), whatever the threshold, to tell garble from wording."""
    scorer = Scorer(rubric, model=model)
    lines = []
    for label in json.loads((corpus / "labels.json").read_text()):
        utts, duration = calls[label["id"]]
        call = Call(utts, duration, vectors=vectors.get(label["id"]))
        ev = scorer.evaluate(call)
        hit = {f.rule_id for f in ev.findings if f.status == "hit"}
        for check in scorer.checks:
            rule, matcher = getattr(check, "rule", None), getattr(check, "matcher", None)
            if (
                rule is None
                or matcher is None
                or not matcher.similar
                or not hasattr(rule, "within_first")
                and rule not in scorer.rubric.mandatory_points
            ):
                continue
            truth = rule.id in label["sections"] or rule.id in label["points"]
            if truth == (rule.id in hit):
                continue
            similar = matcher.similar
            wide = SimilarMatcher(
                similar.bank, [scorer.bank.examples[c].text for c in similar.cols], -0.99
            )
            found = sorted(
                (
                    (m.similarity, i, m)
                    for i, m in wide.candidates(call.similarities(scorer.bank)).items()
                    if call.utterances[i].role == rule.role
                ),
                key=lambda x: -x[0],
            )[:2]
            limits = dict(
                zip(
                    (scorer.bank.examples[c].text for c in similar.cols),
                    similar.thresholds.tolist(),
                )
            )
            lines.append(
                f"{label['id']} {'MISSED' if truth else 'FALSE HIT'} {rule.id}: "
                + " | ".join(
                    f"{score:.3f}/{limits[m.phrase]:.3f} [{m.phrase}] {m.matched[:40]}"
                    for score, _, m in found
                )
            )
    return lines


def embed_all(model: str, calls) -> tuple[dict, float, int]:
    embedder = get_embedder(model)
    embedder.encode(["预热"])
    start, count, out = time.perf_counter(), 0, {}
    for cid, (utts, _) in calls.items():
        out[cid] = embed_utterances(embedder, [u.text for u in utts])
        count += len(utts)
    return out, time.perf_counter() - start, count


def sample_changes(model: str, threshold: float, margin: float) -> tuple[int, int, list[str]]:
    """Findings on the samples' reference transcripts (each folder is named by its rubric's
    id): (items found with phrases only, items new with phrases as examples, what changed)."""
    rubrics = {r.id: r for r in map(load_rubric, sorted((ROOT / "rubrics").glob("*.yaml")))}
    before = new = 0
    changes = []
    for folder in sorted(p for p in (ROOT / "samples").iterdir() if p.name in rubrics):
        rubric = rubrics[folder.name]
        plain_scorer = Scorer(rubric, phrase_margin=None)
        wide_scorer = Scorer(rubric, similar_threshold=threshold, phrase_margin=margin, model=model)
        for ref in sorted(folder.glob("*.ref.json")):
            data = json.loads(ref.read_text(encoding="utf-8"))
            utts = [Utterance(t["role"], t["start"], t["end"], t["text"]) for t in data["turns"]]
            duration = max(u.end for u in utts) + 1
            plain = result_items(plain_scorer.evaluate(Call(utts, duration)).findings)
            wide = result_items(wide_scorer.evaluate(Call(utts, duration)).findings)
            before += len(plain)
            new += len(wide - plain)
            if wide != plain:
                changes.append(f"{ref.name}: +{sorted(wide - plain)} -{sorted(plain - wide)}")
    return before, new, changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=[m for m in MODELS])
    ap.add_argument("--samples", action="store_true")
    ap.add_argument("--errors", action="store_true", help="print per-call differences")
    ap.add_argument(
        "--why",
        action="store_true",
        help="per section and point missed or falsely hit: its best examples by meaning",
    )
    args = ap.parse_args()
    for model in args.models:
        print(f"\n== {model} ==")
        for name, (corpus, cache) in CORPORA.items():
            calls = load_calls(cache)
            vectors, seconds, count = embed_all(model, calls)
            print(
                f"{name}: embedded {count} utterances in {seconds:.2f} s "
                f"({seconds / count * 1000:.1f} ms each)"
            )
            own = load_rubric(corpus / "rubric.yaml")
            similar = with_examples(own, load_rubric(SIMILAR_RUBRIC))
            print(
                line(
                    "unchanged rubric, phrases only",
                    report(corpus, calls, vectors, model, own, 1.0, None),
                )
            )
            for threshold in THRESHOLDS[model]:
                rep = report(
                    corpus, calls, vectors, model, similar, threshold, DEFAULT_PHRASE_MARGIN
                )
                print(line(f"similar rubric @ {threshold:.2f}", rep))
                if args.errors:
                    print("\n".join("      " + e for e in rep.errors))
                if threshold == DEFAULT_SIMILAR_THRESHOLD:
                    print(
                        line(
                            "  same, no calibration",
                            report(
                                corpus,
                                calls,
                                vectors,
                                model,
                                similar,
                                threshold,
                                DEFAULT_PHRASE_MARGIN,
                                0.0,
                            ),
                        )
                    )
            if args.why:
                print("\n".join("      " + w for w in why(corpus, calls, vectors, model, similar)))
            for threshold in THRESHOLDS[model][1:3]:
                for margin in MARGINS:
                    print(
                        line(
                            f"phrases as examples @ {threshold:.2f}+{margin:.1f}",
                            report(corpus, calls, vectors, model, own, threshold, margin),
                        )
                    )
        if args.samples:
            for threshold in THRESHOLDS[model][1:3]:
                for margin in MARGINS:
                    before, new, changes = sample_changes(model, threshold, margin)
                    print(
                        f"samples, phrases as examples @ {threshold:.2f}+{margin:.1f}: "
                        f"{new} new findings over {before}"
                    )
                    for c in changes:
                        print("      " + c)


if __name__ == "__main__":
    main()
