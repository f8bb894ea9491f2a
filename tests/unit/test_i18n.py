"""The message catalog (qa_service/i18n): every message the package sends through it has its
Chinese, with the same fields; English is the message itself."""

from __future__ import annotations

import ast
import re
import string

from qa_service.i18n import VALIDATION, catalog, translate
from qa_service.metrics import wrapup
from tests.support import ROOT

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
    ]
    wanted = used_msgids() | set(labels)
    assert len(wanted) > 40
    missing = sorted(m for m in wanted if m not in zh)
    assert not missing, f"not in the zh_CN catalog: {missing}"
    for msgid in wanted:
        assert fields(zh[msgid]) == fields(msgid), msgid
        assert not re.search(r"[A-Za-z]{3,}", re.sub(r"\{[^}]*\}", "", zh[msgid])), zh[msgid]


def test_english_is_the_message_itself_and_fields_are_filled():
    msgid = "waited {seconds:.1f} s (limit {limit:g} s)"
    assert translate(msgid, "en", seconds=22.44, limit=15) == "waited 22.4 s (limit 15 s)"
    assert translate(msgid, "zh_CN", seconds=22.44, limit=15) == "让客户等待 22.4 秒（上限 15 秒）"
