"""Pre-trial script audit (项目试呼前的评估核查).

Before the first trial call, QA staff check the outbound script itself against the project's
rubric and knowledge base:
- project type (调查 / 营销 / 关怀) matches the requirement: no hard selling in a care or
  survey script, a closing (总结成交) in a marketing script;
- the six parts 首问语 开场白 产品介绍 建议说服 总结成交 结束语 are there;
- every mandatory point (必说点) is explained, with the same phrase matching as calls;
- no forbidden phrase (投诉隐患) is written into it;
- the product facts it states agree with the knowledge base (知识库).

A script is Markdown or plain text (or .docx): the agent's lines, headed or not by the part
names (`## 开场白`, `【开场白】`, `一、开场白`, `开场白：您好……`); lines marked 客户： are the
customer's and are not checked as the agent's; lines in brackets are stage directions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, computed_field

from qa_service.config import (
    DEFAULT_FUZZY,
    DEFAULT_PHRASE_MARGIN,
    DEFAULT_SIMILAR_THRESHOLD,
    Settings,
)
from qa_service.domain.enums import Category, FindingStatus, Role, SectionKind
from qa_service.domain.evaluation import RubricRef
from qa_service.domain.results import Evidence, Utterance
from qa_service.domain.schema import Schema
from qa_service.exceptions import ScriptError
from qa_service.i18n import _
from qa_service.rules.checks import Call, PhrasePresenceCheck, PhraseViolationCheck
from qa_service.rules.knowledge import KnowledgeBase, claims
from qa_service.rules.matching import Match, PhraseMatcher
from qa_service.rules.normalize import to_simplified
from qa_service.rules.rubric import SECTION_NAMES, MandatoryPoint, PhraseRule, Rubric, ScriptSection
from qa_service.rules.semantic import DEFAULT_MODEL, ExampleBank, SimilarRules

PART_NAMES = {kind: name for name, kind in SECTION_NAMES.items()}
PARTS = tuple(PART_NAMES[kind] for kind in SectionKind)
# Sections of no kind that stand for a part: a care or survey call's introduction plays the
# product introduction's role (关怀说明, 调查说明).
PART_OF = {
    "关怀说明": "产品介绍",
    "调查说明": "产品介绍",
    "care_intro": "产品介绍",
    "survey_intro": "产品介绍",
}
# A care or survey call introduces its purpose but does not persuade or close a sale.
REQUIRED = {
    "marketing": set(PARTS),
    "care": {"首问语", "开场白", "产品介绍", "结束语"},
    "survey": {"首问语", "开场白", "产品介绍", "结束语"},
}
TYPE_NAMES = {"marketing": "营销", "care": "关怀", "survey": "调查"}
TYPE_ALIASES = {**{v: k for k, v in TYPE_NAMES.items()}, **{k: k for k in TYPE_NAMES}}
# Lines that push a sale: out of place in a care or survey script (关怀中强行营销).
HARD_SELLING = [
    "现在就给您办理",
    "马上给您办理",
    "帮您办理",
    "为您办理",
    "给您办理",
    "给您开通",
    "帮您开通",
    "现在办理",
    "今天办理",
    "名额有限",
    "只剩最后",
    "必须今天办",
    "错过就没有了",
    "赶紧办",
]

AGENT_MARK = re.compile(
    r"^(坐席|客服|话务员|营销员|客户经理|工作人员|员工|agent|a)\s*[:：]\s*", re.I
)
CUSTOMER_MARK = re.compile(r"^(客户|用户|顾客|customer|c)\s*[:：]\s*", re.I)
LIST_MARK = re.compile(r"^(?:[-*+>]\s+|\d+[.、)]\s*|[（(]?[一二三四五六七八九十]+[)）、.]\s*)")
HEADING = re.compile(r"^#{1,6}\s*|^【|】$|^\*\*|\*\*$|^第[一二三四五六七八九十\d]+部分[:：]?\s*")
DIRECTION = re.compile(r"^[（(\[].*[)）\]]$")
LEADING_DIRECTION = re.compile(r"^[（(\[][^)）\]]*[)）\]]\s*")  # （客户嫌贵时）其实……


@dataclass
class ScriptLine:
    line: int  # 1-based line in the file (paragraph number for .docx)
    text: str
    role: Role
    part: str | None  # the part heading it stands under, if any


@dataclass
class Script:
    source: str
    lines: list[ScriptLine]
    headings: dict[str, int]  # part -> line of its heading


def read_script(path: Path) -> Script:
    path = Path(path)
    if not path.is_file():
        raise ScriptError(_("{path}: no such file", path=path))
    if path.suffix.lower() == ".docx":
        try:
            import docx

            paragraphs = [p.text for p in docx.Document(str(path)).paragraphs]
        except Exception as exc:  # python-docx raises several kinds on a broken package
            raise ScriptError(
                _(
                    "{path}: not a readable {ext} file ({reason})",
                    path=path,
                    ext=".docx",
                    reason=exc,
                )
            ) from None
        return parse_script("\n".join(paragraphs), str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ScriptError(
            _("{path}: not UTF-8 text (Markdown, plain text or {ext})", path=path, ext=".docx")
        ) from None
    except OSError as exc:
        raise ScriptError(_("{path}: cannot be read ({reason})", path=path, reason=exc)) from None
    return parse_script(text, str(path))


def _heading(text: str, extra: dict[str, str]) -> tuple[str | None, str]:
    """(part named by a heading at the start of the line, the rest of the line)."""
    bare = HEADING.sub("", LIST_MARK.sub("", text)).strip()
    names = {**{p: p for p in PARTS}, **extra}
    for name in sorted(names, key=len, reverse=True):
        if not bare.startswith(name):
            continue
        after = bare[len(name) :]
        closed = after.startswith(("】", "]", "**", "）", ")"))  # 【开场白】您好……
        rest = after.lstrip("】]*）) \t")
        if closed or not rest or rest[0] in ":：":
            return names[name], rest.lstrip(":： ").strip()
        if text.lstrip().startswith("#"):
            return names[name], ""  # a heading with a comment: ## 开场白（必读）
    return None, text


def check_size_within(text: str, source: str, settings: Settings) -> None:
    """check_size with the service's limits (config.Settings' audit_max_*)."""
    check_size(
        text,
        source,
        max_chars=settings.audit_max_chars,
        max_lines=settings.audit_max_lines,
        max_line_chars=settings.audit_max_line_chars,
    )


def check_size(
    text: str, source: str, *, max_chars: int, max_lines: int, max_line_chars: int
) -> None:
    """Refuse (ScriptError, a 422) a script past an audit's limits, before any matching: the
    audit's cost grows with every character, and each line is matched by meaning at once."""
    if len(text) > max_chars:
        raise ScriptError(
            _(
                "{source}: the script has {n:,} characters, more than the {max:,} an audit "
                "takes ({setting})",
                source=source,
                n=len(text),
                max=max_chars,
                setting="QA_AUDIT_MAX_CHARS",
            )
        )
    lines = text.splitlines()
    if len(lines) > max_lines:
        raise ScriptError(
            _(
                "{source}: the script has {n:,} lines, more than the {max:,} an audit takes "
                "({setting})",
                source=source,
                n=len(lines),
                max=max_lines,
                setting="QA_AUDIT_MAX_LINES",
            )
        )
    for number, line in enumerate(lines, 1):
        if len(line) > max_line_chars:
            raise ScriptError(
                _(
                    "{source}:{number}: the line has {n:,} characters, more than the {max:,} a "
                    "line may have ({setting}); break it into sentences",
                    source=source,
                    number=number,
                    n=len(line),
                    max=max_line_chars,
                    setting="QA_AUDIT_MAX_LINE_CHARS",
                )
            )


