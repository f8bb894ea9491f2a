"""`similar:` end to end: vectors stored with the transcript (SQLite and PostgreSQL), rescoring
that reads them (and embeds old transcripts once), and the accuracy on the cached ASR
transcripts of the dev corpora (benchmarks/paraphrase.py prints the full sweep)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from benchmarks.scoring_accuracy import AccuracyReport
from qa_service.app.scoring import QAService
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance
from qa_service.rules.checks import Call
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer
from qa_service.rules.semantic import DEFAULT_MODEL, embed_utterances, get_embedder, vector_kind
from qa_service.storage.store import Store
from tests.support import DEV, ROOT

PARAPHRASE = DEV.parent / "dev-paraphrase"
DATA = ROOT / "benchmarks" / "data"
SIMILAR_RUBRIC = DATA / "telecom-paraphrase-similar.yaml"


def cached(name: str) -> dict[str, tuple[list[Utterance], float]]:
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    return {
        cid: ([Utterance(**u) for u in t["utterances"]], t["duration"]) for cid, t in data.items()
    }


def accuracy(corpus, calls, rubric, **scorer_args) -> AccuracyReport:
    scorer = Scorer(rubric, **scorer_args)
    rep = AccuracyReport()
    for label in json.loads((corpus / "labels.json").read_text()):
        utts, duration = calls[label["id"]]
        ev = scorer.evaluate(Call(utts, duration))
        rep.add(label["id"], label, rubric, ev.findings, ev.grade, ev.outcome)
    return rep


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_vectors_stored_with_the_transcript_and_used_by_rescoring(request, backend):
    store = Store(request.getfixturevalue(f"{backend}_url"))
    calls = cached("dev_paraphrase_transcripts.json")
    utts, duration = calls["dp-002"]
    old = store.recordings.save_transcript(
        "a" * 64, "dp-002.wav", CallMetadata(project="p"), duration, 2, "stereo", "embedded", utts
    )
    fresh = store.recordings.save_transcript(
        "b" * 64,
        "dp-002-again.wav",
        CallMetadata(project="p"),
        duration,
        2,
        "stereo",
        "embedded",
        utts,
    )
    vectors = embed_utterances(get_embedder(), [u.text for u in utts])
    store.recordings.save_vectors({fresh.id: vectors})
    back = store.recordings.vectors_of([fresh.id, old.id])
    assert set(back) == {fresh.id}  # the old transcript has none yet
    assert back[fresh.id].model == vectors.model
    assert np.array_equal(back[fresh.id].owners, vectors.owners)
    assert np.array_equal(back[fresh.id].spans, vectors.spans)
    assert np.abs(back[fresh.id].vectors - vectors.vectors).max() < 0.02  # int8 storage

    # vectors stored before segments had clauses carry the bare model name: cut another way
    legacy = store.recordings.save_transcript(
        "c" * 64,
        "dp-002-legacy.wav",
        CallMetadata(project="p"),
        duration,
        2,
        "stereo",
        "embedded",
        utts,
    )
    store.recordings.save_vectors({legacy.id: dataclasses.replace(vectors, model=DEFAULT_MODEL)})

    outcomes = QAService(store).rescore(load_rubric(SIMILAR_RUBRIC), project="p")
    assert [o.error for o in outcomes] == [None, None, None]
    # all three calls scored alike; the old and the legacy transcripts were embedded once
    # more, the way new ones are, and stored
    assert len({o.result.grade for o in outcomes}) == 1
    assert len({tuple(f.status for f in o.result.findings) for o in outcomes}) == 1
    stored = store.recordings.vectors_of([fresh.id, old.id, legacy.id])
    assert {v.model for v in stored.values()} == {vector_kind(DEFAULT_MODEL)}
    assert np.array_equal(stored[legacy.id].spans, vectors.spans)
    # replacing the utterances drops vectors computed from the old ones
    store.recordings.save_transcript(
        "b" * 64,
        "dp-002-again.wav",
        CallMetadata(project="p"),
        duration,
        2,
        "stereo",
        "embedded",
        utts[:3],
    )
    assert fresh.id not in store.recordings.vectors_of([fresh.id])


def test_paraphrase_corpus_gains_recall_without_losing_precision_on_the_clean_corpus():
    paraphrase_calls = cached("dev_paraphrase_transcripts.json")
    similar = load_rubric(SIMILAR_RUBRIC)
    unchanged = load_rubric(PARAPHRASE / "rubric.yaml")
    before = accuracy(PARAPHRASE, paraphrase_calls, unchanged, phrase_margin=None)
    after = accuracy(PARAPHRASE, paraphrase_calls, similar)
    assert after.recall >= before.recall + 0.2, (before.summary(), after.summary())
    assert after.f1 >= 0.85 and after.precision >= 0.95, after.summary()

    clean_calls = cached("dev_transcripts.json")
    own = load_rubric(DEV / "rubric.yaml")
    phrases_only = accuracy(DEV, clean_calls, own, phrase_margin=None)
    default = accuracy(DEV, clean_calls, own)  # the rule's own phrases as examples
    assert default.precision >= phrases_only.precision and default.f1 >= phrases_only.f1
