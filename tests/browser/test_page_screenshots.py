"""A full-page screenshot of every page of the web app at 1440x900 and 390x844, each signed in
as the person who uses it, over the sample calls plus what the QA loop adds (a sampling plan
and its tasks, a calibration session, appeals, a knowledge base, a second rubric version, an
hourly bulletin, a trial project of customers' words). docs/web-pages.md describes them.

Runs only when asked (it adds minutes and data to the session's shared service):

    QA_PAGE_SCREENSHOTS=1 python -m pytest -q tests/browser/test_page_screenshots.py

Images go to tests/browser/screenshots/pages/ (not committed), with pages.json: per image the
page's width against the screen's and the English words it shows."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, sign_in
from tests.support import english_words

SIZES = {"1440": {"width": 1440, "height": 900}, "390": {"width": 390, "height": 844}}
OUT = SCREENSHOTS / "pages"


def _wait(page):
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    page.wait_for_timeout(400)  # charts draw after the data


def _precision(page):
    rule = page.locator("#precision tbody tr").first
    if rule.count():
        rule.click()
        page.wait_for_timeout(400)


def _rubric_detail(page):
    page.locator("#rubrics tbody tr").first.click()
    expect(page.locator("#detail")).to_be_visible()


def _compare(page):
    page.select_option("#compare select[name=rubric]", "contract-care-call")
    page.fill("#compare input[name=from]", "1")
    page.fill("#compare input[name=to]", "9")
    page.click("#diff")
    expect(page.locator("#rule-diff")).to_be_visible()
    page.locator("#rule-diff").scroll_into_view_if_needed()


def _kb_detail(page):
    page.locator("#kbs tbody tr").first.click()
    expect(page.locator("#kb-facts tbody tr").first).to_be_visible()


def _bulletin(page):
    page.select_option("#inflight-project", "telecom-upgrade")
    expect(page.locator("#bulletin")).to_be_visible()
    page.wait_for_timeout(400)


def _pages(seeded):
    """(name, path, who signs in, what to do on the page first): who is a person of web_data's
    people, "admin" (an API key), or None (signed out)."""
    call, own, cal = seeded["call"], seeded["own_call"], seeded["calibration"]
    return [
        ("login", "/login", None, None),
        ("task-queue", "/task-queue", "reviewer", None),
        ("queue", "/queue", "reviewer", None),
        ("queue-sample", "/queue?tab=sample&project=telecom-upgrade", "reviewer", None),
        ("queue-all", "/queue?tab=all", "reviewer", None),
        ("search", "/queue?tab=all&q=套餐", "reviewer", None),
        ("call", f"/calls/{call}", "reviewer", None),
        ("upload", "/upload", "reviewer", None),
        ("calibration", "/calibration", "reviewer", None),
        ("calibration-session", f"/calibration?session={cal}", "reviewer", None),
        ("appeal-desk-reviewer", "/appeal-desk", "reviewer", None),
        ("dashboard", "/dashboard", "manager", None),
        ("dashboard-bulletin", "/dashboard", "manager", _bulletin),
        ("appeal-desk", "/appeal-desk", "manager", None),
        ("sampling-plans", "/sampling-plans", "manager", None),
        ("calibration-manager", "/calibration", "manager", None),
        ("calibration-report", f"/calibration?session={cal}", "manager", None),
        ("trial", "/trial?project=telecom-upgrade", "manager", None),
        ("trial-voice", "/trial?project=voice-web", "manager", None),
        ("wrapup", "/wrapup?project=telecom-upgrade", "manager", None),
        ("wrapup-voice", "/wrapup?project=voice-web", "manager", None),
        ("precision", "/precision", "manager", _precision),
        ("rubrics", "/rubric-versions", "admin", _rubric_detail),
        ("rubrics-compare", "/rubric-versions", "admin", _compare),
        ("knowledge", "/rubric-versions", "admin", _kb_detail),
        ("my-calls", "/my/calls", "agent", None),
        ("my-call", f"/calls/{own}", "agent", None),
        ("my-appeals", "/my/appeals", "agent", None),
        ("docs", "/docs", "admin", None),
    ]


def _parts(page, stem, viewport):
    """A tall page also in parts of about two screens, each readable in an image viewer."""
    high = page.evaluate("() => document.documentElement.scrollHeight")
    step = viewport["height"] * 3 // 2
    if high <= step * 1.2:
        return
    for n, top in enumerate(range(0, high, step), 1):
        clip = {"x": 0, "y": top, "width": viewport["width"], "height": min(step, high - top)}
        page.screenshot(path=f"{stem}-part{n}.png", full_page=True, clip=clip)


@pytest.mark.parametrize("size", list(SIZES))
def test_screenshot_every_page(browser, server, web_data, seeded, size):
    OUT.mkdir(parents=True, exist_ok=True)
    viewport, report, errors = SIZES[size], {}, {}
    contexts: dict = {}
    for name, path, who, action in _pages(seeded):
        if who not in contexts:
            contexts[who] = sign_in(browser, server, web_data, viewport, who)
        page = contexts[who][1]
        page.goto(server + path)
        if name == "docs":
            page.wait_for_selector(".swagger-ui .info .title")
        elif name != "login":
            _wait(page)
        if action:
            action(page)
        page.screenshot(path=str(OUT / f"{name}-{size}.png"), full_page=True)
        _parts(page, OUT / f"{name}-{size}", viewport)
        wide, inner = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        text = page.evaluate("""() => {
            const own = [...document.querySelectorAll('pre.yaml, textarea')];
            own.forEach(e => { e.dataset.shown = e.style.display; e.style.display = 'none'; });
            const text = document.body.innerText;
            own.forEach(e => { e.style.display = e.dataset.shown; });
            return text; }""")
        report[name] = {
            "path": path,
            "who": who,
            "page_width": wide,
            "screen_width": inner,
            "english": sorted(english_words(text, tuple(seeded["typed"]))),
        }
        if page.errors:
            errors[name] = list(page.errors)
            page.errors.clear()
    for context, _ in contexts.values():
        context.close()
    (OUT / f"pages-{size}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    assert not errors, errors