def parse_script(
    text: str, source: str = "<script>", extra_parts: dict[str, str] | None = None
) -> Script:
    lines: list[ScriptLine] = []
    headings: dict[str, int] = {}
    part: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = to_simplified(raw).strip()
        if not stripped or stripped.startswith(("<!--", "---", "```")):
            continue
        named, rest = _heading(stripped, extra_parts or {})
        if named:
            part = named
            headings.setdefault(named, number)
            if not rest:
                continue
            stripped = rest
        elif stripped.startswith("#"):
            part = None  # another heading (the script's title, notes): not a part
            continue
        body = LIST_MARK.sub("", stripped)
        if DIRECTION.match(body):
            continue
        body = LEADING_DIRECTION.sub("", body)
        role = Role.AGENT
        if CUSTOMER_MARK.match(body):
            role, body = Role.CUSTOMER, CUSTOMER_MARK.sub("", body)
        else:
            body = AGENT_MARK.sub("", body)
        if body.strip():
            lines.append(ScriptLine(number, body.strip(), role, part))
    if not any(line.role == Role.AGENT for line in lines):
        raise ScriptError(_("{source}: no agent lines to audit (an empty script?)", source=source))
    return Script(source, lines, headings)


ProblemKind = Literal[
    "project_type", "script_part", "mandatory_point", "forbidden_phrase", "product_fact"
]


