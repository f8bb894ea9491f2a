"""The rubric YAML: its pydantic model is the only definition of the schema.

Loading reports every problem with file, line, field and reason (spec: Bad rubrics), never a
traceback. Unknown fields are refused the same way (a typo such as `wieght:` would otherwise
score 0 and nobody would be told): every field a rubric may carry is declared here, with its
default visible (script-section kinds, farewell, hold and reason phrases of the built-in checks).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml
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
    MAX_PROBLEM_CHARS,
    MAX_PROBLEMS,
    YAML_MAX_ALIASES,
    YAML_MAX_CHARS,
    YAML_MAX_DEPTH,
    YAML_MAX_NODES,
)
from qa_service.domain.enums import Role, SectionKind
from qa_service.domain.identifiers import valid_identifier
from qa_service.exceptions import RubricError
from qa_service.i18n import _, codes, validation_reason

Severity = Literal["normal", "fatal"]
# The one list of built-in checks: `check:` accepts exactly these (checks.BUILTINS implements them).
BUILTIN_CHECKS = ("agent_hangup", "hold_without_reason", "transfer_without_reason")
BuiltinCheck = Literal[BUILTIN_CHECKS]  # type: ignore[valid-type]
# How a script section's kind is recognised when the rubric does not say `kind:` (by id, else by
# the Chinese name of the outbound script's six parts).
SECTION_NAMES = {
    "首问语": SectionKind.GREETING,
    "开场白": SectionKind.OPENING,
    "产品介绍": SectionKind.PRODUCT_INTRO,
    "建议说服": SectionKind.PERSUASION,
    "总结成交": SectionKind.CLOSING,
    "结束语": SectionKind.FAREWELL,
}
# agent_hangup's farewell phrases when the rubric has no farewell (结束语) section.
DEFAULT_FAREWELL = ["再见", "祝您生活愉快", "感谢您的接听", "拜拜"]
# The agent's wrap-up after a sale and after a refusal (OutcomeRule.agent_success/agent_refusal).
# Perfective on purpose: 为您办理 alone is also the closing question (我这边为您办理可以吗).
DEFAULT_AGENT_SUCCESS = ["登记好了", "登记成功", "办理成功", "开通成功", "办好了", "开通好了"]
DEFAULT_AGENT_REFUSAL = ["不打扰您了", "打扰您了", "打扰了", "没关系"]
# A survey's own success is its completion: the agent closing the questionnaire.
DEFAULT_SURVEY_COMPLETE = [
    "调查就到这里",
    "回访就到这里",
    "问卷就到这里",
    "问题就这些",
    "问题都问完了",
    "就这几个问题",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)


def _phrase_list(value: Any) -> Any:
    """A phrase list may be written as one phrase; numbers in it are read as text."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) if isinstance(v, (int, float)) else v for v in value]
    return value


class PhraseRule(_Model):
    """Fields shared by every rule that matches phrases."""

    id: str = Field(min_length=1)
    name: str = ""
    any: list[str] = []
    all: list[str] = []
    regex: list[str] = []
    unless: list[str] = []
    role: Role = Role.AGENT
    fuzzy: float | None = Field(default=None, gt=0, le=1)
    similar: list[str] = []
    """Example sentences matched by meaning (spec: Matching, `similar:`)."""
    similar_threshold: float | None = Field(default=None, gt=0, le=1)
    """How close in meaning an utterance must be to a `similar` example (this rule only)."""

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return (
            str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        )

    _phrase_lists = field_validator("any", "all", "unless", "similar", mode="before")(_phrase_list)

    @field_validator("regex", mode="before")
    @classmethod
    def _regex_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    _("bad regex {pattern}: {reason}", pattern=repr(pattern), reason=exc)
                ) from None
        return value

    def has_phrases(self) -> bool:
        return bool(self.any or self.all or self.regex or self.similar)


class _NeedsPhrases(PhraseRule):
    @model_validator(mode="after")
    def _needs_phrases(self) -> _NeedsPhrases:
        if not self.has_phrases():
            raise ValueError(_("needs at least one of {fields}", fields="any, all, regex, similar"))
        return self


class ScriptSection(_NeedsPhrases):
    kind: SectionKind | None = None
    """Which of the six script parts this is; when left out, recognised from the id
    (`greeting`, `farewell` ...) or the Chinese name (首问语, 结束语 ...). None: a section of
    the rubric's own that no report or built-in check treats specially."""
    within_first: int | None = Field(default=None, ge=1)
    within_last: int | None = Field(default=None, ge=1)
    weight: float = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _default_kind(self) -> ScriptSection:
        if self.kind is None:
            self.kind = (
                SectionKind(self.id)
                if self.id in SectionKind.values()
                else SECTION_NAMES.get(self.name)
            )
        return self


