"""The pipeline against bare faster-whisper on the same recordings and settings.

Bare: what a person would write with faster-whisper alone: decode the file, and per channel
`model.transcribe(audio, language="zh", beam_size=5, vad_filter=True)`, reading every
segment. Ours: audio -> VAD chunks -> windows decoded by the batched pipeline -> utterances
-> checks -> score (storage excluded: it is the same either way). One model, loaded once,
is shared by both. Prints seconds per call, the ratio (target <= 0.5: the pipeline costs at
most half of bare faster-whisper, decision 0024), the median of the per-call ratios (bare
faster-whisper's own temperature-fallback loops on a call inflate the total) and the
real-time factor (target 0.10 with base int8 on a 2-core CPU), peak memory, and where the
pipeline's recognition time went: the batched pass, each fallback and the Whisper encoder
within them, with how often each ran.

`--variant NAME=VALUE[,NAME=VALUE]` (repeatable) also runs the pipeline with those Settings
changed, on the same model, beside today's: per call bare, today and each variant run in an
order rotated by one each call, so the load of a shared machine falls on all alike; each
variant gets its own ratio to bare.

    python benchmarks/asr_overhead.py [--corpus DIR] [--limit N] [--variant short_window_s=20]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from faster_whisper import decode_audio
from pydantic import ValidationError

from qa_service.asr.audio import load
from qa_service.asr.transcribe import Recognizer, get_recognizer
from qa_service.asr.transcript import transcribe_audio
from qa_service.config import Settings
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate

ROOT = Path(__file__).resolve().parents[1]


def bare(model, path: str, stereo: bool, beam_size: int) -> None:
    channels = decode_audio(path, sampling_rate=16000, split_stereo=stereo)
    for samples in channels if stereo else [channels]:
        segments, _ = model.transcribe(samples, language="zh", beam_size=beam_size, vad_filter=True)
        for _ in segments:
            pass


# Recognition stages timed inside the pipeline: (variant, name) -> [times run, seconds].
STAGES: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
running = ["today"]  # the variant being timed
TIMED = {
    "_decode_batched": "batched pass",
    "_decode_span": "fallback: VAD path",
    "_decode_window": "fallback: window alone",
    "_decode_unbiased": "fallback: chunk alone",
}


def timed(name: str, fn: Callable) -> Callable:
    def run(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            STAGES[running[0], name][0] += 1
            STAGES[running[0], name][1] += time.perf_counter() - start

    return run


def variant(base: Settings, spec: str) -> Settings:
    """Settings with NAME=VALUE[,NAME=VALUE] changed, validated as the environment would be."""
    changes = dict(item.split("=", 1) for item in spec.split(",") if "=" in item)
    unknown = set(changes) - set(type(base).model_fields)
    if not changes or unknown:
        raise SystemExit(f"--variant {spec!r}: expected NAME=VALUE of Settings fields")
    try:
        return type(base)(**{**base.model_dump(), **changes})
    except ValidationError as e:
        raise SystemExit(f"--variant {spec!r}: {e}") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    ap.add_argument("--limit", type=int, default=0, help="first N calls only")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="NAME=VALUE[,NAME=VALUE] of Settings, run beside today's (repeatable)",
    )
    args = ap.parse_args()
    labels = json.loads((args.corpus / "labels.json").read_text())
    if args.limit:
        labels = labels[: args.limit]
    rubric = load_rubric(args.corpus / "rubric.yaml")
    scorer = Scorer(rubric)
    recognizer = get_recognizer()
    s = recognizer.settings
    ours = {"today": recognizer} | {
        spec: Recognizer(variant(s, spec), model=recognizer.model) for spec in args.variant
    }
    for method, name in TIMED.items():
        setattr(Recognizer, method, timed(name, getattr(Recognizer, method)))
    encode = recognizer.model.encode
    timed_encode = timed("Whisper encoder (in all of the above)", encode)
    print(
        f"model {s.model} ({s.device}, {s.compute_type}, beam {s.beam_size}, "
        f"{s.cpu_threads} threads); load {Path('/proc/loadavg').read_text().split()[:3]}"
    )
    names = ["bare", *ours]
    for k, spec in enumerate(args.variant):
        print(f"variant {chr(ord('A') + k)}: {spec}")
    heads = ["bare", "today", *(chr(ord("A") + k) for k in range(len(args.variant)))]
    print(
        f"{'call':10} {'audio s':>8} {'bare s':>8}"
        + "".join(f" {h + ' s':>8} {'ratio':>7}" for h in heads[1:])
    )
    seconds = {n: 0.0 for n in names}
    ratios: dict[str, list[float]] = {n: [] for n in ours}
    total_audio = 0.0
    for k, label in enumerate(labels):
        path = str(args.corpus / label["audio"])
        took = {}
        for name in names[k % len(names) :] + names[: k % len(names)]:
            start = time.perf_counter()
            if name == "bare":
                bare(recognizer.model, path, label["channels"] == "stereo", s.beam_size)
            else:
                running[0] = name
                recognizer.model.encode = timed_encode
                audio = load(path)
                transcript = transcribe_audio(audio, ours[name], rubric)
                evaluate(path, transcript.utterances, transcript.duration, scorer)
                recognizer.model.encode = encode  # bare's encoder is not ours
            took[name] = time.perf_counter() - start
        duration = load(path).duration
        total_audio += duration
        for name in names:
            seconds[name] += took[name]
            if name != "bare":
                ratios[name].append(took[name] / took["bare"])
        print(
            f"{label['id']:10} {duration:8.1f} "
            + " ".join(
                f"{took[n]:8.2f}" + (f" {took[n] / took['bare']:7.2f}" if n != "bare" else "")
                for n in names
            ),
            flush=True,
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load_now = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"total: {len(labels)} calls, {total_audio:.0f} s audio; bare {seconds['bare']:.1f} s "
        f"(RTF {seconds['bare'] / total_audio:.3f}); peak RSS {peak:.0f} MiB; load {load_now}"
    )
    for head, name in zip(heads[1:], ours):
        title = head if head == name else f"{head} ({name})"
        print(
            f"  {title}: {seconds[name]:.1f} s; ratio ours/bare "
            f"{seconds[name] / seconds['bare']:.2f} (target <= 0.5), median per call "
            f"{statistics.median(ratios[name]):.2f}; RTF {seconds[name] / total_audio:.3f}"
        )
        for (run, stage), (runs, took_s) in STAGES.items():
            if run == name:
                print(
                    f"    {stage}: {runs:.0f} runs, {took_s:.1f} s "
                    f"({100 * took_s / seconds[name]:.0f}%)"
                )


if __name__ == "__main__":
    main()
