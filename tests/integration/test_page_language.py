"""Every page in the product's language: rendered in zh_CN no English words are left outside
an allowlist (formats, units, file types, product names, what the user typed); rendered with
QA_LOCALE=en, the pages whose words go through the catalog have no Chinese left outside
user data. The pages' own HTML (headings, labels, placeholders, titles) as the server sends
it; what the page scripts write is checked in a browser by tests/browser."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.app.people import create_user
from qa_service.config import Settings, get_settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from tests.support import RUBRICS, english_words, web_sign_in

RUBRIC_ID = "telecom-data-upgrade"
STAFF_PAGES = ["/queue", "/upload", "/task-queue", "/appeal-desk", "/sampling-plans",
               "/calibration", "/docs", "/dashboard", "/trial", "/wrapup",
               "/rubric-versions"]  # fmt: skip
AGENT_PAGES = ["/my/calls", "/my/appeals"]
# Pages whose words are not through the catalog yet: Chinese in every locale.
NOT_YET: list[str] = []
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


class Words(HTMLParser):
    """The text a person reads: text outside scripts and styles, and placeholders, titles. Text
    in <code> is what the user types (a YAML key), not a sentence of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):
            self.skip += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "alt", "aria-label") and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def words_of(html: str) -> list[str]:
    parser = Words()
    parser.feed(html)
    return parser.parts


def _app(tmp_path, url, monkeypatch, locale):
    monkeypatch.setenv("QA_LOCALE", locale)
    get_settings.cache_clear()
    store = Store(url)
    rubric = load_rubric(RUBRICS / f"{RUBRIC_ID}.yaml")
    store.rubrics.save(rubric, (RUBRICS / f"{RUBRIC_ID}.yaml").read_text(encoding="utf-8"))
    utts = [U("agent", 0.5, 2.0, "您好，我是中国电信客户经理"), U("customer", 2.5, 3.0, "不需要")]
    meta = CallMetadata(agent_id="A1", project="p", call_time=datetime(2026, 11, 20, 9))
    rec = store.recordings.save_transcript(
        "ab" * 32, "call.wav", meta, 4.0, 2, "stereo", "hand-made", utts
    )
    call = record_evaluation(store, rec.id, evaluate("call.wav", utts, 4.0, Scorer(rubric))).id
    create_user(store, "agent1", "agent-password-1", "agent", agent_id="A1")
    _, admin = create_key(store, "admin", "admin1")
    settings = Settings(database_url=url, redis_url="", storage_dir=tmp_path)
    return create_app(settings), admin, call


def _pages(app, admin, call) -> dict[str, str]:
    """Each page's HTML as the signed-in person it is for (the login page signed out)."""
    pages = {}
    with TestClient(app) as client:
        pages["/login"] = client.get("/login").text
        assert web_sign_in(client, api_key=admin).status_code == 303
        for path in [*STAFF_PAGES, *NOT_YET]:
            r = client.get(path.format(call=call))
            assert r.status_code == 200, (path, r.text)
            pages[path] = r.text
    with TestClient(app) as client:
        assert web_sign_in(client, name="agent1", password="agent-password-1").status_code == 303
        for path in AGENT_PAGES:
            r = client.get(path)
            assert r.status_code == 200, (path, r.text)
            pages[path] = r.text
    return pages


@pytest.fixture(autouse=True)
def _settings_again():
    yield
    get_settings.cache_clear()  # the next test reads its own QA_LOCALE


def test_every_page_reads_in_chinese(tmp_path, sqlite_url, monkeypatch):
    app, admin, call = _app(tmp_path, sqlite_url, monkeypatch, "zh_CN")
    english = {}
    for path, html in _pages(app, admin, call).items():
        assert '<html lang="zh-CN">' in html, path
        found = set().union(
            # names the user gave
            *(english_words(t, ("admin1", "agent1", "A1"), code=False) for t in words_of(html))
        )
        if found:
            english[path] = sorted(found)
    assert not english, english


def test_pages_read_in_english_with_qa_locale_en(tmp_path, sqlite_url, monkeypatch):
    app, admin, call = _app(tmp_path, sqlite_url, monkeypatch, "en")
    pages = _pages(app, admin, call)
    chinese = {}
    for path, html in pages.items():
        if path in NOT_YET:
            continue
        assert '<html lang="en">' in html, path
        found = [text for text in words_of(html) if CJK.search(text)]
        if found:
            chinese[path] = found
        assert '<script type="application/json" id="qa-messages">{}</script>' in html or (
            path in ("/login", "/docs")
        ), path  # English scripts need no messages: their msgids are English
    assert not chinese, chinese
    # the pages not through the catalog yet are listed, and still say Chinese
    for path in NOT_YET:
        assert any(CJK.search(t) for t in words_of(pages[path])), f"{path}: take it off NOT_YET"