class MandatoryPoint(_NeedsPhrases):
    weight: float = Field(default=0, ge=0)


class ForbiddenPhrase(_NeedsPhrases):
    severity: Severity = "normal"
    deduct: float = Field(default=0, ge=0)


class AttitudeError(PhraseRule):
    """Attitude errors A-E: by phrases (rude, shirking) or by a built-in check."""

    check: BuiltinCheck | None = None
    """A built-in check (spec: Built-in checks) instead of, or as well as, phrases."""
    severity: Severity = "normal"
    deduct: float = Field(default=0, ge=0)
    hold_seconds: float = Field(default=15, gt=0)
    # Built-in checks come with Mandarin defaults; a rubric may replace them.
    hold_phrases: list[str] = ["稍等", "等一下", "等一等", "稍候", "请等一下", "您等等"]
    """hold_without_reason: how an agent asks the customer to wait."""
    reason_phrases: list[str] = [
        "不好意思",
        "抱歉",
        "对不起",
        "帮您查",
        "为您查",
        "查询一下",
        "查一下",
        "核实",
        "确认一下",
        "让您久等",
    ]
    """hold_without_reason and transfer_without_reason: an apology or reason given with it."""
    transfer_phrases: list[str] = ["转接", "给您转到", "帮您转", "转给"]
    """transfer_without_reason: how an agent transfers the call."""
    transfer_reasons: list[str] = ["因为", "负责", "专员", "专业"]
    """transfer_without_reason: words that explain a transfer, besides `reason_phrases`."""
    farewell: list[str] = DEFAULT_FAREWELL
    """agent_hangup: the agent's farewell. When left out, the phrases of the rubric's farewell
    (结束语) section, else these."""

    @field_validator("check", mode="before")
    @classmethod
    def _known_check(cls, value: Any) -> Any:
        if value is not None and value not in BUILTIN_CHECKS:
            raise ValueError(
                _(
                    "unknown check {check}; known checks: {checks}",
                    check=repr(value),
                    checks=codes(BUILTIN_CHECKS),
                )
            )
        return value

    @model_validator(mode="after")
    def _phrases_or_check(self) -> AttitudeError:
        if self.check is None and not self.has_phrases():
            raise ValueError(
                _(
                    "needs a built-in {check} or at least one of {fields}",
                    check="check",
                    fields="any, all, regex, similar",
                )
            )
        return self


class Objection(_Model):
    id: str = Field(min_length=1)
    name: str = ""
    customer_says: list[str] = []
    agent_should: list[str] = []
    within_turns: int = Field(default=2, ge=1)
    weight: float = Field(default=0, ge=0)
    fuzzy: float | None = Field(default=None, gt=0, le=1)
    customer_says_similar: list[str] = []
    """Example objections matched by meaning (spec: Matching, `similar:`)."""
    agent_should_similar: list[str] = []
    """Example approved answers matched by meaning."""
    similar_threshold: float | None = Field(default=None, gt=0, le=1)
    """How close in meaning (this objection only)."""

    _text_list = field_validator(
        "customer_says",
        "agent_should",
        "customer_says_similar",
        "agent_should_similar",
        mode="before",
    )(_phrase_list)

    @model_validator(mode="after")
    def _both_sides(self) -> Objection:
        if not (self.customer_says or self.customer_says_similar):
            raise ValueError(_("needs {a} or {b}", a="customer_says", b="customer_says_similar"))
        if not (self.agent_should or self.agent_should_similar):
            raise ValueError(_("needs {a} or {b}", a="agent_should", b="agent_should_similar"))
        return self


