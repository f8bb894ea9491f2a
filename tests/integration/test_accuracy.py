"""Accuracy on the labelled dev corpus, with the real model (figures in the closing note)."""

import json

from benchmarks.scoring_accuracy import AccuracyReport, heard_role
from qa_service.rules.scoring import Scorer, evaluate
from tests.support import DEV

# Raised as the product improves; measured figures are printed by benchmarks/accuracy.py.
MIN_F1 = 0.93
MIN_GRADE_AGREEMENT = 0.875
MIN_TURN_TIMING = 0.97
MIN_MONO_ROLE_ACCURACY = 0.85


def test_findings_and_grades(dev_transcripts, dev_labels, dev_rubric):
    report = AccuracyReport()
    scorer = Scorer(dev_rubric)
    for cid, label in dev_labels.items():
        t = dev_transcripts[cid]
        r = evaluate(cid, t.utterances, t.duration, scorer)
        report.add(cid, label, dev_rubric, r.findings, r.grade, r.outcome)
    print(report.summary())
    assert report.f1 >= MIN_F1, report.errors
    assert report.grade_agreement >= MIN_GRADE_AGREEMENT, report.errors


def reference(cid):
    return json.loads((DEV / f"{cid}.ref.json").read_text(encoding="utf-8"))


def test_turn_timing(dev_transcripts, dev_labels):
    hits = total = 0
    for cid in dev_labels:
        starts = [u.start for u in dev_transcripts[cid].utterances]
        for turn in reference(cid)["turns"]:
            total += 1
            hits += any(abs(s - turn["start"]) <= 0.5 for s in starts)
    assert hits / total >= MIN_TURN_TIMING, f"{hits}/{total}"


def test_mono_role_accuracy(dev_transcripts, dev_labels):
    right = total = 0
    for cid, label in dev_labels.items():
        if label["channels"] != "mono":
            continue
        t = dev_transcripts[cid]
        assert t.separation == "mono"
        heard = [(u.role, u.start, u.end) for u in t.utterances]
        for turn in reference(cid)["turns"]:
            role = heard_role(turn, heard)
            total += role is not None
            right += role == turn["role"]
    assert total and right / total >= MIN_MONO_ROLE_ACCURACY, f"{right}/{total}"
