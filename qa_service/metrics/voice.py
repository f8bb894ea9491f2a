"""The customer's own words (客户意见、实际需求, seed 003): what each customer utterance does and
which utterances mean the same thing.

`Detector.kind` reads one utterance: a refusal, an objection the rubric names, a question, an
acceptance, a backchannel (嗯 / 然后呢 / 这样啊: the customer keeps listening, which says
nothing) or anything else. It works clause by clause, so 对，哪位？ is a question and
嗯嗯，然后呢？ only a backchannel; the question mark, when the recognizer writes one, counts.
`group_by_meaning` puts sentences whose sentence vectors (rules/semantic, the model the rubric
checks use) are close into one group, named by its most typical member (the medoid).
Pure logic: no database, no model loading; the report feeds it texts and vectors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from qa_service.rules.matching import PhraseMatcher, prepare
from qa_service.rules.normalize import normalize_plain


class Kind(StrEnum):
    REFUSAL = "refusal"
    OBJECTION = "objection"
    QUESTION = "question"
    ACCEPTANCE = "acceptance"
    BACKCHANNEL = "backchannel"
    OTHER = "other"


# Clause pieces that only keep the agent talking; a clause made of nothing else is a backchannel.
BACKCHANNEL_PIECES = (
    "原来是这样",
    "然后呢",
    "还有呢",
    "还有吗",
    "这样子",
    "这样啊",
    "这样呀",
    "是这样",
    "你说吧",
    "您说吧",
    "你说",
    "您说",
    "请说",
    "是吗",
    "是嘛",
    "是的",
    "是我",
    "对的",
    "明白",
    "知道了",
    "嗯",
    "哦",
    "噢",
    "喔",
    "啊",
    "呃",
    "额",
    "喂",
    "对",
    "是",
    "哈",
    "呀",
    "吧",
    "呢",
    "了",
    "那",
)
# Refusing in general words, whether the rubric lists them or not.
REFUSAL_PHRASES = (
    "不需要",
    "不要了",
    "不用了",
    "不用",
    "不要",
    "没兴趣",
    "没有兴趣",
    "不感兴趣",
    "不考虑",
    "算了",
    "挂了",
    "不办",
    "不想办",
    "别打了",
    "别再打",
    "不行",
    "没时间",
    "没空",
    "在忙",
    "不方便",
    "再说吧",
    "以后再说",
    "考虑一下",
    "再考虑",
    "再看看",
    "用不着",
    "用不上",
    "不买",
    "太贵",
    "不划算",
    "不太划算",
    "再想想",
    "不太需要",
    "有点贵",
    "贵了",
    "不合适",
    "商量商量",
    "在开车",
    "在开会",
    "晚点再打",
    "另有安排",
    "不敢信",
    "不太敢信",
)
# Accepting the offer in general words (the rubric's success phrases are added).
ACCEPTANCE_PHRASES = (
    "好的",
    "好啊",
    "好呀",
    "可以",
    "行啊",
    "行吧",
    "没问题",
    "那就办",
    "办一下",
    "给我办",
    "帮我办",
    "办吧",
    "好吧",
    "挺好",
    "不错",
    "划算",
)
# A clause that is only one of these accepts (行 inside 不行 or 银行 does not).
ACCEPTANCE_CLAUSES = frozenset({"行", "好", "可以", "同意", "成", "好吧", "行吧", "那行", "那好"})
_NEGATED_ACCEPT = re.compile(r"[不没](?:太|怎么|是很)?(?:可以|好|行|划算|错)")
# Asking words; 没什么 / 不怎么 / 什么都 are not questions, 好不好 / 要不要 (A-not-A) are.
_ASKING = re.compile(
    r"为什么|什么|怎么|怎样|多少|多久|多长|多大|哪|几[个天月年块元号点分次岁期]|啥|咋|是否"
    r"|(.)[不没]\1"
)
_NOT_ASKING = re.compile(r"没什么|不怎么|什么都|怎么都|哪里哪里|不管")
_CLAUSE = re.compile(r"[^,，。.!！?？;；、\s]+[,，。.!！?？;；、\s]*")


def _strip_backchannel(norm: str) -> str:
    """What is left of a clause once its leading and trailing backchannel pieces are gone."""
    changed = True
    while norm and changed:
        changed = False
        for piece in BACKCHANNEL_PIECES:
            if norm.startswith(piece):
                norm, changed = norm[len(piece) :], True
                break
            if norm.endswith(piece) and len(norm) > len(piece):
                norm, changed = norm[: -len(piece)], True
                break
    return norm


@dataclass(frozen=True)
class Clause:
    text: str  # as said, with its closing mark
    norm: str  # normalized (numerals as said), no punctuation
    rest: str  # the norm without backchannel pieces around it
    asks: bool


def clauses(text: str) -> list[Clause]:
    out = []
    for m in _CLAUSE.finditer(text):
        raw = m.group(0)
        norm = normalize_plain(raw)
        if not norm:
            continue
        rest = _strip_backchannel(norm)
        asks = bool(rest) and is_question_clause(raw, norm)
        out.append(Clause(raw, norm, rest, asks))
    return out


def is_question_clause(raw: str, norm: str) -> bool:
    """A question mark (the recognizer writes some), a final 吗 or 呢, or an asking word."""
    if "?" in raw or "？" in raw:
        return True
    if norm.endswith("吗") or (norm.endswith("呢") and len(norm) > 1):
        return True
    if norm.endswith("么") and not norm.endswith(("什么", "怎么", "那么", "这么", "多么")):
        return True
    return bool(_ASKING.search(_NOT_ASKING.sub("", norm)))


@dataclass(frozen=True)
class Reading:
    kind: Kind
    objection_id: str | None = None


@dataclass
class Detector:
    """The kinds of customer utterances, with a rubric's objections (id -> what customers say),
    refusal and success phrases on top of the general words."""

    objections: dict[str, Sequence[str]] = field(default_factory=dict)
    refusal: Sequence[str] = ()
    success: Sequence[str] = ()

    def __post_init__(self) -> None:
        self._objections = {
            oid: PhraseMatcher(any=list(says), fuzzy=1.0)
            for oid, says in self.objections.items()
            if says
        }
        self._refusal = PhraseMatcher(any=list(self.refusal), fuzzy=1.0) if self.refusal else None
        self._success = PhraseMatcher(any=list(self.success), fuzzy=1.0) if self.success else None
        self._refusal_words = tuple(normalize_plain(p) for p in REFUSAL_PHRASES)
        self._accept_words = tuple(normalize_plain(p) for p in ACCEPTANCE_PHRASES)

    def kind(self, text: str) -> Reading:
        parts = clauses(text)
        if not parts:
            return Reading(Kind.OTHER)
        prepared = prepare(text)
        for oid, matcher in self._objections.items():
            if matcher.match(prepared):
                return Reading(Kind.OBJECTION, oid)
        stated = [c for c in parts if c.rest and not c.asks]  # what is said, not asked
        if any(any(w in c.norm for w in self._refusal_words) for c in stated) or (
            self._refusal
            and stated
            and self._refusal.match(prepare(" ".join(c.text for c in stated)))
        ):
            return Reading(Kind.REFUSAL)
        if any(c.asks for c in parts):
            return Reading(Kind.QUESTION)
        if any(
            (any(w in c.norm for w in self._accept_words) and not _NEGATED_ACCEPT.search(c.norm))
            or c.norm in ACCEPTANCE_CLAUSES
            for c in stated
        ) or (self._success and self._success.match(prepared)):
            return Reading(Kind.ACCEPTANCE)
        if all(not c.rest for c in parts):
            return Reading(Kind.BACKCHANNEL)
        return Reading(Kind.OTHER)


@dataclass
class Group:
    members: list[int]  # indices into the texts grouped
    medoid: int  # the member closest, on weighted average, to all the others


def group_by_meaning(
    vectors: np.ndarray, weights: Sequence[float], threshold: float
) -> list[Group]:
    """Groups of rows of `vectors` (unit rows, one per distinct sentence, `weights[i]` how often
    it was said). The most said sentences found groups first; each sentence joins the group
    whose centroid is closest if that cosine reaches `threshold`, else founds its own. Groups
    come out largest (by weight) first; deterministic for the same input."""
    n = len(weights)
    if n == 0:
        return []
    w = np.asarray(weights, np.float64)
    order = sorted(range(n), key=lambda i: (-w[i], i))
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for i in order:
        v = vectors[i].astype(np.float64)
        if sums:
            centroids = np.stack(sums)
            centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
            cos = centroids @ v
            best = int(np.argmax(cos))
            if cos[best] >= threshold:
                sums[best] += w[i] * v
                members[best].append(i)
                continue
        sums.append(w[i] * v)
        members.append([i])
    groups = []
    for idx in members:
        sub = vectors[idx].astype(np.float64)
        weight = w[idx]
        closeness = (sub @ sub.T) @ weight  # weighted sum of cosines to every member
        medoid = idx[int(np.argmax(closeness))]  # ties: the most said (first in order)
        groups.append(Group(sorted(idx), medoid))
    return sorted(groups, key=lambda g: (-float(w[g.members].sum()), g.medoid))
