"""The message catalog: sentences people read (finding details, reports, page labels, errors,
CLI tables) in the product's language, zh-CN by default and English second (QA_LOCALE=en).

Messages are written in English in the code (the msgid, with `{name}` fields); the Chinese
lives in locale/zh_CN/LC_MESSAGES/messages.po, read with Babel, so translators work on a
standard gettext file. A message missing from the catalog reads in English: the unit tests
check that every msgid the package uses is translated.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from qa_service.config import get_settings
from qa_service.exceptions import use_catalog

HERE = Path(__file__).parent
DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")


def po_path(locale: str) -> Path:
    return HERE / "locale" / locale / "LC_MESSAGES" / "messages.po"


@cache
def catalog(locale: str) -> dict[str, str]:
    """msgid -> translation for a locale; English is the msgids themselves."""
    path = po_path(locale)
    if locale == "en" or not path.is_file():
        return {}
    with path.open("rb") as f:
        messages = read_po(f, locale=locale)
    return {
        m.id: m.string
        for m in messages
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
    }


def current_locale() -> str:
    locale = get_settings().locale.replace("-", "_")
    return locale if locale in LOCALES else DEFAULT_LOCALE


def message(msgid: str, **fields: Any) -> str:
    """The message in the service's language, its `{fields}` filled in."""
    text = catalog(current_locale()).get(msgid, msgid)
    return text.format(**fields) if fields else text


_ = message  # the gettext name, for modules that do not use `_` as a throwaway
use_catalog(message)  # the sentences of exceptions.py (a stage below) read in this language too


# Codes whose page name is not the code read as words: an appeal's states as the desk shows them.
NAMES = {"filed": "to assign", "assigned": "to rule"}


def name_of(code: str) -> str:
    """A code people read (a grade, a finding's status, an appeal's state: `no_speech`,
    `missed`) by the name the pages give it; the code itself where the catalog has none (and
    in English, where codes are what the API and the result spec say)."""
    return catalog(current_locale()).get(NAMES.get(code, code.replace("_", " ")), code)


def codes(values: Iterable[object]) -> str:
    """Codes a field takes, quoted as the user types them ('hit', 'missed'), in any language."""
    return ", ".join(repr(str(v)) for v in values)


def translate(msgid: str, locale: str, **fields: Any) -> str:
    """The message in a given locale (tests, and callers that choose per request)."""
    text = catalog(locale).get(msgid, msgid)
    return text.format(**fields) if fields else text


# pydantic's own sentences by error type (its English would otherwise reach the people who
# upload a rubric or knowledge base); errors our validators raise carry our message.
VALIDATION: dict[str, str] = {
    "missing": "field required",
    "string_type": "should be text",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "float_type": "should be a number",
    "float_parsing": "should be a number",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
    "list_type": "should be a list",
    "dict_type": "should be a mapping (key: value)",
    "model_type": "should be a mapping (key: value)",
    "model_attributes_type": "should be a mapping (key: value)",
    "extra_forbidden": "unknown field",
    "greater_than": "should be greater than {gt}",
    "greater_than_equal": "should be at least {ge}",
    "less_than": "should be less than {lt}",
    "less_than_equal": "should be at most {le}",
    "literal_error": "should be one of {expected}",
    "enum": "should be one of {expected}",
    "too_short": "should have at least {min_length} item(s)",
    "too_long": "should have at most {max_length} item(s)",
    "string_too_short": "should have at least {min_length} character(s)",
    "string_too_long": "should have at most {max_length} character(s)",
    "string_pattern_mismatch": "should match the pattern {pattern}",
    "datetime_parsing": "should be a date-time (2026-11-20 09:00:00)",
    "datetime_from_date_parsing": "should be a date-time (2026-11-20 09:00:00)",
    "datetime_type": "should be a date-time (2026-11-20 09:00:00)",
    "date_parsing": "should be a date (2026-11-20)",
    "date_from_datetime_parsing": "should be a date (2026-11-20)",
    "date_from_datetime_inexact": "should be a date (2026-11-20)",
    "date_type": "should be a date (2026-11-20)",
    "json_invalid": "is not valid JSON",
    "json_type": "is not valid JSON",
}


def validation_reason(err: Any) -> str:
    """A pydantic error's reason in the service's language."""
    msgid = VALIDATION.get(err.get("type", ""))
    if msgid is None:
        return str(err.get("msg", "")).removeprefix("Value error, ")
    ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
    if "expected" in ctx:  # pydantic's "'a', 'b' or 'c'": the values only, in any language
        ctx["expected"] = ctx["expected"].replace("' or '", "', '")
    try:
        return message(msgid, **ctx) if ctx else message(msgid)
    except (KeyError, IndexError):  # a context field the message does not expect
        return message(msgid.split(" {")[0]) if "{" in msgid else message(msgid)
