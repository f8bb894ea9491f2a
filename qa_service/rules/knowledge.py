"""The knowledge base (知识库) of a product, and the product facts a sentence states.

A knowledge base is a YAML file with its own pydantic model: typed facts (prices, durations,
percentages, speeds, data volumes, dates, yes/no rules), each with the words that name it, plus
free-text description lines. Loading reports file:line:field like rubrics do.

`claims(text, kb)` reads one sentence (an agent utterance, a line of an outbound script): the
values it states for facts of the knowledge base, after numeral normalization (九十六 = 96,
百分之零点六 = 0.6%, 两年 = 24个月). A value belongs to a fact only when a word naming that fact
stands right before it (or right after it: 九十六块钱一个月) in the same clause, and the value's
unit fits the fact: so a phone number or a 工号 in the same sentence, a 每天三块 next to the
monthly fee, or an approximate 五百多 are never read as a fact's value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from qa_service.config import (
    FACT_AMBIGUITY_MARGIN,
    FACT_SIMILAR_THRESHOLD,
    NEAR_AFTER,
    NEAR_BEFORE,
    get_settings,
)
from qa_service.exceptions import KnowledgeError, RubricError
from qa_service.i18n import _, codes, validation_reason
from qa_service.rules.normalize import normalize, to_simplified
from qa_service.rules.rubric import (
    Rubric,
    _field_name,
    _line_of,
    bounded,
    read_yaml_mapping,
)
from qa_service.rules.semantic import NOT_NEGATION, embed_texts, get_embedder

# The unit a numeric fact is kept in, and how each spoken unit converts to it.
UNITS: dict[str, dict[str, float]] = {
    "元": {"元": 1, "块钱": 1, "块": 1, "圆": 1},
    "个月": {"个月": 1, "年": 12},
    "天": {"天": 1, "日": 1},
    "分钟": {"分钟": 1, "个小时": 60, "小时": 60, "个钟头": 60, "钟头": 60},
    "小时": {"个小时": 1, "小时": 1, "个钟头": 1, "钟头": 1},
    "%": {"%": 1},
    "兆": {"兆": 1, "m": 1, "mb": 1, "g": 1000},  # bandwidth: 100兆, 千兆 = 1000兆
    "GB": {"个g": 1, "gb": 1, "g": 1},  # data volume: 30G流量
}
FactType = str  # a key of UNITS, "date" or "bool"

_SPOKEN = sorted({u for units in UNITS.values() for u in units}, key=len, reverse=True)
_DATE = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号]")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(年半)?(" + "|".join(map(re.escape, _SPOKEN)) + ")?")
# Values said as an estimate are not a claim of the exact figure.
_APPROX_AFTER = ("多", "余", "来", "左右", "出头", "几", "以上", "以下", "以内")
_APPROX_BEFORE = ("约", "大约", "大概", "差不多", "将近", "接近", "超过", "不到", "至少", "最多")
_NEGATED_BEFORE = ("不是", "不", "没有", "并非")
# Numbers right after these belong to someone or something else (工号3215, 拨打10000号).
_NOT_A_FACT = ("工号", "电话", "手机", "号码", "热线", "拨打", "尾号", "编号", "验证码", "短信")
# Two or more digits read one by one (七一, 四二一七) are a code, a year or a misheard word
# (合约期一年 heard as 合约七一年), never a quantity: quantities are said with 十 百 千 万.
_DIGIT_STRING = re.compile(r"(?<![十百千万亿点])[零〇一二两三四五六七八九]{2,}(?![十百千万亿点])")
_YEAR = re.compile(r"([零〇一二三四五六七八九]{4})年")  # 二零二六年: the one digit string we read
_DIGIT = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"〇": "0"}
_GIGA = re.compile(r"(?<![\d.])千兆")
_CLAUSE = re.compile(r"[，。！？；,!?;：:、\s]+|(?<!\d)\.|\.(?!\d)")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fact(_Model):
    """One product fact. Numeric facts have `value` in `unit`; date facts a date; yes/no rules
    a boolean `value` with the phrases that say yes and no."""

    id: str = Field(min_length=1)
    name: str = ""
    words: list[str] = []  # what names the fact in speech: 月费, 月租, 每个月
    value: bool | float | dt.date
    unit: str | None = None  # 元 个月 天 分钟 小时 % 兆 GB; none for dates and yes/no rules
    allowed: list[float | dt.date] = []  # other values that are right (promotions)
    # yes/no rules: phrases stating the rule holds (免费退订), and that it does not (退订要收
    # 手续费). Not `yes:`/`no:`: YAML reads those keys as booleans.
    affirm: list[str] = []
    deny: list[str] = []
    note: str = ""

    @field_validator("words", "affirm", "deny", mode="before")
    @classmethod
    def _text_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("value", mode="before")
    @classmethod
    def _spoken_number(cls, value: Any) -> Any:
        return _number_text(value)

    @field_validator("allowed", mode="before")
    @classmethod
    def _spoken_numbers(cls, value: Any) -> Any:
        return [_number_text(v) for v in value] if isinstance(value, list) else value

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str | None) -> str | None:
        if value is not None and value not in UNITS:
            raise ValueError(
                _(
                    "unknown unit {unit}; known units: {units}",
                    unit=repr(value),
                    units=codes(UNITS),
                )
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Fact:
        if isinstance(self.value, bool):
            if not (self.affirm or self.deny):
                raise ValueError(
                    _("a yes/no rule needs {a} or {b} phrases", a="`affirm`", b="`deny`")
                )
            if self.unit or self.allowed:
                raise ValueError(
                    _("a yes/no rule has no {a} or {b} values", a="`unit`", b="`allowed`")
                )
            return self
        if not self.words:
            raise ValueError(_("needs {field}: what names the fact in speech", field="`words`"))
        if isinstance(self.value, dt.date):
            if self.unit:
                raise ValueError(_("a date fact has no {field}", field="`unit`"))
        elif self.unit is None:
            raise ValueError(
                _(
                    "a numeric fact needs a {field} ({units})",
                    field="`unit`",
                    units=codes(UNITS),
                )
            )
        return self

    @property
    def type(self) -> FactType:
        if isinstance(self.value, bool):
            return "bool"
        if isinstance(self.value, dt.date):
            return "date"
        return self.unit or ""

    def show(self, value: Any) -> str:
        """A value as the report prints it: 96元, 12个月, 0.6%, 2026-12-31, 是/否."""
        if isinstance(value, bool):
            return "是" if value else "否"
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, tuple):  # (month, day) said without a year
            return f"{value[0]}月{value[1]}日"
        number = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{number}{self.unit or ''}"

    def agrees(self, value: Any) -> bool:
        if self.type == "bool":
            return bool(value == self.value)
        if self.type == "date":
            return any(_same_day(value, d) for d in [self.value, *self.allowed])
        numbers = cast("list[float]", [self.value, *self.allowed])  # a numeric fact's values
        return any(abs(float(value) - float(v)) < 1e-6 for v in numbers)


def _number_text(value: Any) -> Any:
    """A value written as words (九十六, 百分之零点六) is the number they say."""
    if isinstance(value, str):
        text = normalize(value).rstrip("%")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
    return value


def _same_day(said: Any, known: Any) -> bool:
    if not isinstance(known, dt.date):
        return False
    if isinstance(said, tuple):
        return (known.month, known.day) == said
    return bool(said == known)


# Yes/no rules ----------------------------------------------------------------------------
# A rule is said in many words (到期后自动续约, 合约到期会自动给您续上) and often negated (不会
# 自动续约, 无需手续费). Each `affirm`/`deny` phrase is a statement: its words without negation
# (its core), whether it is itself negated, and the value it states. A clause of the sentence
# states the rule when its core holds a statement's core (after dropping modal particles), or
# when the two mean the same (sentence embedder, FACT_SIMILAR_THRESHOLD); the value it states
# is the statement's, flipped when exactly one of the two is negated.
# Only the negating morpheme goes: 不能退订 keeps 能退订, 无需手续费 keeps 需手续费, so a
# statement and a clause are compared on what is (not) said: 不会 不能 不需要 无需 别 未 ...
NEGATIONS = ("没有", "并非", "从不", "从没", "无法", "不用", "不", "没", "未", "别", "无")
# Words holding a negator that negate nothing (不错, 无限流量, 没关系): removed first.
NOT_NEGATIONS = (*NOT_NEGATION, "无线", "无限", "无论", "无忧", "不定期", "说不定", "不一定")
_NOT_NEGATED = re.compile("|".join(sorted(NOT_NEGATIONS, key=len, reverse=True)))
_NEGATOR = re.compile("|".join(NEGATIONS))
_A_NOT_A_QUESTION = re.compile(r"(.)[不没]\1")  # 会不会, 是不是: a question, not a statement
# Modal and sentence particles: 会自动续约 and 自动续约的 state the same rule.
_PARTICLES = re.compile(r"[会就都也的了吧呢啊哦呀嘛是将]")
_ABLE = re.compile(r"可以|能够|可")  # 可以退订 says what 能退订 says


def _key(core: str) -> str:
    return _PARTICLES.sub("", _ABLE.sub("能", core))


LEXICAL_MIN = 3
_PRONOUNS = re.compile(r"[您你我他她它们咱]")


def _pairs(key: str) -> set[str]:
    """Two-character pieces of a key without pronouns: a clause matched by meaning must share
    one with the statement (自动 in 到期以后会自动延续合约), else the embedder's closeness is
    about the form (您的合约即将到期 at 0.66 of 需要您同意才续约), not the rule."""
    bare = _PRONOUNS.sub("", key)
    return {bare[i : i + 2] for i in range(len(bare) - 1)}


_RULE_CLAUSE = re.compile(r"([^，。！？；,!?;：:、\s]+)([？?]?)")


def negation(norm: str) -> tuple[str, bool]:
    """(the text without its negators, whether it is negated: an odd number of them, so
    不会不 is no negation). 不 inside 不错 不过 无限 ... is no negator."""
    masked = _NOT_NEGATED.sub(lambda m: "\x00" * len(m.group()), norm)
    kept, last, count = [], 0, 0
    for m in _NEGATOR.finditer(masked):
        kept.append(norm[last : m.start()])
        last, count = m.end(), count + 1
    kept.append(norm[last:])
    return "".join(kept), count % 2 == 1


@dataclass(frozen=True)
class Statement:
    """One `affirm` or `deny` phrase of a yes/no rule."""

    fact: Fact
    phrase: str
    value: bool  # what the phrase says: True for affirm, False for deny
    core: str  # normalized, without negators
    key: str  # the core without particles: the lexical test
    negated: bool

    @classmethod
    def of(cls, fact: Fact, phrase: str, value: bool) -> Statement:
        core, negated = negation(normalize(phrase))
        return cls(fact, phrase, value, core, _key(core), negated)

    def stated(self, negated: bool) -> bool:
        """The rule's value a clause states when it says this statement's core, negated or not."""
        return self.value if negated == self.negated else not self.value


@dataclass
class _RuleBank:
    statements: list[Statement]
    matrix: np.ndarray | None = None  # (dim, statements): the cores embedded, on first need
    # Compiled with the statements, not per clause: those tested lexically, longest key first
    # (the order _rule_claims tries them in).
    lexical: tuple[Statement, ...] = ()
    # For a clause negated (1) or not (0): each statement's pairs that no statement of its
    # fact stating the other value holds (_telling_pairs).
    telling: tuple[tuple[frozenset[str], ...], tuple[frozenset[str], ...]] = ((), ())
    # Quick rejects, exact: a clause whose key holds no lexical statement's key skips the
    # lexical loop, and one sharing no telling pair with any statement (for its negation)
    # can state nothing by meaning, so its core is never embedded (the costliest step of a
    # first rescore: decision 0023).
    lexical_pattern: re.Pattern[str] | None = None
    any_telling: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


@dataclass(frozen=True)
class _NumericFact:
    """A numeric or date fact as _numeric_claims reads it, compiled once per knowledge base."""

    fact: Fact
    type: FactType
    words: tuple[str, ...]  # normalized, longest first (_words)


@dataclass(frozen=True)
class CompiledKnowledge:
    """A knowledge base as claims() reads it, compiled once (compile_knowledge)."""

    numeric: tuple[_NumericFact, ...]
    rules: _RuleBank
    # Any word of any numeric fact: a clause with none of them states no numeric fact.
    any_word: re.Pattern[str] | None = None


class KnowledgeBase(_Model):
    id: str = Field(min_length=1)
    product: str = ""
    version: int = Field(default=1, ge=1)
    description: list[str] = []  # the product introduction as the knowledge base words it
    facts: list[Fact] = []
    # facts and yes/no matchers as claims() reads them, compiled once
    _compiled: CompiledKnowledge | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _unique_ids(self) -> KnowledgeBase:
        seen: set[str] = set()
        for fact in self.facts:
            if fact.id in seen:
                raise ValueError(_("duplicate fact id {id}", id=repr(fact.id)))
            seen.add(fact.id)
        return self


def parse_knowledge(text: str, source: str = "<knowledge base>") -> KnowledgeBase:
    root, data = read_yaml_mapping(
        text,
        source,
        KnowledgeError,
        _("a knowledge base is a YAML mapping ({fields})", fields="id, facts, ..."),
    )
    try:
        return KnowledgeBase.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            # Union members add their type to the location (value.float): drop those parts.
            loc = tuple(
                k
                for k in err["loc"]
                if not (isinstance(k, str) and ("[" in k or k in ("bool", "float", "date")))
            )
            problems.append(
                (
                    _line_of(root, loc),
                    _field_name(loc, data),
                    validation_reason(err),
                )
            )
        # A value fits none of number, date, yes/no: one problem, not one per type tried.
        not_a_value = _(
            "must be a number (in {unit}), a date ({example}) or {yes_no}",
            unit="`unit`",
            example="2026-12-31",
            yes_no="true/false",
        )
        union = {(line, field) for line, field, _reason in problems if field.endswith(".value")}
        problems = [p for p in problems if (p[0], p[1]) not in union] + [
            (line, field, not_a_value) for line, field in union
        ]
        problems = sorted(set(problems), key=lambda p: (p[0] is None, p[0] or 0, p[1]))
        raise KnowledgeError(source, bounded(problems)) from None


def load_knowledge(path: str | Path) -> KnowledgeBase:
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise KnowledgeError(str(path), [(None, "", _("no such file"))]) from None
    return _load_cached(str(path.resolve()), stat.st_mtime_ns, str(path))


@lru_cache(maxsize=64)
def _load_cached(resolved: str, mtime_ns: int, shown: str) -> KnowledgeBase:
    try:
        text = Path(resolved).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        # no OS or codec message: they quote the path's bytes, not what the file should be
        raise KnowledgeError(
            shown, [(None, "", _("cannot be read (not UTF-8 text, or not readable)"))]
        ) from None
    return parse_knowledge(text, shown)


# The one answer for a knowledge_base outside the allowed folders, whether or not the path
# exists there: a rubric upload must not tell what files the server has, nor read them.
def outside_reason() -> str:
    return _(
        "{field} must name a file under the knowledge directory ({setting})",
        field="knowledge_base",
        setting="QA_KNOWLEDGE_DIR",
    )


def knowledge_path(rubric: Rubric, base: Path | None = None) -> Path | None:
    """Where the rubric's `knowledge_base` is: relative to `base`, else to the rubric file's
    folder, else (a rubric read from the database, or a copy of a rubric elsewhere) to
    QA_KNOWLEDGE_DIR (default: rubrics). Confined to those folders: a path that leads out of
    all of them once `..` and symlinks are resolved (or an absolute path elsewhere) is refused
    with outside_reason(), the same whether it exists or not."""
    if not rubric.knowledge_base:
        return None
    folders = [d for d in (base, rubric.source_dir, get_settings().knowledge_dir) if d is not None]
    roots = [Path(d).resolve() for d in folders]
    raw = rubric.knowledge_base
    path = Path(raw)
    candidates = [path] if path.is_absolute() else [d / path for d in folders]
    inside = [
        c
        for c in candidates
        if "\x00" not in raw and any(c.resolve().is_relative_to(root) for root in roots)
    ]
    if not inside:
        raise RubricError(
            rubric.source or rubric.id,
            [(rubric.line_of("knowledge_base"), "knowledge_base", outside_reason())],
        )
    return next((c for c in inside if c.is_file()), inside[0])


def knowledge_of(rubric: Rubric, base: Path | None = None) -> KnowledgeBase | None:
    """The rubric's knowledge base, or None when it names none: the stored one attached when
    the rubric was read from the database, else the file it names. A missing file is refused
    as a rubric problem (file:line of `knowledge_base:`); a bad one with the knowledge base's
    own."""
    if isinstance(rubric.knowledge, KnowledgeBase):
        return rubric.knowledge
    path = knowledge_path(rubric, base)
    if path is None:
        return None
    if not path.is_file():
        raise RubricError(
            rubric.source or rubric.id,
            [
                (
                    rubric.line_of("knowledge_base"),
                    "knowledge_base",
                    _("no such file: {path}", path=path),
                )
            ],
        )
    return load_knowledge(path)


@dataclass(frozen=True)
class Claim:
    """A fact's value as a sentence states it."""

    fact: Fact
    value: Any  # in the fact's unit (float), a date or (month, day), or a bool
    said: str  # the words that stated it, normalized (月费99元)

    @property
    def right(self) -> bool:
        return self.fact.agrees(self.value)


