"""Rescoring reads each transcript's prepared texts from the database (rules/text_forms.py):
the first rescore of calls stored without them prepares and stores them, a later rescore reads
them and gives the same results, texts of another form are prepared again, and a transcript
replaced drops the texts of the old one."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import text

from qa_service.app.scoring import QAService
from qa_service.config import Settings
from qa_service.domain.enums import Role
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance
from qa_service.rules import text_forms
from qa_service.rules.knowledge import ClauseForms, clause_forms
from qa_service.rules.matching import prepare
from qa_service.rules.rubric import load_rubric
from qa_service.storage.store import Store
from tests.support import ROOT

RUBRIC = ROOT / "rubrics" / "telecom-data-upgrade.yaml"


def stored_calls(store: Store, count: int) -> dict[int, list[Utterance]]:
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text("utf-8"))
    out = {}
    for cid, t in sorted(data.items())[:count]:
        utts = [Utterance(**u) for u in t["utterances"]]
        rec = store.recordings.save_transcript(
            cid.ljust(64, "0"),
            f"{cid}.wav",
            CallMetadata(agent_id="A1", project="项目"),
            t["duration"],
            2,
            "stereo",
            "embedded",
            utts,
        )
        out[rec.id] = utts
    return out


def results(store: Store, rubric) -> list[dict]:
    outcomes = QAService(store, Settings(rescore_workers=1)).rescore(rubric, "项目", batch=4)
    return [o.to_dict() for o in outcomes]


def forms(store: Store) -> dict[int, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(text("select recording_id, form from transcript_texts")).all())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rescore_stores_reads_and_renews_prepared_texts(request, backend):
    store = Store(request.getfixturevalue(f"{backend}_url"))
    calls = stored_calls(store, 6)
    rubric = load_rubric(RUBRIC)
    assert forms(store) == {}
    first = results(store, rubric)
    # the first rescore prepared every transcript's texts and stored them, in utterance order
    assert forms(store) == {rid: text_forms.FORM for rid in calls}
    stored = store.recordings.texts_of(list(calls))
    for rid, utts in calls.items():
        assert stored[rid] == [prepare(u.text) for u in utts]
        masks = [t.syllable_mask for t in stored[rid]]
        assert masks == [prepare(u.text).syllable_mask for u in utts]
        # an agent's with what the knowledge base reads of it
        assert [t.clauses for t in stored[rid]] == [
            clause_forms(u.text) if u.role == Role.AGENT else None for u in utts
        ]
    # read back, they give the same results
    assert results(store, rubric) == first

    # The stored clause forms are what the knowledge base reads: an agent line stored as
    # stating a monthly fee the knowledge base contradicts adds that finding...
    a = next(iter(calls))
    texts = store.recordings.texts_of([a])[a]
    agent = next(i for i, u in enumerate(calls[a]) if u.role == Role.AGENT)
    wrong = ClauseForms(("月费是19元",), ())
    texts[agent] = replace(texts[agent], clauses=wrong)
    store.recordings.save_texts({a: texts})
    facts = [f for f in results(store, rubric)[0]["findings"] if f["category"] == "product_fact"]
    assert [f["rule_id"] for f in facts] == ["product_fact.monthly_fee"]
    assert facts[0]["evidence"][0]["start"] == pytest.approx(calls[a][agent].start, abs=0.01)
    assert results(store, rubric)[1:] == first[1:]

    # The stored texts are what is read: one call's stored as if every line were a refusal
    # changes its result...
    store.recordings.save_texts({a: [prepare("不需要，谢谢")] * len(calls[a])})
    assert results(store, rubric)[0] != first[0]
    # ...until they are of another form: then they are prepared again and stored anew.
    with store.engine.begin() as conn:
        conn.execute(text("update transcript_texts set form = 'r0 old'"))
    assert store.recordings.texts_of(list(calls)) == {}
    assert results(store, rubric) == first
    assert forms(store) == {rid: text_forms.FORM for rid in calls}

    # Damaged stored texts are prepared again (never a failed rescore) and stored anew.
    with store.engine.begin() as conn:
        conn.execute(
            text("update transcript_texts set texts = :bad where recording_id = :a"),
            {"bad": b"not zlib", "a": a},
        )
    assert a not in store.recordings.texts_of([a])
    assert results(store, rubric) == first
    assert store.recordings.texts_of([a])[a] == [prepare(u.text) for u in calls[a]]
    assert store.recordings.texts_of([a])[a][agent].clauses == clause_forms(calls[a][agent].text)

    # A transcript stored again (recognized anew) drops the texts of the old one.
    sha = store.recordings.get(a).sha256
    store.recordings.save_transcript(
        sha,
        "again.wav",
        CallMetadata(agent_id="A1", project="项目"),
        3.0,
        2,
        "stereo",
        "embedded",
        [Utterance("agent", 0.0, 2.0, "您好", 0.9)],
    )
    assert a not in forms(store) and len(forms(store)) == len(calls) - 1


def test_a_pool_on_sqlite_leaves_the_texts_unstored(sqlite_url):
    """SQLite takes one writer at a time: a pool's workers, which only evaluate there, do not
    store the texts they prepare (the parent writes the results meanwhile)."""
    store = Store(sqlite_url)
    stored_calls(store, 4)
    rubric = load_rubric(RUBRIC)
    alone = QAService(store, Settings(rescore_workers=1)).rescore(rubric, "项目", batch=2)
    with store.engine.begin() as conn:
        conn.execute(text("delete from transcript_texts"))
    pooled = QAService(store, Settings(rescore_workers=2)).rescore(rubric, "项目", batch=2)
    assert forms(store) == {}
    ids = {"evaluation_id": 0}
    assert [o.to_dict() | ids for o in pooled] == [o.to_dict() | ids for o in alone]
