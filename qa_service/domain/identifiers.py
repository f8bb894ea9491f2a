"""Agent ids, project names and rubric ids: what every entry point accepts (rubric YAML `id`,
upload form fields, query and path parameters, sidecar metadata, the CLI).

They name rows, filters, jobs and URLs, so they are one short line of plain characters: at
most MAX_ID_LENGTH, letters of any script (坐席 and 项目 names in Chinese are fine), digits and
`_ - .`; no `/`, no `..`, no spaces or control characters. `care/../x` would be stored and then
unreachable by its own URL; a 500-character agent id breaks every list it is shown in.
"""

from __future__ import annotations

from qa_service.config import MAX_ID_LENGTH
from qa_service.i18n import message

ALLOWED_PUNCTUATION = "_-."


def identifier_problem(value: str) -> str | None:
    """Why `value` is not a valid identifier, or None when it is."""
    if not value:
        return message("must not be empty")
    if len(value) > MAX_ID_LENGTH:
        return message(
            "must be at most {max} characters (it has {n})", max=MAX_ID_LENGTH, n=len(value)
        )
    bad = next((c for c in value if not (c.isalnum() or c in ALLOWED_PUNCTUATION)), None)
    if bad is not None:
        shown = repr(bad) if bad.isprintable() and not bad.isspace() else ascii(bad)
        return message("may hold only letters, digits and _ - . (not {char})", char=shown)
    if ".." in value or value == ".":
        return message("must not be . or contain ..")
    return None


def valid_identifier(value: str) -> str:
    """`value` itself, or ValueError naming the problem (a pydantic validator)."""
    problem = identifier_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def optional_identifier(value: str | None) -> str | None:
    return None if value is None else valid_identifier(value)
