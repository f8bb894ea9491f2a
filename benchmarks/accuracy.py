"""Accuracy on the labelled dev corpus and its degraded line conditions, with the real model.

One row per condition: findings F1, grade agreement, outcome accuracy, character error rate
(per role, against the ref.json turn texts), turn timing (reference turn starts with an
utterance within 0.5 s), mono role accuracy, doubled utterances (an utterance whose text is
also an overlapping utterance of the other role: the far side leaking into a channel) and the
real-time factor of recognition. Conditions are those of the corpus degrader
(degrade_corpus.py beside the dev corpus; clean = the corpus itself); the degraded copies are
made once into --degraded (default ~/.cache/qa-service/degraded, or $QA_DEGRADED_CORPUS) when
missing, which needs sox (`apt-get install sox libsox-fmt-all`).

    python benchmarks/accuracy.py                          # the whole table
    python benchmarks/accuracy.py --conditions clean,echo --calls dev-001,dev-002
    python benchmarks/accuracy.py --cached                 # rescore saved transcripts only
    python benchmarks/accuracy.py --conditions clean --sweep --save

Transcripts of every run are kept in --out (default benchmarks/data/conditions/, ignored by
git) so --cached rescores them after a change to matching or checks without recognition.
--sweep prints the fuzzy-threshold sweep (how the default 0.85 was chosen); --save writes the
clean transcripts to benchmarks/data/dev_transcripts.json for rule_engine.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from rapidfuzz.distance import Levenshtein
from scoring_accuracy import AccuracyReport, heard_role

from qa_service.asr.transcript import transcribe_file
from qa_service.domain.results import Utterance
from qa_service.rules.normalize import normalize
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAVED = ROOT / "benchmarks" / "data" / "dev_transcripts.json"
CONDITIONS = ("clean", "echo", "noise15", "noise8", "long", "gsm", "fast", "quiet")
DEFAULT_DEGRADED = Path(
    os.environ.get("QA_DEGRADED_CORPUS", Path.home() / ".cache" / "qa-service" / "degraded")
)


def ensure_degraded(source: Path, out: Path, conditions: list[str]) -> None:
    missing = [c for c in conditions if c != "clean" and not (out / c / "labels.json").exists()]
    if not missing:
        return
    tool = SHARED / "tools" / "degrade_corpus.py"
    if shutil.which("sox") is None:
        sys.exit(
            f"{out}: degraded conditions {missing} are missing and sox is not installed "
            f"(apt-get install sox libsox-fmt-all) to make them with {tool}"
        )
    print(f"making {','.join(missing)} in {out} with {tool.name}", flush=True)
    subprocess.run(
        [sys.executable, str(tool), str(source), str(out), "--conditions", ",".join(missing)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def corpus_of(condition: str, source: Path, degraded: Path) -> Path:
    return source if condition == "clean" else degraded / condition


def transcribe_corpus(corpus: Path, labels: list[dict]) -> tuple[dict, float, float]:
    from qa_service.asr.transcribe import get_recognizer

    recognizer = get_recognizer()
    rubric = load_rubric(corpus / "rubric.yaml")
    transcripts, seconds, audio = {}, 0.0, 0.0
    for label in labels:
        start = time.perf_counter()
        t = transcribe_file(str(corpus / label["audio"]), recognizer, rubric)
        seconds += time.perf_counter() - start
        audio += t.duration
        transcripts[label["id"]] = {
            "duration": t.duration,
            "separation": t.separation,
            "warnings": list(getattr(t, "warnings", [])),
            "utterances": [asdict(u) for u in t.utterances],
        }
    return transcripts, seconds, audio


def reference(corpus: Path, cid: str) -> dict:
    return json.loads((corpus / f"{cid}.ref.json").read_text(encoding="utf-8"))


def timing_and_roles(corpus: Path, transcripts: dict) -> tuple[float, float, int]:
    """Turn timing (a reference turn start with an utterance start within 0.5 s) and mono
    role accuracy over the heard turns of mono calls (scoring_accuracy.heard_role)."""
    hits = total = right = mono = 0
    for cid, t in transcripts.items():
        heard = [(u["role"], u["start"], u["end"]) for u in t["utterances"]]
        for turn in reference(corpus, cid)["turns"]:
            total += 1
            if not t["utterances"]:
                continue
            near = min(t["utterances"], key=lambda u: abs(u["start"] - turn["start"]))
            hits += abs(near["start"] - turn["start"]) <= 0.5
            role = heard_role(turn, heard)
            if t["separation"] == "mono" and role is not None:
                mono += 1
                right += role == turn["role"]
    return hits / max(total, 1), (right / mono if mono else float("nan")), mono


def char_errors(corpus: Path, transcripts: dict) -> float:
    """Character error rate per role: each role's words in time order against that role's
    reference text (so a turn heard under the wrong role counts as missed and inserted)."""
    errors = length = 0
    for cid, t in transcripts.items():
        turns = reference(corpus, cid)["turns"]
        for role in ("agent", "customer"):
            ref = normalize("".join(x["text"] for x in turns if x["role"] == role))
            hyp = normalize("".join(u["text"] for u in t["utterances"] if u["role"] == role))
            errors += Levenshtein.distance(ref, hyp)
            length += len(ref)
    return errors / max(length, 1)


def doubled(transcripts: dict) -> int:
    """Utterances whose text mostly repeats an overlapping utterance of the other role."""
    count = 0
    for t in transcripts.values():
        utts = t["utterances"]
        for u in utts:
            text = normalize(u["text"])
            if len(text) < 2:
                continue
            for v in utts:
                if v["role"] != u["role"] and v["start"] < u["end"] and u["start"] < v["end"]:
                    if Levenshtein.normalized_similarity(text, normalize(v["text"])) >= 0.6 or (
                        len(text) >= 4 and text in normalize(v["text"])
                    ):
                        count += 1
                        break
    return count


def report(corpus: Path, transcripts: dict, fuzzy: float) -> AccuracyReport:
    rubric = load_rubric(corpus / "rubric.yaml")
    scorer = Scorer(rubric, fuzzy)
    labels = {x["id"]: x for x in json.loads((corpus / "labels.json").read_text())}
    rep = AccuracyReport()
    for cid, t in transcripts.items():
        utts = [Utterance(**u) for u in t["utterances"]]
        r = evaluate(cid, utts, t["duration"], scorer)
        rep.add(cid, labels[cid], rubric, r.findings, r.grade, r.outcome)
        if r.outcome != labels[cid].get("outcome", "unknown"):
            rep.errors.append(f"{cid}: outcome {r.outcome} (labels: {labels[cid]['outcome']})")
    return rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=SHARED / "corpus" / "dev")
    ap.add_argument("--degraded", type=Path, default=DEFAULT_DEGRADED)
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--calls", default="", help="comma-separated call ids (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "conditions")
    ap.add_argument("--cached", action="store_true", help="rescore the transcripts in --out")
    ap.add_argument("--errors", action="store_true", help="print each call's differences")
    ap.add_argument("--sweep", action="store_true", help="fuzzy-threshold sweep per condition")
    ap.add_argument("--save", action="store_true", help=f"write clean transcripts to {SAVED}")
    args = ap.parse_args()
    conditions = [c for c in args.conditions.split(",") if c]
    wanted = set(filter(None, args.calls.split(",")))
    if not args.cached:
        ensure_degraded(args.corpus, args.degraded, conditions)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for condition in conditions:
        corpus = corpus_of(condition, args.corpus, args.degraded)
        labels = [
            x
            for x in json.loads((corpus / "labels.json").read_text())
            if not wanted or x["id"] in wanted
        ]
        if not labels:
            continue
        saved = args.out / f"{condition}.json"
        if args.cached:
            kept = json.loads(saved.read_text(encoding="utf-8"))
            transcripts = {
                x["id"]: kept["calls"][x["id"]] for x in labels if x["id"] in kept["calls"]
            }
            seconds, audio = kept.get("seconds", 0.0), kept.get("audio", 0.0)
        else:
            transcripts, seconds, audio = transcribe_corpus(corpus, labels)
            saved.write_text(
                json.dumps(
                    {"seconds": seconds, "audio": audio, "calls": transcripts}, ensure_ascii=False
                ),
                encoding="utf-8",
            )
        rep = report(corpus, transcripts, 0.85)
        timing, roles, _ = timing_and_roles(corpus, transcripts)
        warned = sum(bool(t.get("warnings")) for t in transcripts.values())
        rows.append(
            (
                condition,
                rep.calls,
                rep.f1,
                rep.grade_agreement,
                rep.outcome_accuracy,
                char_errors(corpus, transcripts),
                timing,
                roles,
                doubled(transcripts),
                warned,
                seconds / audio if audio else float("nan"),
            )
        )
        print(f"{condition}: {rep.summary()}", flush=True)
        if args.errors:
            for line in rep.errors:
                print("  " + line)
        if args.sweep:
            for fuzzy in (0.70, 0.75, 0.80, 0.82, 0.85, 0.88, 0.90, 0.95, 1.00):
                r = report(corpus, transcripts, fuzzy)
                print(
                    f"  fuzzy {fuzzy:.2f}: P {r.precision:.3f} R {r.recall:.3f} F1 {r.f1:.3f} "
                    f"grades {r.grade_agreement:.3f} outcomes {r.outcome_accuracy:.3f}"
                )
        if args.save and condition == "clean":
            SAVED.parent.mkdir(parents=True, exist_ok=True)
            SAVED.write_text(
                json.dumps(transcripts, ensure_ascii=False, indent=0), encoding="utf-8"
            )
    print(
        "\n| condition | calls | findings F1 | grade agreement | outcome accuracy | CER "
        "| turn timing | mono roles | doubled | warned | RTF |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for c, n, f1, grades, outcomes, cer, timing, roles, dup, warned, rtf in rows:
        print(
            f"| {c} | {n} | {f1:.3f} | {grades:.3f} | {outcomes:.3f} | {cer:.3f} | "
            f"{timing:.3f} | {roles:.3f} | {dup} | {warned} | {rtf:.3f} |"
        )


if __name__ == "__main__":
    main()
