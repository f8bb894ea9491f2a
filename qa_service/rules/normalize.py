"""Text normalization, applied alike to transcripts and rubric phrases (spec: Matching).

traditional -> simplified (OpenCC), full-width -> half-width (NFKC), Latin lowercased,
punctuation and spaces removed, Chinese numerals -> Arabic digits (cn2an), so 九十六 == 96,
百分之零点六 == 0.6%, 十二个月 == 12个月. Pinyin (pypinyin, no tones) of the text with its
numerals as said (`spoken`) feeds fuzzy matching.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import cn2an
import opencc
from pypinyin import Style, lazy_pinyin
from pypinyin.seg.simpleseg import seg as pinyin_words
from rapidfuzz.distance import Levenshtein

from qa_service.config import RESPELL_MIN, RESPELL_NEAR_MIN, RESPELL_SYLLABLE_EDITS

_t2s = opencc.OpenCC("t2s")
# Keep CJK, Latin letters, digits, % and a decimal point between digits; drop the rest.
_DROP = re.compile(r"(?<!\d)\.|\.(?!\d)|[^0-9a-z%.\u3400-\u4dbf\u4e00-\u9fff]")
_HAS_CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千万亿点]")
# Digits followed by a unit character (1万, 2.5亿): Whisper writes them so, cn2an leaves them.
_DIGIT_UNIT = re.compile(r"(\d+(?:\.\d+)?)([万亿])")
_UNIT = {"万": 10_000, "亿": 100_000_000}
# Whisper base hears the clause-final neutral-tone particle of a pitched voice (了 le, 呢 ne)
# as a near-homophone: "不用了" -> "不用能", "还有呢" -> "还有能", also 闻 and 零, and a refusal
# phrase then fails. Such a character at the end of a clause reads as 了 unless it ends a word
# (可能 不能 功能 新闻 清零, a numeral ...). Applied before punctuation is dropped, which is
# where the clause ends.
_PARTICLE_HEARD = re.compile(
    r"(?<=[\u4e00-\u9fff])"
    r"(?<![可不功性智技本才职节全万潜核电体只新听见传要清归为一二三四五六七八九十百千两零〇点])"
    r"[能闻零](?=\W|$)"
)


def to_simplified(text: str) -> str:
    """Display form: simplified characters, half-width, spacing tidied; punctuation kept."""
    simplified: str = _t2s.convert(unicodedata.normalize("NFKC", text))
    return simplified.strip()


@lru_cache(maxsize=65536)
def normalize_plain(text: str) -> str:
    """Normalized but for numerals: what a regex written with Chinese numerals expects."""
    text = _t2s.convert(unicodedata.normalize("NFKC", text).lower())
    return _DROP.sub("", _PARTICLE_HEARD.sub("了", text))


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    text = normalize_plain(text)
    if _HAS_CN_NUMERAL.search(text):
        text = _numerals_to_digits(text)
    if "万" in text or "亿" in text:
        text = _DIGIT_UNIT.sub(_expand_unit, text)
    return text


def _expand_unit(m: re.Match[str]) -> str:
    value = float(m.group(1)) * _UNIT[m.group(2)]
    return str(int(value)) if value.is_integer() else m.group(0)


def _numerals_to_digits(text: str) -> str:
    return _transform_numerals(text, "cn2an")


def _transform_numerals(text: str, method: str) -> str:
    """cn2an.transform (method "cn2an": to digits, "an2cn": to words), normalized again."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cn2an warns on every run it cannot read
            converted = cn2an.transform(text, method)
    except Exception:  # cn2an raises ValueError and friends on odd mixes; keep the text as is
        return text
    # cn2an writes 0.6% for 百分之零点六 and keeps its own punctuation: drop what it adds.
    return _DROP.sub("", converted)


_ARABIC = re.compile(r"\d")


@lru_cache(maxsize=65536)
def spoken(text: str) -> str:
    """Normalized with numerals as they are said (96 -> 九十六, 0.6% -> 百分之零点六): the text
    whose pinyin fuzzy matching compares. In digits a numeral loses its sound: 合约期一年 heard
    as 合约七一年 became 合约71年, one letter "7" where the phrase's pinyin has "qi"; and 96 and
    九十六, written either way by the recognizer, now sound alike."""
    plain = normalize_plain(text)
    return _transform_numerals(plain, "an2cn") if _ARABIC.search(plain) else plain


@lru_cache(maxsize=65536)
def syllables(norm: str) -> tuple[str, ...]:
    """One token per character of normalized text: pinyin without tone for Chinese, the
    character itself for digits, letters and signs."""
    # lazy_pinyin(norm), word by word: pypinyin cuts the text into words (pinyin_words) and
    # reads each on its own, so the words' readings, kept, make the text's (most of its
    # time went to reading the same words again, in every utterance and fuzzy span).
    out = [syllable for word in pinyin_words(norm) for syllable in _word_syllables(word)]
    if len(out) != len(norm):  # pypinyin groups non-Chinese runs; fall back to per character
        out = [lazy_pinyin(ch, style=Style.NORMAL, errors=_characters)[0] for ch in norm]
    return tuple(out)


@lru_cache(maxsize=65536)
def _word_syllables(word: str) -> tuple[str, ...]:
    """lazy_pinyin of one word of pinyin_words (a word is cut into itself again)."""
    return tuple(lazy_pinyin(word, style=Style.NORMAL, errors=_characters))


def _characters(text: str) -> Any:
    """pypinyin's `errors` callback: text without pinyin, one token a character (a list,
    which pypinyin takes though its stubs say str)."""
    return list(text)


# Whisper base hears the rubric's hotwords and writes near-homophones (唱享套餐, 创想套餐 for
# 畅享套餐, 合约七 for 合约期), and the sentence model then misses the point (decision 0014). A
# run of Chinese characters as long as a hotword is spelled as the hotword when its toneless
# pinyin is the same, or, for hotwords of config.RESPELL_NEAR_MIN or more characters, when one
# syllable is off by at most RESPELL_SYLLABLE_EDITS letters and at least half the characters
# are already the hotword's.
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")


def respell_hotwords(text: str, hotwords: Sequence[str]) -> str:
    """`text` (display form) with near-homophones of the hotwords spelled as the hotwords."""
    terms = [
        (w, _sounds(w))
        for w in sorted(hotwords, key=len, reverse=True)
        if len(w) >= RESPELL_MIN and _CJK.fullmatch(w)
    ]
    if not terms or not text:
        return text
    out = list(text)
    for run in _CJK.finditer(text):
        heard = run.group()
        sounds = _sounds(heard)
        for term, want in terms:
            n = len(term)
            for i in range(len(heard) - n + 1):
                span = out[run.start() + i : run.start() + i + n]
                if "".join(span) == term or "".join(span) != heard[i : i + n]:
                    continue  # already right, or overlapping a longer hotword just respelled
                if _sounds_like(sounds[i : i + n], want, heard[i : i + n], term):
                    out[run.start() + i : run.start() + i + n] = list(term)
    return "".join(out)


def _sounds(chars: str) -> list[str]:
    """Toneless pinyin of each Chinese character read on its own (syllables of one)."""
    return [syllables(ch)[0] for ch in chars]


def _sounds_like(heard: list[str], want: list[str], chars: str, term: str) -> bool:
    off = [(a, b) for a, b in zip(heard, want) if a != b]
    if not off:
        return True
    return (
        len(term) >= RESPELL_NEAR_MIN
        and len(off) == 1
        and Levenshtein.distance(*off[0]) <= RESPELL_SYLLABLE_EDITS
        and 2 * sum(a == b for a, b in zip(chars, term)) >= len(term)
    )