class AuditProblem(Schema):
    kind: ProblemKind
    id: str
    """The rule, part or fact concerned (type, hard_selling, no_closing for project_type)."""
    line: int | None
    message: str


class AuditProjectType(Schema):
    """项目类型审核: the type the requirement asks for against the rubric's."""

    required: str
    rubric: str
    problems: list[str]
    """The messages of the project_type problems."""


class AuditPart(Schema):
    """One of the six parts (脚本逻辑审核), or a rubric section of no kind."""

    part: str
    required: bool
    found: bool
    line: int | None
    how: Literal["heading", "phrase"] | None
    """Found under its heading, or by a section phrase."""
    text: str | None
    """The part's first agent line."""
    phrase: str | None = Field(default=None, exclude_if=lambda v: v is None)
    """The section phrase matched: present only when one matched."""


class AuditPoint(Schema):
    """必说点讲解: a mandatory point of the agent's and whether the script explains it."""

    id: str
    name: str
    explained: bool
    line: int | None
    phrase: str | None
    """The rubric's phrase or example it was matched with."""
    words: str | None = None
    """The script's own words that explain it (每个月只要九十九元), not the rubric's."""
    text: str | None
    similarity: float | None
    """1.0 for a phrase said as written."""
    wrong_fact: bool = Field(default=False, exclude_if=lambda v: not v)
    """Present (true) only when the point is matched on a line with a product fact the
    knowledge base contradicts, by a near match (九十九元 for 九十六元)."""


class AuditForbidden(Schema):
    """投诉隐患: a forbidden phrase or rude or shirking word written into the script."""

    id: str
    name: str
    line: int
    phrase: str | None
    text: str


class AuditFact(Schema):
    """A product fact the script states with a value the knowledge base contradicts."""

    fact: str
    name: str
    line: int
    said: str
    """The value the script states (99元, 是)."""
    words: str
    """The script's own words that state it (每个月只要99元, 到期后自动续约)."""
    kb_value: str
    text: str


