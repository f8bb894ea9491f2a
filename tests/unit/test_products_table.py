"""benchmarks/products.py: rows by agent kind and issue 24's targets."""

import json
from pathlib import Path

from benchmarks.products import ALL, CORPORA, score, target_lines, voice_gap_lines
from benchmarks.scoring_accuracy import AccuracyReport
from qa_service.rules.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[2]


def test_a_row_is_scored_for_all_calls_and_for_each_agent_kind():
    folder, rubrics = CORPORA["car-insurance-renewal"]
    labels = {x["id"]: x for x in json.loads((folder / "labels.json").read_text("utf-8"))}
    kept = json.loads(
        (ROOT / "benchmarks/data/products/car-insurance-renewal.baker.clean.json").read_text(
            "utf-8"
        )
    )
    calls = {cid: kept["calls"][cid] for cid in ("car-001", "car-002", "car-003")}
    reports = score(load_rubric(rubrics[0]), labels, calls)
    assert set(reports) == {ALL, "plain", "para"}
    assert (reports["plain"].calls, reports["para"].calls, reports[ALL].calls) == (2, 1, 3)
    for measure in ("tp", "fp", "fn", "grades_agree", "outcomes_agree"):
        assert getattr(reports[ALL], measure) == sum(
            getattr(reports[k], measure) for k in ("plain", "para")
        )
    # a paraphrasing agent's call is the one whose key phrases go unheard
    assert reports["para"].recall < reports["plain"].recall


def test_targets_name_the_rows_that_miss_them():
    good, poor = AccuracyReport(tp=99, fp=1, calls=1), AccuracyReport(tp=97, fp=3, calls=1)
    lines = target_lines(
        [
            ("wealth-care-offer", "phrases", ALL, "clean", "baker", poor),
            ("car-insurance-renewal", "phrases", ALL, "clean", "baker", good),
            ("dev", "phrases", ALL, "clean", "baker", poor),  # tuning corpus: no target
            ("car-insurance-renewal", "phrases", "para", "clean", "baker", poor),
        ]
    )
    precision = [line for line in lines if line.startswith("key phrases precision")]
    assert precision == [
        "key phrases precision >= 0.98: wealth-care-offer clean baker 0.970 MISSES",
        "key phrases precision >= 0.98: car-insurance-renewal clean baker 0.990 holds",
    ]


def test_voice_target_compares_each_voice_with_the_same_calls_in_baker():
    baker = AccuracyReport(tp=98, fp=1, fn=1, calls=4, grades_agree=4)
    close = AccuracyReport(tp=96, fp=2, fn=2, calls=4, grades_agree=4)
    far = AccuracyReport(tp=90, fp=5, fn=5, calls=4, grades_agree=3)
    lines = voice_gap_lines(
        [
            ("dev", "phrases", ALL, "clean", "baker", baker),
            ("dev", "phrases", ALL, "clean", "kokoro", close),
            ("dev", "phrases", ALL, "noise8", "kokoro", far),  # no Baker row: no line
            ("car-insurance-renewal", "phrases", ALL, "clean", "baker", baker),
            ("car-insurance-renewal", "phrases", ALL, "clean", "kokoro", far),
        ]
    )
    assert lines == [
        "kokoro F1 within 0.03 of baker: dev phrases all clean 0.980 vs 0.990 holds",
        "kokoro F1 within 0.03 of baker: car-insurance-renewal phrases all clean 0.947 vs 0.990 "
        "MISSES",
    ]