class OutcomeRule(_Model):
    """成交判定: the customer's last success or refusal phrase decides the call's outcome."""

    success: list[str] = []
    refusal: list[str] = []
    role: Role = Role.CUSTOMER
    fuzzy: float | None = Field(default=None, gt=0, le=1)
    success_similar: list[str] = []
    """Example success sentences matched by meaning (spec: Matching, `similar:`)."""
    refusal_similar: list[str] = []
    """Example refusal sentences matched by meaning."""
    similar_threshold: float | None = Field(default=None, gt=0, le=1)
    """How close in meaning (the outcome only)."""
    agent_success: list[str] = DEFAULT_AGENT_SUCCESS
    """The agent's acknowledgement of a sale (登记好了), read only when no customer utterance
    decides: on a bad line the customer's short 好的/不需要 is the first thing lost, the agent's
    wrap-up usually survives. A survey or care rubric gets it when it makes an offer (a closing
    section or outcome phrases), a survey also its completion (调查就到这里); `[]` turns it
    off (Rubric._wrap_up_by_campaign)."""
    agent_refusal: list[str] = DEFAULT_AGENT_REFUSAL
    """The agent's acknowledgement of a refusal (好的，不打扰您了); as agent_success."""
    agent_turns: int = Field(default=2, ge=0)
    """How many of the agent's last utterances are its wrap-up."""

    _text_list = field_validator(
        "success",
        "refusal",
        "success_similar",
        "refusal_similar",
        "agent_success",
        "agent_refusal",
        mode="before",
    )(_phrase_list)


class Silence(_Model):
    max_gap_seconds: float = Field(gt=0)
    deduct: float = Field(default=0, ge=0)
    max_deduct: float | None = Field(default=None, ge=0)
    # A silence that an attitude error already counts (the hold after 请稍等 without a reason)
    # is penalised once, under the attitude error; true penalises both.
    with_attitude_error: bool = False


class Interruption(_Model):
    min_overlap_seconds: float = Field(default=1.0, ge=0)
    max_count: int = Field(default=0, ge=0)
    deduct: float = Field(default=0, ge=0)
    max_deduct: float | None = Field(default=None, ge=0)


class SpeechRate(_Model):
    max_chars_per_minute: float | None = Field(default=None, gt=0)
    min_chars_per_minute: float | None = Field(default=None, gt=0)
    deduct: float = Field(default=0, ge=0)


