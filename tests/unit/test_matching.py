import pytest

from qa_service.rules.matching import PhraseMatcher, prepare

FUZZY = 0.85  # the shipped default (config.Settings.fuzzy)


def match(phrases, text, fuzzy=FUZZY, **kw):
    return PhraseMatcher(any=phrases, fuzzy=fuzzy, **kw).match(prepare(text))


def test_exact_normalized_substring():
    m = match(["每月九十六元"], "好的，每月96元，很划算")
    assert m and m.similarity == 1.0 and m.matched == "每月96元"


@pytest.mark.parametrize(
    "phrase, heard",
    [
        ("畅享套餐", "推荐一款唱想套餐"),  # 畅享 heard as 唱想: same pinyin
        ("性价比很高", "这个套餐馅下比很高"),
        ("给我办一下", "那好吧给我带一下"),
        ("免费退订", "合约到期后可以演妃退丁"),
    ],
)
def test_fuzzy_tolerates_near_homophones(phrase, heard):
    m = match([phrase], heard)
    assert m is not None and m.similarity >= FUZZY
    # the heard span (numerals as said) and its similarity are reported, not the rubric's words
    assert m.phrase == phrase and m.matched in prepare(heard).said and m.matched != phrase


@pytest.mark.parametrize(
    "phrase, heard, least",
    [
        ("合约期一年", "合约七一年", 1.0),  # 期 heard as 七: as digits (合约71年) it scored 0.90
        ("预存一百六十八元", "预存一百六十大元", FUZZY),  # 八 as 大: as 预存160大元 it missed
    ],
)
def test_numerals_keep_their_sound_in_fuzzy_matching(phrase, heard, least):
    m = match([phrase], heard)
    assert m is not None and m.similarity >= least, m


@pytest.mark.parametrize(
    "phrase, heard",
    [
        ("需要", "我不需要"),  # exact substring, but negated
        ("不需要", "我需要的"),  # the negation must not be dropped
        ("需要办理", "我不需要办理"),
        ("到时候再说", "那到时候再看吧"),  # one syllable off changes the meaning
        ("再见", "在线"),  # two syllables: exact only
    ],
)
def test_fuzzy_false_positives_are_refused(phrase, heard):
    assert match([phrase], heard) is None


def test_fuzzy_off_with_threshold_one():
    assert match(["畅享套餐"], "唱想套餐", fuzzy=1.0) is None
    assert match(["畅享套餐"], "畅享套餐", fuzzy=1.0) is not None


def test_all_needs_every_phrase_in_one_utterance():
    m = PhraseMatcher(all=["合约期", "一年"], fuzzy=1.0)
    assert m.match(prepare("合约期是一年"))
    assert m.match(prepare("合约期很长")) is None


def test_regex_over_normalized_and_spoken_numerals():
    m = PhraseMatcher(regex=["百分之百.{0,4}(赚|收益)"])
    assert m.match(prepare("百分之百能赚钱"))
    m = PhraseMatcher(regex=[r"每月\d+元"])
    assert m.match(prepare("每月九十六元"))


def test_unless_cancels_the_hit():
    m = PhraseMatcher(any=["退订"], unless=["不能退订"], fuzzy=1.0)
    assert m.match(prepare("随时可以退订"))
    assert m.match(prepare("这个不能退订哦")) is None


@pytest.mark.parametrize(
    "phrase, heard",
    [
        ("保证明年不涨价", "您放心 保证明年补偿下"),  # 不 heard as 补 (Kokoro voice, car-007)
        ("绝对不会多扣钱", "绝对部会多扣钱"),  # 不 heard as 部
    ],
)
def test_a_negated_phrase_keeps_its_negation_through_a_homophone(phrase, heard):
    m = match([phrase], heard)
    assert m is not None and m.phrase == phrase, m


@pytest.mark.parametrize(
    "phrase, heard",
    [
        ("保证明年不涨价", "保证明年会涨价"),  # another word where the negator was: not negated
        ("绝对不会多扣钱", "绝对会多扣钱吧"),  # as many characters, no negator sound in place
    ],
)
def test_a_negated_phrase_needs_the_negators_sound_in_place(phrase, heard):
    assert match([phrase], heard) is None


def test_a_negated_phrase_with_digits_keeps_its_negation_through_a_homophone():
    # the span is read with its numerals as words (normalize.spoken), the phrase too
    assert match(["保证不超过100元"], "保证部超过一百元吧")
