"""The message catalog (qa_service/i18n): every message the package sends through it has its
Chinese, with the same fields; English is the message itself."""

from __future__ import annotations

import ast
import re
import string

from qa_service.api.errors import HTTP_PHRASES
from qa_service.config import get_settings
from qa_service.i18n import NAMES, VALIDATION, catalog, name_of, translate
from qa_service.metrics import wrapup
from qa_service.rules.field_labels import FIELD_LABELS
from qa_service.rules.rubric import YAML_PROBLEMS
from tests.support import ROOT, english_words

FIELDS = string.Formatter()


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in FIELDS.parse(text) if name}


def used_msgids() -> set[str]:
    """The string literals passed to _() or message() anywhere in the package."""
    found = set()
    for path in (ROOT / "qa_service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "message")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_message_has_its_chinese_with_the_same_fields():
    zh = catalog("zh_CN")
    labels = [
        *wrapup.CATEGORY_NAMES.values(),
        *wrapup.TRENDS.values(),
        *wrapup.PHASES.values(),
        *wrapup.SECTIONS.values(),
        *wrapup.PROJECT_TYPES.values(),
        *VALIDATION.values(),
        *NAMES.values(),
        *YAML_PROBLEMS,
        *HTTP_PHRASES,
        *FIELD_LABELS.values(),
    ]
    wanted = used_msgids() | set(labels)
    assert len(wanted) > 40
    missing = sorted(m for m in wanted if m not in zh)
    assert not missing, f"not in the zh_CN catalog: {missing}"
    for msgid in wanted:
        assert fields(zh[msgid]) == fields(msgid), msgid
        assert not english_words(re.sub(r"\{[^}]*\}", "", zh[msgid]), code=False), zh[msgid]


def test_english_is_the_message_itself_and_fields_are_filled():
    msgid = "waited {seconds:.1f} s (limit {limit:g} s)"
    assert translate(msgid, "en", seconds=22.44, limit=15) == "waited 22.4 s (limit 15 s)"
    assert translate(msgid, "zh_CN", seconds=22.44, limit=15) == "让客户等待 22.4 秒（上限 15 秒）"


def test_codes_read_by_their_page_names_in_chinese_and_as_codes_in_english(monkeypatch):
    monkeypatch.setenv("QA_LOCALE", "zh_CN")
    get_settings.cache_clear()
    try:
        assert [name_of(c) for c in ("missed", "no_speech", "filed", "bogus")] == [
            "漏说",
            "无语音（未评分）",
            translate("to assign", "zh_CN"),
            "bogus",
        ]
        monkeypatch.setenv("QA_LOCALE", "en")
        get_settings.cache_clear()
        assert [name_of(c) for c in ("missed", "no_speech", "filed")] == [
            "missed",
            "no_speech",
            "filed",
        ]
    finally:
        get_settings.cache_clear()
