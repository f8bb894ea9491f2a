"""Rule engine speed on stored transcripts (no recognition).

1. calls per second for the telecom rubric on one core: Scorer.evaluate on prepared calls
   (normalized text and pinyin computed once, as when a transcript is stored), and cold
   (every text normalized again: the caches cleared before each pass);
2. the time to rescore 1,000 stored calls end to end through QAService.rescore on SQLite
   (read utterances, evaluate, write evaluation, findings, highlights).

The transcripts are the dev corpus's real ASR output (benchmarks/data/dev_transcripts.json,
written by `benchmarks/accuracy.py --save`), repeated to the counts needed.

    python benchmarks/rule_engine.py [--calls 1000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from qa_service.app.scoring import QAService
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance
from qa_service.rules.checks import Call
from qa_service.rules.matching import prepare, prepare_said
from qa_service.rules.normalize import normalize, normalize_plain, spoken, syllables
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer
from qa_service.rules.semantic import embed_utterances, get_embedder
from qa_service.storage.store import Store

ROOT = Path(__file__).resolve().parents[1]


def load_transcripts() -> list[tuple[list[Utterance], float]]:
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text())
    return [([Utterance(**u) for u in t["utterances"]], t["duration"]) for t in data.values()]


def clear_caches() -> None:
    for fn in (prepare, prepare_said, spoken, normalize, normalize_plain, syllables):
        fn.cache_clear()


def calls_per_second(scorer: Scorer, transcripts, seconds: float, cold: bool) -> float:
    # Sentence vectors come stored with a transcript (the rubric's phrases act as examples).
    vectors = [embed_utterances(get_embedder(), [u.text for u in utts]) for utts, _ in transcripts]
    calls = [Call(u, d, vectors=v) for (u, d), v in zip(transcripts, vectors)]
    for call in calls:  # the rubric's examples are embedded once per Scorer, not timed
        scorer.evaluate(call)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        if cold:
            clear_caches()
            calls = [Call(u, d, vectors=v) for (u, d), v in zip(transcripts, vectors)]
        else:
            for call in calls:
                call.reset()  # matcher results are per evaluation, not kept across runs
        for call in calls:
            scorer.evaluate(call)
        done += len(calls)
    return done / (time.perf_counter() - start)


def rescore_time(rubric, transcripts, count: int) -> tuple[float, float]:
    vectors = [embed_utterances(get_embedder(), [u.text for u in utts]) for utts, _ in transcripts]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{os.path.join(tmp, 'bench.db')}", migrate=True)
        start = time.perf_counter()
        for i in range(count):
            utts, duration = transcripts[i % len(transcripts)]
            rec = store.recordings.save_transcript(
                f"{i:064x}",
                f"call-{i}.wav",
                CallMetadata(project="bench"),
                duration,
                2,
                "stereo",
                "embedded",
                utts,
            )
            store.recordings.save_vectors({rec.id: vectors[i % len(transcripts)]})
        loading = time.perf_counter() - start
        service = QAService(store)
        start = time.perf_counter()
        outcomes = service.rescore(rubric, project="bench")
        elapsed = time.perf_counter() - start
        assert len(outcomes) == count
    return elapsed, loading


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1000, help="stored calls to rescore")
    ap.add_argument("--seconds", type=float, default=5.0, help="time per speed measurement")
    args = ap.parse_args()
    rubric = load_rubric(ROOT / "rubrics" / "telecom-data-upgrade.yaml")
    scorer = Scorer(rubric)
    transcripts = load_transcripts()
    utterances = sum(len(u) for u, _ in transcripts) / len(transcripts)
    print(
        f"telecom rubric: {len(rubric.rules())} rules; {len(transcripts)} distinct ASR "
        f"transcripts, {utterances:.0f} utterances per call"
    )
    warm = calls_per_second(scorer, transcripts, args.seconds, cold=False)
    print(f"rule engine, prepared transcripts: {warm:,.0f} calls/s on one core (target >= 2,000)")
    cold = calls_per_second(scorer, transcripts, args.seconds, cold=True)
    print(f"rule engine, normalizing every text again: {cold:,.0f} calls/s")
    elapsed, loading = rescore_time(rubric, transcripts, args.calls)
    print(
        f"rescore {args.calls:,} stored calls (SQLite, read + evaluate + write): {elapsed:.2f} s "
        f"({args.calls / elapsed:,.0f} calls/s); storing them took {loading:.2f} s"
    )


if __name__ == "__main__":
    main()