class Scoring(_Model):
    total: float = Field(default=100, gt=0)
    pass_score: float = Field(default=80, ge=0)
    excellent_score: float = Field(default=95, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Scoring:
        if self.excellent_score < self.pass_score:
            raise ValueError(_("{a} must not be below {b}", a="excellent_score", b="pass_score"))
        return self


class Asr(_Model):
    hotwords: list[str] = []
    """Product terms to bias recognition on both channels; a transcript spells those of 3+
    Chinese characters as written here (normalize.respell_hotwords)."""
    script_phrases: bool = True
    """The phrases of the script sections and mandatory points (what the agent is expected to
    say) bias recognition of the agent's channel too, after the hotwords. Whisper base then
    hears 电信 and 话费 where it wrote 变性 and 化费 (decision 0004).
    Never the forbidden, attitude or customer phrases: biasing toward those would put
    violations and objections in the text."""


class FactCheck(_Model):
    """The product-fact check (知识库核对): an agent stating a value the knowledge base
    contradicts (wrong price, term, rule) costs `deduct`, once per fact."""

    deduct: float = Field(default=10, ge=0)
    severity: Severity = "normal"


class Rubric(_Model):
    id: str = Field(min_length=1)
    name: str = ""
    version: int = Field(default=1, ge=1)
    project_type: Literal["marketing", "survey", "care"] = "marketing"
    channels: dict[Literal["left", "right"], Literal["agent", "customer"]] = {
        "left": "agent",
        "right": "customer",
    }
    scoring: Scoring = Scoring()
    asr: Asr = Asr()
    fuzzy: float | None = Field(default=None, gt=0, le=1)
    similar_threshold: float | None = Field(default=None, gt=0, le=1)
    """How close in meaning an utterance must be to a `similar` example, for every rule that
    does not set its own (spec: Matching)."""
    script_sections: list[ScriptSection] = []
    mandatory_points: list[MandatoryPoint] = []
    forbidden_phrases: list[ForbiddenPhrase] = []
    attitude_errors: list[AttitudeError] = []
    objections: list[Objection] = []
    outcome: OutcomeRule = OutcomeRule()
    silence: Silence | None = None
    interruption: Interruption | None = None
    speech_rate: SpeechRate | None = None
    # The product's knowledge base (qa_service/rules/knowledge.py): for a rubric read from the
    # database, the id of a stored knowledge base (id@version pins a version), else a path
    # relative to this file's folder (or QA_KNOWLEDGE_DIR). With it, agents' product facts are
    # checked against it (fact_check) and scripts audited.
    knowledge_base: str | None = None
    fact_check: FactCheck = FactCheck()
    _source: str | None = PrivateAttr(default=None)  # where it was read from
    _source_dir: Path | None = PrivateAttr(default=None)  # its file's folder, if a file
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)  # top-level field -> line
    # The stored knowledge base `knowledge_base` names (a KnowledgeBase, set by the database
    # when it loads the rubric) and its version: typed Any, knowledge.py imports this module.
    _knowledge: Any = PrivateAttr(default=None)
    _knowledge_version: int | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        return self._source

    @property
    def knowledge(self) -> Any:
        """The stored knowledge base attached to this rubric, None when there is none."""
        return self._knowledge

    @property
    def knowledge_version(self) -> int | None:
        return self._knowledge_version

    def attach_knowledge(self, kb: Any, version: int) -> None:
        self._knowledge, self._knowledge_version = kb, version

    @property
    def source_dir(self) -> Path | None:
        return self._source_dir

    def rule_ids(self) -> frozenset[str]:
        """Every rule a call scored with this rubric can have a finding of."""
        ids = {
            r.id
            for rules in (
                self.script_sections,
                self.mandatory_points,
                self.forbidden_phrases,
                self.attitude_errors,
                self.objections,
            )
            for r in rules
        }
        for name in ("silence", "interruption", "speech_rate"):
            if getattr(self, name):
                ids.add(name)
        return frozenset(ids)

    def line_of(self, field: str) -> int | None:
        return self._lines.get(field)

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        # it names URLs, jobs and filters: care/../x would be stored and never reachable
        return valid_identifier(value)

    @field_validator("channels")
    @classmethod
    def _two_roles(cls, value: dict[str, str]) -> dict[str, str]:
        if set(value) != {"left", "right"} or set(value.values()) != {Role.AGENT, Role.CUSTOMER}:
            raise ValueError(
                _(
                    "must map {left} and {right} to {agent} and {customer}, one each",
                    left="left",
                    right="right",
                    agent="agent",
                    customer="customer",
                )
            )
        return value

    @model_validator(mode="after")
    def _farewell_from_section(self) -> Rubric:
        """agent_hangup listens for the rubric's own farewell (结束语) unless told otherwise."""
        section = self.section(SectionKind.FAREWELL)
        if section is not None:
            for rule in self.attitude_errors:
                if "farewell" not in rule.model_fields_set:
                    rule.farewell = list(section.any)
        return self

    @model_validator(mode="after")
    def _wrap_up_by_campaign(self) -> Rubric:
        """The default acknowledgements of the agent's wrap-up are a sale's and a refusal's.
        A care or survey rubric that makes an offer (it has a closing 总结成交 section, or
        success/refusal phrases in its outcome) reads them like a marketing one: 已经给您登记好了
        and 那不打扰您了 mean the same in a care call that offers a renewal. A survey's
        completion is its own success (调查就到这里). A care rubric with neither reads its
        outcome from the customer only. A list the rubric writes itself is kept as written."""
        if self.project_type == "marketing":
            return self
        offers = self.section(SectionKind.CLOSING) is not None or bool(
            self.outcome.success or self.outcome.refusal
        )
        defaults = {
            "agent_success": (list(DEFAULT_AGENT_SUCCESS) if offers else [])
            + (list(DEFAULT_SURVEY_COMPLETE) if self.project_type == "survey" else []),
            "agent_refusal": list(DEFAULT_AGENT_REFUSAL) if offers else [],
        }
        for field, value in defaults.items():
            if field not in self.outcome.model_fields_set:
                setattr(self.outcome, field, value)
        return self

    def section(self, kind: SectionKind) -> ScriptSection | None:
        """The first script section of this kind (None when the rubric has none)."""
        return next((s for s in self.script_sections if s.kind == kind), None)

    def rules(self) -> list[tuple[str, int, PhraseRule | Objection]]:
        """(list field, index, rule) for every rule with an id."""
        out = []
        for field in RULE_LISTS:
            out += [(field, i, rule) for i, rule in enumerate(getattr(self, field))]
        return out

    def agent_phrases(self) -> list[str]:
        """The phrases the agent is expected to say: those of the script sections, then of the
        mandatory points, as written."""
        return [p for rule in (*self.script_sections, *self.mandatory_points) for p in rule.any]

    def script_terms(self) -> list[str]:
        """What the agent's recognition is biased toward after the hotwords, most important
        first (a prompt that runs out of room drops the last): unless asr.script_phrases is
        off, the phrases of the script sections, then of the mandatory points, each once.
        Sections first: with the points' phrases alone Whisper dropped the greeting's 您好 from
        the start of 5 of the 16 dev calls (the prompt's last words say how a text goes on)."""
        if not self.asr.script_phrases:
            return []
        phrases = (p.strip() for p in self.agent_phrases())
        return [p for p in dict.fromkeys(phrases) if p and p not in self.asr.hotwords]

    @property
    def agent_channel(self) -> str:
        return "left" if self.channels["left"] == Role.AGENT.value else "right"


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at `loc` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(key):
                    node, line = v, k.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _field_name(loc: tuple[Any, ...], data: Any) -> str:
    parts: list[str] = []
    for key in loc:
        if isinstance(key, int):
            parts[-1:] = [f"{parts[-1]}[{key}]"] if parts else [f"[{key}]"]
            if (
                isinstance(data, list)
                and key < len(data)
                and isinstance(data[key], dict)
                and "id" in data[key]
            ):
                parts[-1] += f"(id={data[key]['id']})"
        elif not str(key).startswith(("function-", "literal[", "list[", "dict[")):
            parts.append(str(key))
        data = data[key] if isinstance(data, (dict, list)) and _has(data, key) else None
    return ".".join(parts)


