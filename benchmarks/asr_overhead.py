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

    python benchmarks/asr_overhead.py [--corpus DIR] [--limit N]
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

from qa_service.asr.audio import load
from qa_service.asr.transcribe import Recognizer, get_recognizer
from qa_service.asr.transcript import transcribe_audio
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate

ROOT = Path(__file__).resolve().parents[1]


def bare(model, path: str, stereo: bool, beam_size: int) -> None:
    channels = decode_audio(path, sampling_rate=16000, split_stereo=stereo)
    for samples in channels if stereo else [channels]:
        segments, _ = model.transcribe(samples, language="zh", beam_size=beam_size, vad_filter=True)
        for _ in segments:
            pass


# Recognition stages timed inside the pipeline: name -> [times run, seconds].
STAGES: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
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
            STAGES[name][0] += 1
            STAGES[name][1] += time.perf_counter() - start

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "dev")
    ap.add_argument("--limit", type=int, default=0, help="first N calls only")
    args = ap.parse_args()
    labels = json.loads((args.corpus / "labels.json").read_text())
    if args.limit:
        labels = labels[: args.limit]
    rubric = load_rubric(args.corpus / "rubric.yaml")
    scorer = Scorer(rubric)
    recognizer = get_recognizer()
    for method, name in TIMED.items():
        setattr(Recognizer, method, timed(name, getattr(Recognizer, method)))
    encode = recognizer.model.encode
    s = recognizer.settings
    print(
        f"model {s.model} ({s.device}, {s.compute_type}, beam {s.beam_size}, "
        f"{s.cpu_threads} threads)"
    )
    print(f"{'call':10} {'audio s':>8} {'bare s':>8} {'ours s':>8} {'ratio':>6} {'RTF':>6}")
    total_bare = total_ours = total_audio = 0.0
    ratios = []
    for label in labels:
        path = str(args.corpus / label["audio"])
        start = time.perf_counter()
        bare(recognizer.model, path, label["channels"] == "stereo", s.beam_size)
        t_bare = time.perf_counter() - start
        recognizer.model.encode = timed("Whisper encoder (in all of the above)", encode)
        start = time.perf_counter()
        audio = load(path)
        transcript = transcribe_audio(audio, recognizer, rubric)
        evaluate(path, transcript.utterances, transcript.duration, scorer)
        t_ours = time.perf_counter() - start
        recognizer.model.encode = encode  # bare's encoder is not ours
        total_bare += t_bare
        total_ours += t_ours
        total_audio += audio.duration
        ratios.append(t_ours / t_bare)
        print(
            f"{label['id']:10} {audio.duration:8.1f} {t_bare:8.2f} {t_ours:8.2f} "
            f"{t_ours / t_bare:6.2f} {t_ours / audio.duration:6.3f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"total: {len(labels)} calls, {total_audio:.0f} s audio; bare {total_bare:.1f} s, "
        f"ours {total_ours:.1f} s; ratio ours/bare {total_ours / total_bare:.2f} "
        f"(target <= 0.5), median per call {statistics.median(ratios):.2f}; "
        f"RTF ours {total_ours / total_audio:.3f}, bare "
        f"{total_bare / total_audio:.3f}; peak RSS {peak:.0f} MiB"
    )
    for name, (runs, seconds) in STAGES.items():
        print(f"  {name}: {runs:.0f} runs, {seconds:.1f} s ({100 * seconds / total_ours:.0f}%)")


if __name__ == "__main__":
    main()
