"""Customers' own words (metrics/voice): questions, refusals, acceptance and backchannels read
from hand-made utterances; grouping by meaning with the sentence model the rubric checks use;
the guide map's reactions and quadrant rule (metrics/reports)."""

from __future__ import annotations

import numpy as np
import pytest

from qa_service.config import SAME_MEANING
from qa_service.metrics.reports import place, reaction
from qa_service.metrics.voice import Detector, Kind, group_by_meaning
from qa_service.rules.semantic import embed_texts, get_embedder, unit_rows

RUBRIC_WORDS = Detector(
    objections={
        "too_expensive": ["太贵了", "有点贵", "不划算"],
        "fraud_suspect": ["骗子", "骗人的"],
        "think_about_it": ["考虑一下", "以后再说"],
    },
    refusal=["不需要", "不用了", "没兴趣"],
    success=["给我办一下", "那就办吧"],
)
BARE = Detector()  # no rubric: the general words alone

QUESTIONS = [
    "这个要收手续费吗",  # final 吗, no question mark (the recognizer often writes none)
    "等一下，这个要收手续费吗？",
    "对，哪位？",  # a backchannel clause, then the question
    "什么事啊",
    "那我现在的套餐能直接换吗？",
    "每个月多少钱",
    "几号扣费",
    "是不是要预存",  # A-not-A
    "能不能便宜点",
    "会不会自动续费",
    "那我的套餐呢",  # a final 呢 after more than a backchannel
    "你不需要预存吧？",  # 不需要 inside a question is no refusal
    "怎么退订",
]
BACKCHANNELS = [
    "是我",
    "嗯",
    "嗯。",
    "嗯嗯，然后呢？",
    "哦，还有呢？",
    "哦，这样啊。",
    "嗯，你说吧。",
    "是吗",
]
REFUSALS = [
    "不需要，谢谢。",
    "不用了，我没兴趣。",
    "算了吧",
    "我挂了啊",
    "不考虑",
    "没时间",
    "不行",
]
ACCEPTANCES = ["好的", "那好吧，给我办一下。", "行，那就办吧。", "可以"]
NEITHER = ["没什么问题", "我平时打电话不多", "不太清楚"]


@pytest.mark.parametrize("text", QUESTIONS)
def test_questions_are_read_as_questions(text):
    assert BARE.kind(text).kind == Kind.QUESTION, text
    assert RUBRIC_WORDS.kind(text).kind == Kind.QUESTION, text


@pytest.mark.parametrize("text", BACKCHANNELS)
def test_backchannels_are_neither_questions_nor_answers(text):
    assert BARE.kind(text).kind == Kind.BACKCHANNEL, text


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_in_general_words_without_the_rubric(text):
    assert BARE.kind(text).kind == Kind.REFUSAL, text


@pytest.mark.parametrize("text", ACCEPTANCES)
def test_acceptance(text):
    assert RUBRIC_WORDS.kind(text).kind == Kind.ACCEPTANCE, text


@pytest.mark.parametrize("text", NEITHER)
def test_statements_that_neither_ask_nor_refuse(text):
    assert BARE.kind(text).kind == Kind.OTHER, text


def test_the_rubric_names_objections_even_in_question_form():
    assert RUBRIC_WORDS.kind("你不会是骗子吧？").objection_id == "fraud_suspect"
    assert RUBRIC_WORDS.kind("我怎么知道你不是骗人的？").kind == Kind.OBJECTION
    assert RUBRIC_WORDS.kind("以后再说吧。").objection_id == "think_about_it"
    # without the rubric, 以后再说 is still a refusal, 骗子吧？ a question
    assert BARE.kind("以后再说吧。").kind == Kind.REFUSAL
    assert BARE.kind("你不会是骗子吧？").kind == Kind.QUESTION
    # 不划算 / 不太划算 are no acceptance although 划算 is
    assert BARE.kind("不太划算").kind == Kind.REFUSAL


