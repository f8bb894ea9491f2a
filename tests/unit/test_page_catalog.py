"""The web pages' words go through the message catalog: every _() of a template and every
QA.t() of a page script has its Chinese, with the same fields, and no English left in it."""

from __future__ import annotations

import re
import string

from qa_service.api.web.catalog import script_msgids, template_msgids
from qa_service.i18n import catalog
from tests.support import english_words

FIELDS = string.Formatter()


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in FIELDS.parse(text) if name}


def test_every_page_message_has_its_chinese():
    zh = catalog("zh_CN")
    wanted = template_msgids() | script_msgids()
    assert {"To review", "Upload recordings", "Loading failed: {error}"} <= wanted
    missing = sorted(m for m in wanted if m not in zh)
    assert not missing, f"not in the zh_CN catalog: {missing}"
    for msgid in wanted:
        assert fields(zh[msgid]) == fields(msgid), msgid
        words = english_words(re.sub(r"\{[^}]*\}", "", zh[msgid]), code=False)
        assert not words, (msgid, zh[msgid])


def test_the_scanners_find_what_pages_say():
    """The patterns read double-quoted msgids with escapes, and only _() and t() calls."""
    from qa_service.api.web.catalog import SCRIPT_MSGID, TEMPLATE_MSGID

    assert SCRIPT_MSGID.findall('x = t("say \\"hi\\"", {a}); at("no")') == ['say \\"hi\\"']
    assert TEMPLATE_MSGID.findall('{{ _("Sign in") }} {{ x_("no") }}') == ["Sign in"]
