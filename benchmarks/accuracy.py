"""Accuracy on the labelled dev corpus with the real model, and the fuzzy-threshold sweep.

Prints findings precision/recall/F1, grade agreement, outcome accuracy, turn-timing hit rate
(reference turn starts with an utterance within 0.5 s), role accuracy on mono calls, and the
same figures for fuzzy thresholds from 0.70 to 1.00 (how the default 0.85 was chosen).
`--save` writes the transcripts to benchmarks/data/dev_transcripts.json for rule_engine.py.

    python benchmarks/accuracy.py [--corpus ../shared/corpus/dev] [--save]
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from qa_service.accuracy import AccuracyReport
from qa_service.pipeline import evaluate, transcribe_file
from qa_service.rubric import load_rubric
from qa_service.scoring import Scorer
from qa_service.transcribe import get_recognizer

ROOT = Path(__file__).resolve().parents[1]
SAVED = ROOT / "benchmarks" / "data" / "dev_transcripts.json"


def timing_and_roles(corpus: Path, transcripts: dict) -> tuple[float, float, int]:
    hits = total = right = mono = 0
    for cid, t in transcripts.items():
        ref = json.loads((corpus / f"{cid}.ref.json").read_text(encoding="utf-8"))
        for turn in ref["turns"]:
            total += 1
            near = min(t["utterances"], key=lambda u: abs(u["start"] - turn["start"]))
            ok = abs(near["start"] - turn["start"]) <= 0.5
            hits += ok
            if t["separation"] == "mono":
                mono += 1
                right += ok and near["role"] == turn["role"]
    return hits / total, (right / mono if mono else 1.0), mono


def report(corpus: Path, transcripts: dict, fuzzy: float) -> AccuracyReport:
    from qa_service.results import Utterance
    rubric = load_rubric(corpus / "rubric.yaml")
    scorer = Scorer(rubric, fuzzy)
    labels = {x["id"]: x for x in json.loads((corpus / "labels.json").read_text())}
    rep = AccuracyReport()
    for cid, label in labels.items():
        t = transcripts[cid]
        utts = [Utterance(**u) for u in t["utterances"]]
        r = evaluate(cid, utts, t["duration"], scorer)
        rep.add(cid, label, rubric, r.findings, r.grade, r.outcome)
    return rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    ap.add_argument("--save", action="store_true", help=f"write transcripts to {SAVED}")
    ap.add_argument("--cached", action="store_true", help=f"score the saved {SAVED.name} only")
    args = ap.parse_args()
    labels = json.loads((args.corpus / "labels.json").read_text())
    rubric = load_rubric(args.corpus / "rubric.yaml")
    if args.cached:
        transcripts = json.loads(SAVED.read_text(encoding="utf-8"))
    else:
        recognizer = get_recognizer()
        transcripts, seconds, audio = {}, 0.0, 0.0
        for label in labels:
            start = time.perf_counter()
            t = transcribe_file(str(args.corpus / label["audio"]), recognizer, rubric)
            seconds += time.perf_counter() - start
            audio += t.duration
            transcripts[label["id"]] = {"duration": t.duration, "separation": t.separation,
                                        "utterances": [asdict(u) for u in t.utterances]}
        print(f"transcribed {len(labels)} calls, {audio:.0f} s of audio in {seconds:.0f} s "
              f"(RTF {seconds / audio:.3f})")
    if args.save:
        SAVED.parent.mkdir(parents=True, exist_ok=True)
        SAVED.write_text(json.dumps(transcripts, ensure_ascii=False, indent=0), encoding="utf-8")
    timing, roles, mono_turns = timing_and_roles(args.corpus, transcripts)
    main_report = report(args.corpus, transcripts, 0.85)
    print(main_report.summary())
    print(f"turn timing (start within 0.5 s) {timing:.3f}   mono role accuracy {roles:.3f} "
          f"over {mono_turns} reference turns")
    for line in main_report.errors:
        print("  " + line)
    print("\nfuzzy threshold sweep (the default is 0.85):")
    for fuzzy in (0.70, 0.75, 0.80, 0.82, 0.85, 0.88, 0.90, 0.95, 1.00):
        rep = report(args.corpus, transcripts, fuzzy)
        print(f"  fuzzy {fuzzy:.2f}: P {rep.precision:.3f} R {rep.recall:.3f} F1 {rep.f1:.3f} "
              f"grades {rep.grade_agreement:.3f} outcomes {rep.outcome_accuracy:.3f}")


if __name__ == "__main__":
    main()