def _has(data: Any, key: Any) -> bool:
    if isinstance(data, dict):
        return key in data
    return isinstance(key, int) and key < len(data)


# libyaml's parser where it is installed (the wheels bundle it): some 20 times faster than PyYAML's
# own, which takes seconds over a 200 KB document.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_shape(text: str, source: str, error: type[RubricError]) -> None:
    """Refuse, from the parser's events and so before a node or object is built, a document
    with more than YAML_MAX_ALIASES aliases, more than YAML_MAX_NODES values once its aliases
    are expanded (aliases of aliases: a billion laughs), an alias inside the node it names, or
    nesting deeper than YAML_MAX_DEPTH."""

    def refuse(event: Any, reason: str) -> NoReturn:
        mark = event.start_mark
        raise error(source, [(mark.line + 1 if mark is not None else None, "", reason)])

    aliases = total = 0
    sizes: dict[str, int] = {}  # anchor -> values in its node, aliases expanded
    open_: list[tuple[str | None, int]] = []  # collections being read: (anchor, total before)
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > YAML_MAX_ALIASES:
                refuse(event, _("more than {n} aliases (*name)", n=YAML_MAX_ALIASES))
            size = sizes.get(event.anchor or "")
            if size is None:
                refuse(event, _("an alias (*name) to no node before it, or to the node it is in"))
            total += size
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            open_.append((event.anchor, total))
            total += 1
            if len(open_) > YAML_MAX_DEPTH:
                refuse(event, _("nested deeper than {n} levels", n=YAML_MAX_DEPTH))
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, before = open_.pop()
            if anchor:
                sizes[anchor] = total - before
        if total > YAML_MAX_NODES:
            refuse(
                event, _("more than {n:,} values once its aliases are expanded", n=YAML_MAX_NODES)
            )


