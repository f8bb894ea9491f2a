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
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, SCREENSHOTS
from tests.support import RUBRICS, english_words

SIZES = {"1440": {"width": 1440, "height": 900}, "390": {"width": 390, "height": 844}}
OUT = SCREENSHOTS / "pages"


@pytest.fixture(scope="module")
def seeded(server, web_data):
    """The QA loop's data on top of the scored sample calls; returns what the pages open on."""
    from qa_service.app.keys import create_key
    from qa_service.app.people import authenticate
    from qa_service.worker.nightly import run_bulletins
    from tests.browser import test_customer_voice as voice

    store, people = web_data["store"], web_data["people"]
    admin = {"X-API-Key": web_data["keys"]["admin"]}

    def call(method, path, **kw):
        r = httpx.request(method, server + path, headers=kw.pop("headers", admin), **kw)
        assert r.status_code < 300, (path, r.text)
        return r.json()

    if voice.PROJECT not in {r["id"] for r in call("GET", "/rubrics")}:
        _voice_project(store, voice)  # customers' words (客户之声) in a trial project
    yaml_type = {**admin, "content-type": "application/yaml"}
    for kb in ("telecom-data-upgrade", "contract-care-call"):
        text = (RUBRICS / "kb" / f"{kb}.yaml").read_text(encoding="utf-8")
        call("POST", "/knowledge-bases", content=text.encode(), headers=yaml_type)
    text = (RUBRICS / "care-call.yaml").read_text(encoding="utf-8")  # a second version
    text = re.sub(r"^version: \d+", "version: 9", text, flags=re.M)
    text = text.replace("pass_score: 80", "pass_score: 70")
    call("POST", "/rubrics", content=text.encode(), headers=yaml_type)
    run_bulletins(store, datetime(2026, 11, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))

    reviewers = [people["reviewer"]["name"], people["reviewer2"]["name"]]
    plan = call(
        "POST",
        "/plans",
        json={
            "project": "telecom-upgrade",
            "name": "电信升级每周抽检",
            "criteria": {"random_percent": 100, "per": "week", "min_per_agent": 1},
            "reviewers": [{"name": n, "quota": 3} for n in reviewers],
        },
    )
    for day in ("2026-11-20", "2026-11-01"):
        call("POST", f"/plans/{plan['id']}/run", params={"day": day})
    calls = call("GET", "/evaluations", params={"page_size": 200})["items"]
    telecom = [c["evaluation_id"] for c in calls if c["project"] == "telecom-upgrade"]
    calibration = call(
        "POST",
        "/calibrations",
        json={
            "name": "十一月校准",
            "evaluation_ids": telecom[:2],
            "reviewers": reviewers,
        },
    )

    def key_of(name, role):  # an API key acting as this person
        user = authenticate(store, name, PASSWORD)
        return {"X-API-Key": create_key(store, role, name, user_id=user.id)[1]}

    # both reviewers judge the first call; the second disagrees on its last rule
    for n, name in enumerate(reviewers):
        mine = key_of(name, "reviewer")
        first = call("GET", f"/calibrations/{calibration['id']}", headers=mine)["calls"][0]
        values = {i["rule_id"]: i["allowed"][0] for i in first["items"]}
        values[first["items"][-2]["rule_id"]] = first["items"][-2]["allowed"][n % 2 - 1]
        call(
            "PUT",
            f"/calibrations/{calibration['id']}/scores",
            headers=mine,
            json={"evaluation_id": first["evaluation_id"], "values": values},
        )

    agent_id = people["agent"]["agent_id"]
    agent = key_of(people["agent"]["name"], "agent")
    own = [c for c in calls if c["agent_id"] == agent_id]
    bad = [
        (c["evaluation_id"], f["id"])
        for c in own
        for f in call("GET", f"/evaluations/{c['evaluation_id']}")["findings"]
        if f["source"] == "machine" and f["status"] in ("missed", "violation", "unhandled")
    ]
    reasons = ["这句话是客户说的，不是我说的", "我已经说明了资费，录音里能听到", "客户没有异议"]
    appeals = []
    for ev, fid in bad:  # a finding another test appealed and had ruled is not appealed again
        r = httpx.post(
            f"{server}/evaluations/{ev}/appeals",
            headers=agent,
            json={"target": "finding", "finding_id": fid, "reason": reasons[len(appeals)]},
        )
        if r.status_code == 201:
            appeals.append(r.json())
        if len(appeals) == len(reasons):
            break
    assert appeals, f"no finding to appeal among {agent_id}'s calls"
    for appeal in appeals[:2]:
        call("POST", f"/appeals/{appeal['id']}/assign", json={"reviewer": reviewers[0]})
    reviewer = key_of(reviewers[0], "reviewer")
    call(
        "POST",
        f"/appeals/{appeals[0]['id']}/ruling",
        headers=reviewer,
        json={"decision": "upheld", "comment": "复听确认：坐席确实漏说了资费"},
    )
    flagged = call("GET", "/flagged", params={"page_size": 100})["items"]
    worst = min(flagged, key=lambda i: i["score"] if i["score"] is not None else 999)
    return {
        "call": worst["evaluation_id"],
        "own_call": min(own, key=lambda c: c["score"] or 0)["evaluation_id"],
        "calibration": calibration["id"],
        "typed": [
            *web_data["projects"],
            *(c["agent_id"] or "" for c in calls),
            *(r["id"] for r in call("GET", "/rubrics")),
            *(k["id"] for k in call("GET", "/knowledge-bases")),
            voice.PROJECT,
            *[f"测试{role}" for role in ("viewer", "reviewer", "admin")],
        ],
    }


def _voice_project(store, voice):
    """test_customer_voice's hand-made trial calls (its fixture belongs to its module)."""
    from qa_service.app.evaluations import record_evaluation
    from qa_service.domain.metadata import CallMetadata
    from qa_service.rules.rubric import parse_rubric
    from qa_service.rules.scoring import Scorer, evaluate

    rubric = parse_rubric(voice.RUBRIC, "voice-web")
    store.rubrics.save(rubric, voice.RUBRIC)
    store.rubrics.activate(voice.PROJECT, rubric.id, rubric.version)
    for i, utts in enumerate(voice.CALLS):
        meta = CallMetadata(agent_id=f"V{i}", project=voice.PROJECT, phase="trial")
        rec = store.recordings.save_transcript(
            f"{0xE00 + i:064x}", f"voice-{i}", meta, 20.0, 2, "stereo", "hand-made", utts
        )
        record_evaluation(store, rec.id, evaluate(f"voice-{i}", utts, 20.0, Scorer(rubric)))


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


def _sign_in(browser, server, web_data, viewport, who):
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    if who is None:
        return context, page
    page.goto(server + "/login")
    if who == "admin":
        page.click(".key-login summary")
        page.fill("#api_key", web_data["keys"]["admin"])
    else:
        page.fill("#name", web_data["people"][who]["name"])
        page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)
    return context, page


@pytest.mark.parametrize("size", list(SIZES))
def test_screenshot_every_page(browser, server, web_data, seeded, size):
    OUT.mkdir(parents=True, exist_ok=True)
    viewport, report, errors = SIZES[size], {}, {}
    contexts: dict = {}
    for name, path, who, action in _pages(seeded):
        if who not in contexts:
            contexts[who] = _sign_in(browser, server, web_data, viewport, who)
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
