"""Prepared texts (matching.prepare) as stored with a transcript, so that rescoring a call
reads its normalized text, text as said and pinyin instead of computing them again: preparing
a text (cn2an, opencc, pypinyin) costs more than the checks that read it (decision 0032).

Invariant: `unpack(pack(texts)) == texts`, field for field, the syllable mask included; a
stored form is used only under the same FORM (the format and the normalization's code) and
the same versions of the libraries that prepared it, else the texts are prepared again.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from qa_service.rules.knowledge import ClauseForms
from qa_service.rules.matching import PreparedText, said_from, with_sound

# Bump FORM_REVISION whenever what matching.prepare or knowledge.clause_forms returns for a
# text changes (normalize.py, matching.prepare, the knowledge base's clauses): stored forms of
# the old revision are then prepared again. tests/unit/test_text_forms.py fails until it is
# bumped and its fingerprint recorded. Revision 2 added the agent's clause forms.
FORM_REVISION = 2
_LIBRARIES = ("pypinyin", "cn2an", "opencc")


def _library_versions() -> str:
    out = []
    for name in _LIBRARIES:
        try:
            out.append(f"{name}-{version(name)}")
        except PackageNotFoundError:
            out.append(f"{name}-?")
    return " ".join(out)


FORM = f"r{FORM_REVISION} {_library_versions()}"


def pack(texts: Sequence[PreparedText]) -> bytes | None:
    """The texts as one compressed JSON array of [norm, plain, said, pinyin] (said "" where it
    is norm), followed by [valued, stating] where a text carries its clause forms: the offsets
    into `said` and the syllable mask follow from the pinyin. None when a text's pinyin cannot
    be cut back into one syllable per character said (a syllable holding a space): such a
    transcript is prepared afresh each time."""
    rows = []
    for t in texts:
        if len(t.pinyin.split(" ") if t.said else ()) != len(t.said):
            return None
        row = [t.norm, t.plain, "" if t.said == t.norm else t.said, t.pinyin]
        if t.clauses is not None:
            row += [t.clauses.valued, t.clauses.stating]
        rows.append(row)
    return zlib.compress(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode())


def unpack(data: bytes) -> list[PreparedText] | None:
    """Texts as `pack` stored them, each equal to what matching.prepare returns (with the clause
    forms they were stored with); None for data that is not what `pack` writes (damaged): the
    texts are then prepared again."""
    try:
        return [_text(*row) for row in json.loads(zlib.decompress(data))]
    except (zlib.error, ValueError, TypeError, AttributeError):  # JSONDecodeError: ValueError
        return None


def _text(
    norm: str,
    plain: str,
    said: str,
    pinyin: str,
    valued: list[object] | None = None,
    stating: list[list[object]] | None = None,
) -> PreparedText:
    said = said or norm
    parts = pinyin.split(" ") if said else []
    if len(parts) != len(said):
        raise ValueError("a pinyin of other length than its text")
    forms = None
    if valued is not None or stating is not None:
        if valued is None or stating is None:
            raise ValueError("clause forms without their other half")
        forms = ClauseForms(
            tuple(_str(c) for c in valued),
            tuple((_str(a), _str(b), _bool(n), _str(k)) for a, b, n, k in stating),
        )
    return with_sound(norm, plain, said_from(said, parts), forms)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a clause that is not a string")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError("a negation that is not true or false")
    return value
