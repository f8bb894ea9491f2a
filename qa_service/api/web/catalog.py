"""The pages' words through the message catalog (qa_service/i18n), so QA_LOCALE=en gives an
English web app: templates call `_()` (Jinja's i18n extension, its gettext the catalog's)
and page scripts call QA.t(), whose messages each page carries (base.html renders
script_messages() into it). Messages are English in the code, Chinese in the catalog."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from jinja2 import Environment

from qa_service.i18n import catalog, current_locale

HERE = Path(__file__).parent
# A msgid in a page script, t("...") (double quotes), and in a template, _("...").
SCRIPT_MSGID = re.compile(r'\bt\("((?:[^"\\]|\\.)*)"')
TEMPLATE_MSGID = re.compile(r'\b_\("((?:[^"\\]|\\.)*)"')


def gettext(msgid: str) -> str:
    return catalog(current_locale()).get(msgid, msgid)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


def _found(pattern: re.Pattern, folder: Path, glob: str) -> frozenset[str]:
    return frozenset(
        json.loads(f'"{m}"')
        for path in folder.glob(glob)
        for m in pattern.findall(path.read_text(encoding="utf-8"))
    )


@cache
def script_msgids() -> frozenset[str]:
    """Every msgid the page scripts pass to QA.t()."""
    return _found(SCRIPT_MSGID, HERE / "static", "*.js")


@cache
def template_msgids() -> frozenset[str]:
    return _found(TEMPLATE_MSGID, HERE / "templates", "*.html")


def script_messages() -> dict[str, str]:
    """What the page scripts say, in the service's language (msgid -> text; English: none)."""
    words = catalog(current_locale())
    return {m: words[m] for m in sorted(script_msgids()) if m in words}


def install(env: Environment) -> None:
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext=gettext, ngettext=ngettext, newstyle=True)
    env.globals["script_messages"] = script_messages
    env.globals["html_lang"] = lambda: "en" if current_locale() == "en" else "zh-CN"