def bounded(
    problems: list[tuple[int | None, str, str]],
) -> list[tuple[int | None, str, str]]:
    """What a refusal lists: the first MAX_PROBLEMS problems, each field and reason cut at
    MAX_PROBLEM_CHARS, and a last line saying how many more there are."""

    def cut(text: str) -> str:
        return text if len(text) <= MAX_PROBLEM_CHARS else text[: MAX_PROBLEM_CHARS - 1] + "…"

    kept = [(line, cut(field), cut(reason)) for line, field, reason in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        kept.append(
            (
                None,
                "",
                _("and {more:,} more problems (the first {n} shown)", more=more, n=MAX_PROBLEMS),
            )
        )
    return kept


# A token quoted from the text in a YAML problem ("found undefined alias 'x'"): not repeated.
_QUOTED = re.compile(r"'[^'\n]{3,}'|\"[^\"\n]{3,}\"")

# The YAML parser's (libyaml's) most frequent problems, read in the service's language; another
# one is shown as the parser wrote it.
YAML_PROBLEMS = (
    "cannot be parsed",
    "mapping values are not allowed in this context",
    "mapping values are not allowed here",
    "did not find expected key",
    "did not find expected node content",
    "did not find expected ',' or ']'",
    "did not find expected '-' indicator",
    "could not find expected ':'",
    "found character that cannot start any token",
    "found undefined alias",
    "found unexpected end of stream",
    "found duplicate anchor",
)


def read_yaml_mapping(
    text: str, source: str, error: type[RubricError], not_mapping: str
) -> tuple[yaml.Node | None, dict[str, Any]]:
    """The YAML node tree (for line numbers) and the data of a file that must be a mapping;
    invalid YAML or another shape is `error` with the line (rubrics and knowledge bases)."""
    if len(text) > YAML_MAX_CHARS:
        raise error(
            source,
            [
                (
                    None,
                    "",
                    _(
                        "{n:,} characters: more than the {max:,} allowed",
                        n=len(text),
                        max=YAML_MAX_CHARS,
                    ),
                )
            ],
        )
    try:
        _check_shape(text, source, error)
        # composed once: the node tree gives the lines, the data is built from the same tree
        loader = _LOADER(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        # the problem and its line, never str(exc): that quotes the text around the mark, and
        # the text may be a file that is not YAML at all; no quoted token from it either
        problem = str(getattr(exc, "problem", None) or "cannot be parsed")
        reason = _(problem) if problem in YAML_PROBLEMS else _QUOTED.sub("…", problem)
        raise error(source, [(line, "", _("not valid YAML: {reason}", reason=reason))]) from None
    if not isinstance(data, dict):
        raise error(source, [(1, "", not_mapping)])
    return root, data


def parse_rubric(text: str, source: str = "<rubric>") -> Rubric:
    root, data = read_yaml_mapping(
        text,
        source,
        RubricError,
        _("a rubric is a YAML mapping ({fields})", fields="id, name, version, ..."),
    )
    problems = _duplicate_ids(root, data)
    unknown: dict[int, tuple[Any, ...]] = {}  # problem -> where: a field the model does not know
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(k for k in err["loc"] if not (isinstance(k, str) and "[" in k))
            if err["type"] == "extra_forbidden":
                unknown[len(problems)] = loc
            reason = validation_reason(err)
            problems.append((_line_of(root, loc), _field_name(loc, data), reason))
    if problems:
        order = sorted(
            range(len(problems)), key=lambda i: (problems[i][0] is None, problems[i][0] or 0)
        )
        # the likely intended name (difflib: slow) for the problems shown only
        shown = [
            (*problems[i][:2], _unknown_field(unknown[i]) if i in unknown else problems[i][2])
            for i in order[:MAX_PROBLEMS]
        ]
        raise RubricError(source, bounded(shown + [problems[i] for i in order[MAX_PROBLEMS:]]))
    rubric._source = source
    if isinstance(root, yaml.MappingNode):
        rubric._lines = {k.value: k.start_mark.line + 1 for k, _ in root.value}
    return rubric


def _unknown_field(loc: tuple[Any, ...]) -> str:
    """The reason for a field the model does not declare, with the likely intended name."""
    if not loc:  # a key with "[" in it is dropped from loc with pydantic's own markers
        return _("unknown field")
    model: Any = Rubric
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        info = model.model_fields.get(str(key)) if model is not None else None
        model = _model_of(info.annotation) if info is not None else None
    known = sorted(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return _(
            "unknown field {name} (did you mean {close}?)", name=repr(loc[-1]), close=repr(close[0])
        )
    return _("unknown field {name}", name=repr(loc[-1]))


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside list[X] / Optional[X] / X."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


RULE_LISTS = (
    "script_sections",
    "mandatory_points",
    "forbidden_phrases",
    "attitude_errors",
    "objections",
)


def _duplicate_ids(
    root: yaml.Node | None, data: dict[str, Any]
) -> list[tuple[int | None, str, str]]:
    """Rule ids are unique across the rubric: findings and reviews cite them."""
    problems: list[tuple[int | None, str, str]] = []
    seen: dict[str, str] = {}
    for field in RULE_LISTS:
        rules = data.get(field)
        if not isinstance(rules, list):
            continue
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("id"), (str, int)):
                continue
            rule_id, where = str(rule["id"]), f"{field}[{index}]"
            if rule_id in seen:
                problems.append(
                    (
                        _line_of(root, (field, index, "id")),
                        f"{where}.id",
                        _(
                            "duplicate id {id} (first used in {where})",
                            id=repr(rule_id),
                            where=seen[rule_id],
                        ),
                    )
                )
            else:
                seen[rule_id] = where
    return problems


def load_rubric(path: str | Path) -> Rubric:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RubricError(str(path), [(None, "", _("no such file"))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(
            str(path), [(None, "", _("cannot be read: {reason}", reason=exc))]
        ) from None
    rubric = parse_rubric(text, str(path))
    rubric._source_dir = path.parent
    return rubric