def test_guide_map_reactions():
    """What the customer did next: a backchannel is nothing, a question a question."""
    said = {
        "然后呢": "nothing",
        "哦，这样啊。": "nothing",
        "这个要收手续费吗": "question",
        "太贵了": "objection",
        "不需要了": "refusal",
        "好的呀": "positive",
        "我平时打电话不多": "nothing",
    }
    assert {t: reaction(RUBRIC_WORDS, t) for t in said} == said
    assert reaction(RUBRIC_WORDS, None) == "none"


def test_quadrant_rule():
    assert place(0.8, 0.9) == 1
    assert place(0.8, 0.1) == 2
    assert place(0.2, 0.1) == 3
    assert place(0.2, 0.9) == 4
    assert place(0.5, 0.5) == 1  # the bounds belong to "often" and "liked"
    assert place(1.0, None) is None  # no judged reply: listed apart, not placed at 0


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def test_questions_group_by_meaning_named_by_their_medoid(embedder):
    texts = [
        "这个要收手续费吗",
        "要手续费吗",
        "收不收手续费啊",
        "办这个有手续费没有",
        "你不会是骗子吧",
        "你是不是骗子",
        "我怎么知道你不是骗人的",
        "我现在的套餐能直接换吗",
        "能不能换套餐",
        "这个是从下个月开始算吗",
    ]
    weights = [3, 1, 1, 1, 2, 1, 1, 1, 1, 1]
    groups = group_by_meaning(embed_texts(embedder, texts), weights, SAME_MEANING)
    as_text = [sorted(texts[i] for i in g.members) for g in groups]
    assert (
        sorted(["这个要收手续费吗", "要手续费吗", "收不收手续费啊", "办这个有手续费没有"])
        in as_text
    )
    assert sorted(["你不会是骗子吧", "你是不是骗子", "我怎么知道你不是骗人的"]) in as_text
    assert sorted(["我现在的套餐能直接换吗", "能不能换套餐"]) in as_text
    assert ["这个是从下个月开始算吗"] in as_text
    # the largest group first, named by its most typical member
    assert texts[groups[0].medoid] == "这个要收手续费吗"
    assert all(g.medoid in g.members for g in groups)


def test_refusals_of_other_meaning_stay_apart(embedder):
    texts = [
        "不需要，谢谢",
        "不需要",
        "没兴趣",
        "不用了，我没兴趣",
        "太贵了",
        "家里有宽带用不了那么多",
    ]
    groups = group_by_meaning(embed_texts(embedder, texts), [1] * len(texts), SAME_MEANING)
    members = [sorted(texts[i] for i in g.members) for g in groups]
    assert sorted(["不需要，谢谢", "不需要"]) in members
    assert sorted(["没兴趣", "不用了，我没兴趣"]) in members
    assert ["太贵了"] in members and ["家里有宽带用不了那么多"] in members


def test_grouping_is_deterministic_and_the_medoid_is_central():
    """Plain vectors: three near a first axis, one off. The medoid is the member closest to
    every utterance of the group (each time it was said counts): the middle one when all were
    said once, the most said one when it was said far more often."""
    v = unit_rows(
        np.array(
            [[1.0, 0.35, 0.0], [1.0, 0.0, 0.0], [1.0, -0.35, 0.0], [0.0, 0.0, 1.0]], np.float32
        )
    )
    groups = group_by_meaning(v, [1, 1, 1, 1], 0.8)
    assert [g.members for g in groups] == [[0, 1, 2], [3]]
    assert groups[0].medoid == 1
    assert group_by_meaning(v, [5, 1, 1, 1], 0.8)[0].medoid == 0
    groups = group_by_meaning(v, [5, 1, 1, 1], 0.8)
    again = group_by_meaning(v, [5, 1, 1, 1], 0.8)
    assert [(g.members, g.medoid) for g in again] == [(g.members, g.medoid) for g in groups]
    assert group_by_meaning(np.zeros((0, 3), np.float32), [], 0.8) == []
    # a higher threshold splits what a lower one joins
    assert len(group_by_meaning(v, [5, 1, 1, 1], 0.99)) == 4
