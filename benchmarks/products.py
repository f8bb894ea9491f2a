"""Accuracy on every labelled product corpus, line condition and voice, with the real model.

One row per product (and rubric), condition and voice: findings precision, recall and F1, grade
agreement, outcome accuracy and character error rate. The corpora:

- dev, dev-paraphrase: ../shared/corpus/dev* (the tuning corpora, telecom 畅享套餐); the
  paraphrase corpus is also scored with benchmarks/data/telecom-paraphrase-similar.yaml;
- car-insurance-renewal, wealth-care-offer: corpus/<product>/ of this repository (check
  corpora, never tuned on: corpus/README.md), each with its rubric.yaml (key phrases only).

Voices: `baker` (the recordings beside the labels, synth_call.py) and `kokoro` (the same call
scripts in six other voices, synth_call_voices.py: corpus/<product>/kokoro/ for the check
corpora; for the dev corpora, --voices-dir/<corpus>/, made with --kokoro-python when missing).
Conditions: clean, and those of degrade_corpus.py (noise8 ...), made once into --work.

Transcripts are kept in --out (default benchmarks/data/products/, committed: a change to
matching or checks is measured with --cached, without recognition, and a fresh clone gets the
same table from them; recognition of another CPU differs in a few characters).

    python benchmarks/products.py --cached                       # rescore the kept transcripts
    python benchmarks/products.py --corpora car-insurance-renewal --conditions clean,noise8
    python benchmarks/products.py --voices kokoro --kokoro-python /path/to/venv/bin/python
    python benchmarks/products.py --cached --errors              # each call's differences

Each row is scored for all calls and, where the labels say what kind of agent a call has
(`agent`: plain, who says the key phrases, or para, who paraphrases them), for each kind
alone; after the table, issue 24's targets and which of them hold (TARGETS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rapidfuzz.distance import Levenshtein

try:
    from benchmarks.scoring_accuracy import AccuracyReport, heard_role
except ImportError:  # run as a script: benchmarks/ is the import path
    from scoring_accuracy import AccuracyReport, heard_role

from qa_service.domain.results import Utterance
from qa_service.rules.normalize import normalize
from qa_service.rules.rubric import Rubric, load_rubric
from qa_service.rules.scoring import Scorer, evaluate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TOOLS = SHARED / "tools"
CORPORA: dict[str, tuple[Path, list[Path]]] = {
    # name: (folder with labels.json and the Baker recordings, rubrics to score with)
    "dev": (SHARED / "corpus" / "dev", [SHARED / "corpus" / "dev" / "rubric.yaml"]),
    "dev-paraphrase": (
        SHARED / "corpus" / "dev-paraphrase",
        [
            SHARED / "corpus" / "dev-paraphrase" / "rubric.yaml",
            ROOT / "benchmarks" / "data" / "telecom-paraphrase-similar.yaml",
        ],
    ),
    "car-insurance-renewal": (
        ROOT / "corpus" / "car-insurance-renewal",
        [
            ROOT / "corpus" / "car-insurance-renewal" / "rubric.yaml",
            ROOT / "corpus" / "car-insurance-renewal" / "rubric-similar.yaml",
        ],
    ),
    "wealth-care-offer": (
        ROOT / "corpus" / "wealth-care-offer",
        [
            ROOT / "corpus" / "wealth-care-offer" / "rubric.yaml",
            ROOT / "corpus" / "wealth-care-offer" / "rubric-similar.yaml",
        ],
    ),
}
COMMITTED = {
    "dev": ROOT / "benchmarks" / "data" / "dev_transcripts.json",
    "dev-paraphrase": ROOT / "benchmarks" / "data" / "dev_paraphrase_transcripts.json",
}
CHECK_CORPORA = ("car-insurance-renewal", "wealth-care-offer")
VOICES = ("baker", "kokoro")
CACHE = Path(os.environ.get("QA_BENCH_CACHE", Path.home() / ".cache" / "qa-service"))
ALL = "all"  # the agent column of a row scored over every call


@dataclass(frozen=True)
class Target:
    """One of issue 24's targets: a row's measure (an AccuracyReport property) at least
    `least`, on every check corpus, voice and condition the row filter takes."""

    name: str
    rubric: str  # phrases | similar
    conditions: tuple[str, ...]
    agent: str  # plain | para | all
    measure: str  # precision | recall | f1 | grade_agreement | outcome_accuracy
    least: float


TARGETS = (
    Target("plain clean F1", "phrases", ("clean",), "plain", "f1", 0.97),
    Target("plain clean grades", "phrases", ("clean",), "plain", "grade_agreement", 0.95),
    Target("plain clean outcome", "phrases", ("clean",), "plain", "outcome_accuracy", 0.95),
    Target("para similar F1", "similar", ("clean",), "para", "f1", 0.92),
    Target("key phrases precision", "phrases", ("clean",), ALL, "precision", 0.98),
    Target("plain noise8 F1", "phrases", ("noise8",), "plain", "f1", 0.94),
    Target("plain noise8 outcome", "phrases", ("noise8",), "plain", "outcome_accuracy", 0.80),
)


def target_lines(rows: list[tuple]) -> list[str]:
    """One line per target and row it applies to (check corpora only): the measure, the
    target and whether it holds. Rows: (product, rubric, agent, condition, voice, report)."""
    lines = []
    for t in TARGETS:
        for name, variant, agent, condition, voice, rep in rows:
            if (
                name in CHECK_CORPORA
                and (variant, agent) == (t.rubric, t.agent)
                and condition in t.conditions
            ):
                value = getattr(rep, t.measure)
                verdict = "holds" if value >= t.least else "MISSES"
                lines.append(
                    f"{t.name} >= {t.least:.2f}: {name} {condition} {voice} {value:.3f} {verdict}"
                )
    return lines


VOICE_GAP = 0.03  # issue 24: other voices within this of the same calls in the Baker voice


def voice_gap_lines(rows: list[tuple]) -> list[str]:
    """Issue 24's voice target, for every product (dev included: the voice was never tuned
    on): each non-Baker row's findings F1 against the Baker row of the same product, rubric,
    agent kind and condition. Grade agreement is left out: on a set this small one call moves
    it by more than the gap allowed. Rows as for target_lines."""
    baker = {(n, v, a, c): r for n, v, a, c, vo, r in rows if vo == "baker"}
    lines = []
    for name, variant, agent, condition, voice, rep in rows:
        base = baker.get((name, variant, agent, condition))
        if voice == "baker" or base is None:
            continue
        verdict = "holds" if base.f1 - rep.f1 <= VOICE_GAP else "MISSES"
        lines.append(
            f"{voice} F1 within {VOICE_GAP:.2f} of baker: {name} {variant} {agent} {condition} "
            f"{rep.f1:.3f} vs {base.f1:.3f} {verdict}"
        )
    return lines


def agent_kinds(labels: dict[str, dict]) -> list[str]:
    """The kinds of agent the labels name (`agent`), sorted; none for corpora without them."""
    return sorted({x.get("agent", "") for x in labels.values()} - {""})


def voice_dir(name: str, voice: str, voices_dir: Path) -> Path:
    folder, _ = CORPORA[name]
    if voice == "baker":
        return folder
    if name in CHECK_CORPORA:
        return folder / voice
    return voices_dir / name


def make_voice(name: str, voice: str, voices_dir: Path, python: str | None) -> Path | None:
    """The folder of `name`'s recordings in `voice`; synthesized when missing and a TTS
    interpreter is given (synth_call_voices.py, in its own virtual environment)."""
    out = voice_dir(name, voice, voices_dir)
    folder, _ = CORPORA[name]
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    if all((out / f"{x['id']}.ref.json").exists() for x in labels):
        return out
    if python is None:
        print(f"skip {name}/{voice}: no recordings in {out} (--kokoro-python makes them)")
        return None
    out.mkdir(parents=True, exist_ok=True)
    scripts = [str(folder / f"{x['id']}.yaml") for x in labels]
    print(f"synthesizing {name} in {voice} voices into {out}", flush=True)
    subprocess.run(
        [
            "nice",
            "-n",
            "19",
            python,
            str(TOOLS / "synth_call_voices.py"),
            *scripts,
            "--out",
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out


def staged(name: str, voice: str, recordings: Path, work: Path) -> Path:
    """A flat corpus (recordings, ref.json, labels.json, rubric.yaml) for degrade_corpus.py:
    the labels and rubric are the product's whatever the voice. Audio names follow the
    recordings (a voice may write another format)."""
    folder, _ = CORPORA[name]
    stage = work / "staged" / f"{name}-{voice}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    for label in labels:
        ref = json.loads((recordings / f"{label['id']}.ref.json").read_text(encoding="utf-8"))
        label["audio"] = ref.get("audio", label["audio"])
        for f in (f"{label['id']}.ref.json", label["audio"]):
            (stage / f).symlink_to((recordings / f).resolve())
    (stage / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    shutil.copy(folder / "rubric.yaml", stage / "rubric.yaml")
    return stage


def condition_dir(name: str, voice: str, condition: str, recordings: Path, work: Path) -> Path:
    if condition == "clean":
        return recordings
    out = work / "degraded" / f"{name}-{voice}"
    if not (out / condition / "labels.json").exists():
        if shutil.which("sox") is None:
            sys.exit("sox is needed to make degraded copies (apt-get install sox libsox-fmt-all)")
        stage = staged(name, voice, recordings, work)
        print(f"making {condition} of {name}/{voice}", flush=True)
        subprocess.run(
            [
                "nice",
                "-n",
                "19",
                sys.executable,
                str(TOOLS / "degrade_corpus.py"),
                str(stage),
                str(out),
                "--conditions",
                condition,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out / condition


def audio_of(corpus: Path, label: dict) -> str:
    ref = corpus / f"{label['id']}.ref.json"
    if ref.exists():
        return str(json.loads(ref.read_text(encoding="utf-8")).get("audio", label["audio"]))
    return str(label["audio"])


def transcribe(corpus: Path, labels: list[dict], rubric: Rubric) -> dict:
    from qa_service.asr.transcribe import get_recognizer
    from qa_service.asr.transcript import transcribe_file

    recognizer = get_recognizer()
    calls, seconds, audio = {}, 0.0, 0.0
    for label in labels:
        start = time.perf_counter()
        t = transcribe_file(str(corpus / audio_of(corpus, label)), recognizer, rubric)
        seconds += time.perf_counter() - start
        audio += t.duration
        calls[label["id"]] = {
            "duration": t.duration,
            "separation": t.separation,
            "utterances": [asdict(u) for u in t.utterances],
        }
        print(f"  {label['id']} {time.perf_counter() - start:.1f}s", flush=True)
    return {"seconds": seconds, "audio": audio, "calls": calls}


def score(
    rubric: Rubric, labels: dict[str, dict], calls: dict, margin: str = "default"
) -> dict[str, AccuracyReport]:
    """Reports by agent kind: ALL over every labelled call, and one per kind the labels name
    (each call evaluated once)."""
    scorer = (
        Scorer(rubric)
        if margin == "default"
        else Scorer(rubric, phrase_margin=None if margin == "off" else float(margin))
    )
    reports = {ALL: AccuracyReport()} | {k: AccuracyReport() for k in agent_kinds(labels)}
    for cid, t in calls.items():
        if cid not in labels:
            continue
        r = evaluate(cid, [Utterance(**u) for u in t["utterances"]], t["duration"], scorer)
        label = labels[cid]
        kind = label.get("agent", "")
        for rep in [reports[ALL]] + ([reports[kind]] if kind in reports else []):
            rep.add(cid, label, rubric, r.findings, r.grade, r.outcome)
            want = label.get("outcome", "unknown")
            if r.outcome != want:
                rep.errors.append(f"{cid}: outcome {r.outcome} (labels: {want})")
    return reports


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default=",".join(CORPORA))
    ap.add_argument("--conditions", default="clean,noise8")
    ap.add_argument("--voices", default=",".join(VOICES))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "products")
    ap.add_argument("--work", type=Path, default=CACHE / "products")
    ap.add_argument("--voices-dir", type=Path, default=CACHE / "voices")
    ap.add_argument("--kokoro-python", help="python of a venv with synth_call_voices.py's needs")
    ap.add_argument("--cached", action="store_true", help="rescore the transcripts in --out")
    ap.add_argument("--errors", action="store_true", help="print each call's differences")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument(
        "--phrase-margin",
        default="default",
        help="key phrases as meaning examples at threshold + this ('off': never)",
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in filter(None, args.corpora.split(",")):
        folder, rubrics = CORPORA[name]
        labels = {x["id"]: x for x in json.loads((folder / "labels.json").read_text())}
        loaded = [load_rubric(r) for r in rubrics]
        for voice in filter(None, args.voices.split(",")):
            for condition in filter(None, args.conditions.split(",")):
                saved = args.out / f"{name}.{voice}.{condition}.json"
                if args.cached:
                    if saved.exists():
                        kept = json.loads(saved.read_text(encoding="utf-8"))
                    elif (voice, condition) == ("baker", "clean") and name in COMMITTED:
                        # the dev corpora's clean transcripts kept for rule_engine/paraphrase
                        kept = {"calls": json.loads(COMMITTED[name].read_text("utf-8"))}
                    else:
                        continue
                    corpus = None
                else:
                    recordings = make_voice(name, voice, args.voices_dir, args.kokoro_python)
                    if recordings is None:
                        continue
                    corpus = condition_dir(name, voice, condition, recordings, args.work)
                    # a voice's clean folder holds recordings only: the product's labels
                    here = corpus / "labels.json"
                    wanted = (
                        json.loads(here.read_text()) if here.exists() else list(labels.values())
                    )
                    print(f"recognizing {name}/{voice}/{condition}", flush=True)
                    kept = transcribe(corpus, wanted, loaded[0])
                    refs = {}
                    for cid in kept["calls"]:
                        refs[cid] = json.loads((corpus / f"{cid}.ref.json").read_text())["turns"]
                    kept["refs"] = refs
                    cond_labels = {x["id"]: x for x in wanted}
                    kept["labels"] = cond_labels
                    saved.write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
                cond_labels = kept.get("labels") or labels
                cer, roles = cer_of(kept), mono_roles(kept)
                for rubric, path in zip(loaded, rubrics):
                    variant = "similar" if "similar" in path.name else "phrases"
                    reports = score(rubric, cond_labels, kept["calls"], args.phrase_margin)
                    for agent, rep in reports.items():
                        rows.append((name, variant, agent, condition, voice, rep, cer, roles))
                    rep = reports[ALL]
                    print(
                        f"{name} {variant} {condition} {voice}: {rep.summary()} CER {cer:.3f} "
                        f"mono roles {roles:.3f}",
                        flush=True,
                    )
                    if args.errors:
                        kinds = {k: v.get("agent", "") for k, v in cond_labels.items()}
                        for line in rep.errors:
                            kind = kinds.get(line.split(":")[0], "")
                            print(f"  [{kind}] {line}" if kind else "  " + line)
    print(
        "\n| product | rubric | agent | condition | voice | calls | P | R | F1 | grades "
        "| outcome | CER | mono roles |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, variant, agent, condition, voice, rep, cer, roles in rows:
        print(
            f"| {name} | {variant} | {agent} | {condition} | {voice} | {rep.calls} "
            f"| {rep.precision:.3f} | {rep.recall:.3f} | {rep.f1:.3f} "
            f"| {rep.grade_agreement:.3f} | {rep.outcome_accuracy:.3f} | {cer:.3f} "
            f"| {roles:.3f} |"
        )
    verdicts = target_lines([(n, v, a, c, vo, r) for n, v, a, c, vo, r, _, _ in rows])
    if verdicts:
        print("\nissue 24 targets (check corpora):")
        for line in verdicts:
            print("  " + line)
    gaps = voice_gap_lines([(n, v, a, c, vo, r) for n, v, a, c, vo, r, _, _ in rows])
    if gaps:
        print("\nissue 24 voice target (every product):")
        for line in gaps:
            print("  " + line)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "product": n,
                        "rubric": v,
                        "agent": a,
                        "condition": c,
                        "voice": vo,
                        "calls": r.calls,
                        "precision": r.precision,
                        "recall": r.recall,
                        "f1": r.f1,
                        "grades": r.grade_agreement,
                        "outcome": r.outcome_accuracy,
                        "cer": cer,
                        "mono_roles": roles,
                    }
                    for n, v, a, c, vo, r, cer, roles in rows
                ],
                indent=1,
            )
        )


def mono_roles(kept: dict) -> float:
    """Share of the heard reference turns of mono calls whose longest-overlapping utterance
    has the turn's role (scoring_accuracy.heard_role)."""
    right = total = 0
    for cid, t in kept["calls"].items():
        turns = kept.get("refs", {}).get(cid)
        if not turns or t["separation"] != "mono":
            continue
        heard = [(u["role"], u["start"], u["end"]) for u in t["utterances"]]
        for turn in turns:
            role = heard_role(turn, heard)
            total += role is not None
            right += role == turn["role"]
    return right / total if total else float("nan")


def cer_of(kept: dict) -> float:
    """Character error rate per role against the reference turns kept with the transcripts."""
    errors = length = 0
    for cid, t in kept["calls"].items():
        turns = kept.get("refs", {}).get(cid)
        if not turns:
            continue
        for role in ("agent", "customer"):
            ref = normalize("".join(x["text"] for x in turns if x["role"] == role))
            hyp = normalize("".join(u["text"] for u in t["utterances"] if u["role"] == role))
            errors += Levenshtein.distance(ref, hyp)
            length += len(ref)
    return errors / max(length, 1) if length else float("nan")


if __name__ == "__main__":
    main()