class AuditReport(Schema):
    """Pre-trial script audit (试呼前评估核查). `clean` is false when any problem is found."""

    script: str
    rubric: RubricRef
    knowledge_base: str | None
    project_type: AuditProjectType
    parts: list[AuditPart] = Field(default_factory=list)
    points: list[AuditPoint] = Field(default_factory=list)
    forbidden: list[AuditForbidden] = Field(default_factory=list)
    facts: list[AuditFact] = Field(default_factory=list)
    facts_not_stated: list[str] = Field(default_factory=list)
    """The knowledge base's facts the script does not state."""
    problems: list[AuditProblem] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clean(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The report as `qa-service audit` prints and saves it (the API's JSON)."""
        return self.model_dump()


def type_name(code: str) -> str:
    """A project type by its name, with the code the requirement and rubric write it as."""
    name = _(code)
    return name if name == code else f"{name} ({code})"


def part_of(section: ScriptSection) -> str | None:
    if section.kind is not None:
        return PART_NAMES[section.kind]
    return PART_OF.get(section.id) or PART_OF.get(section.name)


class ScriptCall:
    """The script's lines as a call (one utterance per line, in order), so sections, points
    and forbidden phrases are matched exactly as on calls: the same check classes, phrases,
    pinyin fuzziness and `similar:` examples. Every check is built before the first runs (as
    a Scorer does): `similar:` examples share one bank, embedded once."""

    def __init__(self, script: Script, rubric: Rubric, fuzzy: float):
        self.lines = script.lines
        similar = similar_rules(rubric)
        # No within_first/within_last windows: a script has lines, not turns.
        self.sections = {
            id(r): PhrasePresenceCheck(r, Category.SCRIPT_SECTION, fuzzy, similar)
            for r in rubric.script_sections
        }
        self.points = {
            id(r): PhrasePresenceCheck(r, Category.MANDATORY_POINT, fuzzy, similar)
            for r in rubric.mandatory_points
        }
        self.forbidden = [
            PhraseViolationCheck(r, Category.FORBIDDEN_PHRASE, fuzzy, similar)
            for r in rubric.forbidden_phrases
        ] + [
            PhraseViolationCheck(r, Category.ATTITUDE_ERROR, fuzzy, similar)
            for r in rubric.attitude_errors
            if r.has_phrases()
        ]
        self.selling = PhraseMatcher(any=HARD_SELLING, fuzzy=1.0)
        self.call = Call(
            [Utterance(line.role, i, i + 0.5, line.text) for i, line in enumerate(script.lines)],
            float(len(script.lines)),
        )

    def line(self, evidence: Evidence) -> ScriptLine:
        return self.lines[int(evidence.start)]

    def present(self, rule: ScriptSection | MandatoryPoint) -> Evidence | None:
        check = self.sections.get(id(rule)) or self.points[id(rule)]
        finding = check.run(self.call)[0]
        return finding.evidence[0] if finding.status == FindingStatus.HIT else None

    def violations(self) -> list[tuple[PhraseRule, Evidence]]:
        return [
            (check.rule, e)
            for check in self.forbidden
            for f in check.run(self.call)
            for e in f.evidence
        ]

    def hard_selling(self) -> list[tuple[ScriptLine, Match]]:
        return [
            (self.lines[i], m)
            for i, m in self.call.hits(self.selling, self.call.indices(Role.AGENT))
        ]


def similar_rules(rubric: Rubric) -> SimilarRules:
    """The `similar:` matching a Scorer would use for this rubric (examples embedded lazily:
    a rubric without examples loads no model)."""
    threshold = (
        rubric.similar_threshold
        if rubric.similar_threshold is not None
        else DEFAULT_SIMILAR_THRESHOLD
    )
    return SimilarRules(ExampleBank(DEFAULT_MODEL), threshold, DEFAULT_PHRASE_MARGIN)


def audit(
    script: Script,
    rubric: Rubric,
    kb: KnowledgeBase | None = None,
    required_type: str | None = None,
    fuzzy: float = DEFAULT_FUZZY,
) -> AuditReport:
    fuzzy = rubric.fuzzy if rubric.fuzzy is not None else fuzzy
    asked = required_type or rubric.project_type
    required_type = TYPE_ALIASES.get(asked, asked)
    agent = [line for line in script.lines if line.role == Role.AGENT]
    lines = ScriptCall(script, rubric, fuzzy)
    report = AuditReport(
        script=script.source,
        rubric=RubricRef(id=rubric.id, version=rubric.version),
        knowledge_base=kb.id if kb else None,
        project_type=AuditProjectType(
            required=required_type, rubric=rubric.project_type, problems=[]
        ),
    )
    problems = report.problems

    def problem(kind: ProblemKind, id_: str, line: int | None, message: str) -> None:
        problems.append(AuditProblem(kind=kind, id=id_, line=line, message=message))

    # Project type (项目类型审核).
    if required_type != rubric.project_type:
        problem(
            "project_type",
            "type",
            None,
            _(
                "the requirement is {required} but the rubric {rubric} is {type}",
                required=type_name(required_type),
                rubric=rubric.id,
                type=type_name(rubric.project_type),
            ),
        )
    if required_type in ("care", "survey"):
        for line, found in lines.hard_selling():
            problem(
                "project_type",
                "hard_selling",
                line.line,
                _(
                    "hard selling line in a {type} script: {phrase} in {text}",
                    type=_(required_type),
                    phrase=repr(found.phrase),
                    text=repr(line.text),
                ),
            )

    # The six parts (脚本逻辑审核).
    sections: dict[str, list[ScriptSection]] = {}
    for section in rubric.script_sections:
        sections.setdefault(part_of(section) or section.name or section.id, []).append(section)
    required = REQUIRED.get(required_type, set(PARTS))
    names = list(PARTS) + [k for k in sections if k not in PARTS]
    for name in names:
        entry = AuditPart(
            part=name,
            required=name in required or name not in PARTS,
            found=False,
            line=None,
            how=None,
            text=None,
        )
        heading = script.headings.get(name)
        under = [line for line in agent if line.part == name]
        if heading is not None and under:
            entry = entry.model_copy(
                update={"found": True, "line": heading, "how": "heading", "text": under[0].text}
            )
        for section in sections.get(name, []):
            said = lines.present(section)
            if said is not None:
                if not entry.found:
                    line = lines.line(said)
                    entry = entry.model_copy(
                        update={
                            "found": True,
                            "line": line.line,
                            "how": "phrase",
                            "text": line.text,
                        }
                    )
                entry.phrase = said.phrase
                break
        report.parts.append(entry)
        if entry.required and not entry.found:
            problem("script_part", name, None, _("part {part} is missing", part=name))
    if required_type == "marketing" and not any(
        p.found for p in report.parts if p.part == "总结成交"
    ):
        problem(
            "project_type",
            "no_closing",
            None,
            _("{type} script without a closing", type=_("marketing")),
        )

    # Mandatory points (必说点讲解).
    for point in rubric.mandatory_points:
        if point.role == Role.CUSTOMER:
            continue
        said = lines.present(point)
        at = lines.line(said) if said else None
        report.points.append(
            AuditPoint(
                id=point.id,
                name=point.name,
                explained=said is not None,
                line=at.line if at else None,
                phrase=said.phrase if said else None,
                words=(said.matched or at.text) if said and at else None,
                text=at.text if at else None,
                similarity=said.similarity if said else None,
            )
        )
        if said is None:
            problem(
                "mandatory_point",
                point.id,
                None,
                _("mandatory point {point} is not explained", point=point.name or point.id),
            )

    # Forbidden phrases and rude or shirking words (投诉隐患).
    for rule, said in lines.violations():
        line = lines.line(said)
        report.forbidden.append(
            AuditForbidden(
                id=rule.id, name=rule.name, line=line.line, phrase=said.phrase, text=line.text
            )
        )
        problem(
            "forbidden_phrase",
            rule.id,
            line.line,
            _(
                "forbidden phrase {phrase} ({rule})",
                phrase=repr(said.phrase),
                rule=rule.name or rule.id,
            ),
        )

    # Product facts against the knowledge base (产品介绍与知识库一致).
    if kb is not None:
        stated = set()
        for line in agent:
            for claim in claims(line.text, kb):
                stated.add(claim.fact.id)
                if claim.right:
                    continue
                fact = claim.fact
                report.facts.append(
                    AuditFact(
                        fact=fact.id,
                        name=fact.name,
                        line=line.line,
                        said=fact.show(claim.value),
                        words=claim.said,
                        kb_value=fact.show(fact.value),
                        text=line.text,
                    )
                )
                problem(
                    "product_fact",
                    fact.id,
                    line.line,
                    _(
                        "{fact}: the script says {said} ({words}), the knowledge base {value}",
                        fact=fact.name or fact.id,
                        said=fact.show(claim.value),
                        words=claim.said,
                        value=fact.show(fact.value),
                    ),
                )
        report.facts_not_stated = [f.id for f in kb.facts if f.id not in stated]
        # A point matched on a line with a wrong value (九十九元 is one syllable from 九十六元)
        # is explained, wrongly: say so next to it.
        wrong_lines = {f.line for f in report.facts}
        for explained in report.points:
            if explained.line in wrong_lines and (explained.similarity or 1) < 1:
                explained.wrong_fact = True
    problems.sort(key=lambda p: (p.line is None, p.line or 0, p.kind))
    report.project_type.problems = [p.message for p in problems if p.kind == "project_type"]
    return report
