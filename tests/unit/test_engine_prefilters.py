"""The rule engine's quick rejects (decision 0023): each skips work only where the slow path
would find nothing, so every test compares the two paths on real texts and the real model."""

import dataclasses
import json
import re

import numpy as np
import pytest

from qa_service.domain.enums import Role
from qa_service.domain.results import Utterance as U
from qa_service.rules import knowledge
from qa_service.rules.checks import Call, RowLayout
from qa_service.rules.knowledge import (
    _any_of,
    _pairs,
    _stating_clauses,
    _valued_clauses,
    claims,
    compile_knowledge,
    knowledge_of,
    parse_knowledge,
)
from qa_service.rules.matching import PhraseMatcher, prepare
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer
from qa_service.rules.semantic import embed_utterances, get_embedder
from tests.support import CARE_KNOWLEDGE, ROOT, RUBRICS

KB = parse_knowledge(CARE_KNOWLEDGE)


def test_any_of_finds_a_text_holding_any_word():
    pattern = _any_of(["自动续约", "退订", "自动"])
    assert pattern is not None
    for text, holds in [
        ("会自动续约的", True),
        ("可以退订", True),
        ("自行续约", False),
        ("", False),
    ]:
        assert bool(pattern.search(text)) is holds
        assert any(w in text for w in ("自动续约", "退订", "自动")) is holds
    assert _any_of([]) is None


def test_valued_clauses_are_the_clauses_with_a_value():
    text = "您好，月费是九十六元，合约一年，没问题吧"
    assert _valued_clauses(text) == tuple(
        c for c in knowledge.clauses(text) if knowledge._values(c)
    )
    assert "月费是96元" in _valued_clauses(text)
    assert _valued_clauses("您好，我是客服小王") == ()


def test_stating_clauses_drop_questions_and_keep_the_pairs():
    text = "会不会自动续约？合约到期后不会自动续约，好"
    rows = _stating_clauses(text)
    assert [r[0] for r in rows] == ["合约到期后不会自动续约"]  # the question and 好 are left out
    said, core, negated, key, pairs = rows[0]
    assert negated and "不" not in core
    assert pairs == frozenset(_pairs(key))


def dev_texts() -> list[str]:
    data = json.loads((ROOT / "benchmarks" / "data" / "dev_transcripts.json").read_text())
    return sorted({u["text"] for call in data.values() for u in call["utterances"]})


@pytest.mark.parametrize("kb", [KB, "telecom"], ids=["care", "telecom"])
def test_the_rejects_change_no_claim(kb):
    """Yes/no claims of every utterance of the dev corpus's ASR transcripts (and of hand
    sentences) with both quick rejects, and with them turned off (every clause tried
    lexically and by meaning): the same."""
    if kb == "telecom":
        kb = knowledge_of(load_rubric(RUBRICS / "telecom-data-upgrade.yaml"))
    bank = compile_knowledge(kb).rules
    every_pair = frozenset(
        p for text in dev_texts() + HAND for *_, pairs in _stating_clauses(text) for p in pairs
    )
    slow = dataclasses.replace(
        bank, lexical_pattern=re.compile(""), any_telling=(every_pair, every_pair)
    )
    slow.matrix = bank.matrix = None
    said = 0
    for text in dev_texts() + HAND:
        fast = knowledge._rule_claims(text, bank)
        assert fast == knowledge._rule_claims(text, slow), text
        said += bool(fast)
    assert said  # some utterances do state a rule: the comparison is not of empty lists


HAND = [
    "今天天气不错，您那边信号好吗",
    "合约到期以后会自动给您续上的",
    "到期以后会自动延续合约",
    "套餐到期会自动帮您续签",
    "合约到期后可以免费退订",
    "合约到期后不会自动续约",
]


def test_a_clause_sharing_no_telling_pair_is_not_embedded():
    knowledge._core_vector.cache_clear()
    claims("今天天气不错，您那边信号好吗", KB)
    assert knowledge._core_vector.cache_info().misses == 0
    claims("到期以后会自动延续合约", KB)
    assert knowledge._core_vector.cache_info().misses == 1


def test_fuzzy_candidates_with_the_union_agree_with_one_by_one():
    matcher = PhraseMatcher(any=["畅享套餐", "合约期一年"], fuzzy=0.8)
    texts = [prepare(t) for t in ("您好", "唱享套餐了解一下", "合约七一年", "再见")]
    masks = [t.syllable_mask for t in texts]
    union = 0
    for m in masks:
        union |= m
    assert matcher.fuzzy_candidates(masks, union) == matcher.fuzzy_candidates(masks)
    assert matcher.fuzzy_candidates(masks) >= {1, 2}
    quiet = [prepare(t) for t in ("您好", "再见")]
    quiet_masks = [t.syllable_mask for t in quiet]
    assert matcher.fuzzy_candidates(quiet_masks, quiet_masks[0] | quiet_masks[1]) == frozenset()


def test_row_layout_pairs_same_speaker_neighbours():
    utts = [
        U(Role.AGENT, 0.0, 1.0, "您好，我是客服小王"),
        U(Role.CUSTOMER, 1.2, 2.0, "你好"),
        U(Role.AGENT, 2.1, 4.0, "给您推荐一个畅享套餐，每月九十六元"),
        U(Role.AGENT, 4.1, 5.0, "合约期一年"),
        U(Role.CUSTOMER, 5.2, 6.0, "好的"),
    ]
    cv = embed_utterances(get_embedder(), [u.text for u in utts])
    call = Call(utts, 6.0, vectors=cv)
    layout = RowLayout.of(call, cv)
    assert layout.pairs == [(0, 2), (2, 3), (1, 4)]
    assert layout.owners == cv.owners.tolist()
    whole = {o: layout.owners.index(o) for o in set(layout.owners)}
    assert layout.first.tolist() == [whole[a] for a, _ in layout.pairs]
    assert layout.second.tolist() == [whole[b] for _, b in layout.pairs]
    added = cv.vectors[layout.first] + cv.vectors[layout.second]
    np.testing.assert_allclose(layout.pair_norms[:, 0], np.linalg.norm(added, axis=1), rtol=1e-5)
    assert layout.row_owners == layout.owners + [0, 2, 1]
    # kept across evaluations: reset() forgets results, not what the vectors say
    scorer = Scorer(load_rubric(RUBRICS / "telecom-data-upgrade.yaml"))
    first = scorer.evaluate(call)
    kept = call._layout
    call.reset()
    assert scorer.evaluate(call) == first
    assert call._layout is kept