@dataclass(frozen=True)
class _Value:
    start: int
    end: int
    value: Any
    type: FactType


def clauses(text: str) -> list[str]:
    """The clauses of a sentence, normalized (numerals as digits)."""
    return list(_clauses(text))


# Cached, as prepare() is: an utterance's clauses and values are read by every knowledge
# base each time the call is scored again.
@lru_cache(maxsize=65536)
def _clauses(text: str) -> tuple[str, ...]:
    # 千兆 (gigabit) stays as written by cn2an: it names 1000兆.
    return tuple(
        _GIGA.sub("1000兆", n)
        for part in _CLAUSE.split(to_simplified(text))
        if (n := normalize(_DIGIT_STRING.sub("某", _YEAR.sub(_year, part))))
    )


def _year(m: re.Match[str]) -> str:
    return "".join(_DIGIT[c] for c in m.group(1)) + "年"


_HAS_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=65536)
def _values(clause: str) -> tuple[_Value, ...]:
    if not _HAS_DIGIT.search(clause):
        return ()  # every date and number pattern starts with a digit
    out, taken = [], []
    for m in _DATE.finditer(clause):
        year, month, day = m.group(1), int(m.group(2)), int(m.group(3))
        try:
            value = dt.date(int(year), month, day) if year else (month, day)
        except ValueError:
            continue
        out.append(_Value(m.start(), m.end(), value, "date"))
        taken.append((m.start(), m.end()))
    for m in _NUMBER.finditer(clause):
        if any(a <= m.start() < b for a, b in taken) or (
            m.start() > 0 and (clause[m.start() - 1].isdigit() or clause[m.start() - 1] == ".")
        ):
            continue
        number, half, unit = float(m.group(1)), m.group(2), m.group(3)
        if half:  # 1年半
            out.append(_Value(m.start(), m.end(), number * 12 + 6, "个月"))
            continue
        if unit is None:
            out.append(_Value(m.start(), m.end(), number, ""))
            continue
        for fact_type, spoken in UNITS.items():
            if unit in spoken:
                out.append(_Value(m.start(), m.end(), number * spoken[unit], fact_type))
    return tuple(out)


def _uncertain(before: str, after: str) -> bool:
    """An estimate (五百多, 大约), a denial (不是99元) or someone's number (工号3215): `before`
    is the text between the fact's word and the value, `after` what follows the value."""
    return (
        after.startswith(_APPROX_AFTER)
        or before.endswith(_APPROX_BEFORE)
        or before.endswith(_NEGATED_BEFORE)
        or any(w in before for w in _NOT_A_FACT)
    )


@lru_cache(maxsize=256)
def _words(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({n for w in words if (n := normalize(w))}, key=len, reverse=True))


def _spans(clause: str, words: tuple[str, ...]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for w in words:
        start = clause.find(w)
        while start >= 0:
            if not any(a <= start < b for a, b in spans):
                spans.append((start, start + len(w)))
            start = clause.find(w, start + 1)
    return spans


def _telling_pairs(statements: list[Statement], negated: bool) -> tuple[frozenset[str], ...]:
    """Each statement's pairs that tell its value apart: those no statement of the same fact
    holds when it would state the other value for a clause so negated. 退订 is in 免费退订 and
    in 退订要收费 alike: a clause sharing only 退订 (可一年费退订, a misheard 可以免费退订) says
    which rule it is about, not which value, so it states nothing by meaning."""
    out = []
    for s in statements:
        value = s.stated(negated)
        other = set().union(
            *(
                _pairs(o.key)
                for o in statements
                if o.fact.id == s.fact.id and o.stated(negated) != value
            )
        )
        out.append(frozenset(_pairs(s.key) - other))
    return tuple(out)


def _any_of(words: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern that finds a text holding any of the words (None for no words): one C-level
    scan telling whether a loop of `word in text` tests can hit at all."""
    unique = sorted(set(words), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, unique))) if unique else None


def compile_knowledge(kb: KnowledgeBase) -> CompiledKnowledge:
    if kb._compiled is None:
        statements = [
            Statement.of(f, phrase, value)
            for f in kb.facts
            if f.type == "bool"
            for value, phrases in ((True, f.affirm), (False, f.deny))
            for phrase in phrases
            if normalize(phrase)
        ]
        numeric = tuple(
            _NumericFact(f, f.type, _words(tuple(f.words))) for f in kb.facts if f.type != "bool"
        )
        telling = (_telling_pairs(statements, False), _telling_pairs(statements, True))
        kb._compiled = CompiledKnowledge(
            numeric,
            _RuleBank(
                statements,
                lexical=tuple(
                    s
                    for s in sorted(statements, key=lambda s: -len(s.key))
                    if len(s.key) >= LEXICAL_MIN
                ),
                telling=telling,
                lexical_pattern=_any_of(s.key for s in statements if len(s.key) >= LEXICAL_MIN),
                any_telling=(frozenset().union(*telling[0]), frozenset().union(*telling[1])),
            ),
            _any_of(w for f in numeric for w in f.words),
        )
    return kb._compiled


def _numeric_claims(clause: str, compiled: CompiledKnowledge) -> list[Claim]:
    values = _values(clause)
    # Most clauses state no number, or name no fact: then there is nothing to look for.
    if not values or compiled.any_word is None or not compiled.any_word.search(clause):
        return []
    facts = compiled.numeric
    words = {f.fact.id: _spans(clause, f.words) for f in facts}
    every_word = [s for spans in words.values() for s in spans]
    out = []
    for v in values:
        # A value inside a fact's word is part of the name (1个月 in 96块钱1个月), not a value.
        if any(a <= v.start < b or a < v.end <= b for a, b in every_word) or clause[
            v.end :
        ].startswith(_APPROX_AFTER):
            continue
        best: tuple[int, Fact, tuple[int, int]] | None = None
        for numeric in facts:
            fact = numeric.fact
            # A number without a unit is money only (存一百六十八): durations, speeds and rates
            # are said with their unit, and a bare number next to 合约 is more often a
            # misheard word (合约期十二个月 heard as 合约七十二个元) than a term.
            bare = v.type == "" and numeric.type == "元"
            if v.type != numeric.type and not bare:
                continue
            for a, b in words[fact.id]:
                if b <= v.start:
                    gap, before = v.start - b, clause[b : v.start]
                    limit = 1 if bare else NEAR_BEFORE  # a bare 168 only right after 存
                elif a >= v.end and not bare:
                    gap, before = a - v.end, clause[max(0, v.start - 2) : v.start]
                    limit = NEAR_AFTER
                else:
                    continue
                # Another value between the word and this one belongs to that word first.
                between = clause[min(b, v.end) : max(a, v.start)]
                if gap > limit or re.search(r"\d", between) or _uncertain(before, ""):
                    continue
                if best is None or gap < best[0]:
                    best = (gap, fact, (a, b))
        if best is not None:
            _score, fact, (a, b) = best
            out.append(Claim(fact, v.value, clause[min(a, v.start) : max(b, v.end)]))
    return out


def rule_clauses(text: str) -> list[tuple[str, str, bool, bool]]:
    """(the clause as said, its core, negated, a question) for each clause of the sentence."""
    return [(said, core, negated, question) for said, core, negated, question, _ in _ruled(text)]


@lru_cache(maxsize=65536)
def _ruled(text: str) -> tuple[tuple[str, str, bool, bool, str], ...]:
    """rule_clauses with each clause's key (_key of its core), cached as _clauses is."""
    out = []
    for m in _RULE_CLAUSE.finditer(to_simplified(text)):
        said, mark = m.group(1), m.group(2)
        norm = normalize(said)
        question = bool(mark) or norm.endswith(("吗", "么")) or bool(_A_NOT_A_QUESTION.search(norm))
        core, negated = negation(norm)
        out.append((said, core, negated, question, _key(core)))
    return tuple(out)


@lru_cache(maxsize=4096)
def _core_vector(core: str) -> np.ndarray:
    return np.asarray(embed_texts(get_embedder(), [core])[0], np.float32)


# The thresholds as float32, the cosines' type: numpy compares a float32 with a Python float in
# float32, and the cosines are read here as Python floats (exact copies of the float32 values).
_SIMILAR_32 = float(np.float32(FACT_SIMILAR_THRESHOLD))
_NEAR_32 = float(np.float32(FACT_SIMILAR_THRESHOLD - FACT_AMBIGUITY_MARGIN))


@lru_cache(maxsize=65536)
def _valued_clauses(text: str) -> tuple[str, ...]:
    """The clauses of the text (_clauses) that hold a value: the only ones that can state a
    numeric fact."""
    return tuple(c for c in _clauses(text) if _values(c))


@lru_cache(maxsize=65536)
def _stating_clauses(text: str) -> tuple[tuple[str, str, bool, str, frozenset[str]], ...]:
    """(said, core, negated, key, pairs of the key) of each clause of _ruled that may state a
    yes/no rule: no question, a key of two characters or more."""
    return tuple(
        (said, core, negated, key, frozenset(_pairs(key)))
        for said, core, negated, question, key in _ruled(text)
        if not question and len(key) >= 2
    )


@dataclass(frozen=True)
class ClauseForms:
    """What a knowledge base reads of a sentence that depends on its text alone, stored with a
    transcript (rules/text_forms.py) so that a rescore does not normalize each clause again:
    the clauses holding a value (_valued_clauses) and (said, core, negated, key) of those that
    may state a yes/no rule (_stating_clauses)."""

    valued: tuple[str, ...]
    stating: tuple[tuple[str, str, bool, str], ...]


def clause_forms(text: str) -> ClauseForms:
    return ClauseForms(
        _valued_clauses(text),
        tuple((said, core, negated, key) for said, core, negated, key, _ in _stating_clauses(text)),
    )


def _stating(
    text: str, forms: ClauseForms | None
) -> Iterable[tuple[str, str, bool, str, frozenset[str]]]:
    if forms is None:
        return _stating_clauses(text)
    return [
        (said, core, neg, key, frozenset(_pairs(key))) for said, core, neg, key in forms.stating
    ]


def _rule_claims(text: str, bank: _RuleBank, forms: ClauseForms | None = None) -> list[Claim]:
    if not bank.statements:
        return []
    out: list[Claim] = []
    for said, core, negated, key, pairs in _stating(text, forms):
        best: dict[str, tuple[float, Statement]] = {}
        # The clause says a statement's words: the surest sign, the longest words first. Two
        # characters (退订, left of 不能退订) name the topic, not what is said of it: by meaning.
        if bank.lexical_pattern is not None and bank.lexical_pattern.search(key):
            for s in bank.lexical:
                if s.key in key and s.fact.id not in best:
                    best[s.fact.id] = (1.0, s)
        if not best:
            # No statement could be taken by meaning (the pairs test below) whatever the
            # cosines: nothing to embed.
            if not pairs & bank.any_telling[negated]:
                continue
            if bank.matrix is None:
                bank.matrix = embed_texts(get_embedder(), [s.core for s in bank.statements]).T
            cosines = _core_vector(core) @ bank.matrix
            scores = cosines.tolist()
            if max(scores) < _NEAR_32:
                continue  # near no statement (the usual case): the loop below would stop at once
            near: dict[str, list[tuple[float, bool]]] = {}
            for i in np.argsort(-cosines).tolist():
                s, score = bank.statements[i], scores[i]
                if score < _NEAR_32:
                    break
                near.setdefault(s.fact.id, []).append((score, s.stated(negated)))
                if s.fact.id not in best and score >= _SIMILAR_32:
                    if pairs & bank.telling[negated][i]:
                        best[s.fact.id] = (score, s)
            # Close in meaning to statements of both values (打个电话就给您退了: 退订要收费 and
            # 不能退订 alike): the clause does not say which, so it states nothing.
            for fact_id, (score, s) in list(best.items()):
                value = s.stated(negated)
                if any(v != value and score - c < FACT_AMBIGUITY_MARGIN for c, v in near[fact_id]):
                    del best[fact_id]
        for _score, s in best.values():
            out.append(Claim(s.fact, s.stated(negated), said))
    return out


def claims(text: str, kb: KnowledgeBase) -> list[Claim]:
    """Every fact value the sentence states, right or wrong."""
    return compiled_claims(text, compile_knowledge(kb))


def compiled_claims(
    text: str, compiled: CompiledKnowledge, forms: ClauseForms | None = None
) -> list[Claim]:
    """claims() with the knowledge base compiled beforehand (a check reads many sentences);
    `forms`: clause_forms(text) as stored with the transcript, if any."""
    out = []
    for clause in _valued_clauses(text) if forms is None else forms.valued:
        out += _numeric_claims(clause, compiled)
    return out + _rule_claims(text, compiled.rules, forms)


def wrong_claims(
    text: str, kb: KnowledgeBase | CompiledKnowledge, forms: ClauseForms | None = None
) -> list[Claim]:
    compiled = kb if isinstance(kb, CompiledKnowledge) else compile_knowledge(kb)
    return [c for c in compiled_claims(text, compiled, forms) if not c.right]
