"""The web app's second pass (issue 25) in a real Chromium: every page on a phone and a wide
screen, and one test per defect the trial team found. Fixtures in conftest.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.support import english_words, said

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1440, "height": 900}


def _pages(api_get) -> dict[str, str]:
    """Every page of the app by a short name (the call page on a scored sample call)."""
    call = api_get("/evaluations?page_size=1")["items"][0]["evaluation_id"]
    return {
        "queue": "/queue",
        "call": f"/calls/{call}",
        "dashboard": "/dashboard",
        "trial": "/trial",
        "wrapup": "/wrapup",
        "precision": "/precision",
        "rubrics": "/rubric-versions",
        "upload": "/upload",
        "tasks": "/task-queue",
        "plans": "/sampling-plans",
        "calibration": "/calibration",
        "appeal-desk": "/appeal-desk",
    }


# The agent's own pages (坐席): their calls and their appeals, signed in with name and password.
AGENT_PAGES = {"my-calls": "/my/calls", "my-appeals": "/my/appeals"}


def _open(browser, server, web_data, viewport, role="admin", locale="zh-CN", person=None):
    """A signed-in page: with `role`'s API key, or as `person` (web_data's people) by name and
    password."""
    context = browser.new_context(viewport=viewport, locale=locale, timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(server + "/login")
    if person:
        page.fill("#name", web_data["people"][person]["name"])
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
    else:
        page.click(".key-login summary")  # keys sign in under 使用 API 密钥登录
        page.fill("#api_key", web_data["keys"][role])
        page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)
    return context, page


def _overflow(page) -> tuple[int, int]:
    return page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["390", "1440"])
def test_every_page_fits_the_screen_width(browser, server, web_data, api_get, shot, viewport):
    """Defect 1: no page is wider than the screen, on a phone (390 px) or a wide screen."""
    width = viewport["width"]
    login = browser.new_page(viewport=viewport)
    login.goto(server + "/login")
    wide, inner = _overflow(login)
    assert wide <= inner, f"login is {wide} px wide at {inner} px"
    shot(login, f"login-{width}")
    login.close()
    too_wide = {}
    # the agent's own failed call: its appeal form is on the page too
    own = api_get(f"/evaluations?agent={web_data['people']['agent']['agent_id']}")["items"]
    failed = min(own, key=lambda i: i["score"] or 0)["evaluation_id"]
    agent_pages = {**AGENT_PAGES, "my-call": f"/calls/{failed}"}
    if not api_get("/plans", role="reviewer"):  # a plan, so that 抽检计划 has its row's form
        import httpx

        plan = {"project": "telecom-upgrade", "name": "每日抽检", "reviewers": []}
        r = httpx.post(
            server + "/plans", headers={"X-API-Key": web_data["keys"]["admin"]}, json=plan
        )
        assert r.status_code == 201, r.text
    for person, pages in ((None, _pages(api_get)), ("agent", agent_pages)):
        context, page = _open(browser, server, web_data, viewport, person=person)
        for name, path in pages.items():
            page.goto(server + path)
            page.wait_for_selector("body[data-loaded='1']", state="attached")
            page.wait_for_timeout(300)  # charts draw after the data
            wide, inner = _overflow(page)
            if wide > inner:
                too_wide[name] = wide
            # the navigation never covers the page's content
            nav = page.locator("header.top").bounding_box()
            main = page.locator("main").bounding_box()
            assert nav["y"] + nav["height"] <= main["y"] + 1, name
            # the current page's entry of the navigation is on the screen (it scrolls sideways)
            here = page.locator("header.top nav a.active")
            if here.count():
                box = here.bounding_box()
                assert 0 <= box["x"] and box["x"] + box["width"] <= width, (name, box)
            _page_checks(page, name, width, api_get)
            shot(page, f"{name}-{width}")
        assert page.errors == [], (person, page.errors)
        context.close()
    assert not too_wide, f"wider than {width} px: {too_wide}"
    context, page = _open(browser, server, web_data, viewport)
    page.goto(server + "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    wide, inner = _overflow(page)
    assert wide <= inner, f"/docs is {wide} px wide at {inner} px"
    shot(page, f"docs-{width}")
    assert page.errors == []
    context.close()


def _page_checks(page, name, width, api_get):
    """What the screenshots of every page (test_page_screenshots.py) showed wrong once."""
    if name == "dashboard":
        # every bar keeps its label on a phone too (ECharts dropped every other one)
        interval = page.evaluate(
            """() => echarts.getInstanceByDom(document.querySelector('#chart-rates'))
                .getOption().xAxis[0].axisLabel.interval"""
        )
        assert interval == 0, interval
        if width >= 1366:  # the six KPI cards are one row on a wide screen, not five and one
            tops = {round(b["y"]) for b in _boxes(page, "#kpi-cards > *")}
            assert len(tops) == 1, tops
    if name == "plans":  # the run day reads 年-月-日 as on the other pages, not mm/dd/yyyy
        day = page.locator(".run-day").first
        assert day.get_attribute("type") == "text"
        assert re.fullmatch(said("yyyy-mm-dd"), day.get_attribute("placeholder"))
    if name == "trial":  # the guide map's words (points, quadrants) never cover each other
        labels = _chart_labels(page, "#guide-map")
        met = [
            (a["text"], b["text"])
            for i, a in enumerate(labels)
            for b in labels[i + 1 :]
            if a["x"] < b["x"] + b["w"] - 1
            and b["x"] < a["x"] + a["w"] - 1
            and a["y"] < b["y"] + b["h"] - 1
            and b["y"] < a["y"] + a["h"] - 1
        ]
        assert labels and not met, met
    if name == "call":  # the grade form starts at the call's grade, not at 优秀
        ev = api_get("/evaluations/" + page.url.rsplit("/", 1)[1])
        shown = (ev.get("reviewed") or ev["machine"])["grade"]
        assert page.input_value("#grade-value") == shown


def _chart_labels(page, selector):
    """The labels an ECharts chart drew for its data and areas (not its axes), on the page."""
    return page.evaluate(
        """(selector) => {
        const chart = echarts.getInstanceByDom(document.querySelector(selector));
        // a label is a text of a data element (an axis's text has none), drawn as its lines
        const labels = new Set();
        for (const el of chart.getZr().storage.getDisplayList(true)) {
          const text = el.type === 'tspan' ? el.parent : null;
          if (text && text.__hostTarget && !text.ignore && !text.invisible) labels.add(text);
        }
        return [...labels].map((el) => {
          const r = el.getBoundingRect().clone();
          r.applyTransform(el.getComputedTransform());
          return {text: el.style.text, x: r.x, y: r.y, w: r.width, h: r.height};
        }); }""",
        selector,
    )


def _boxes(page, selector):
    found = page.locator(selector)
    return [found.nth(i).bounding_box() for i in range(found.count())]


def test_api_docs_load_from_the_package_on_an_offline_site(browser, server, shot):
    """Defect 14: /docs draws Swagger UI from the package's own files, under the site's CSP;
    no request leaves the site."""
    page = browser.new_page(viewport=WIDE)
    elsewhere, errors = [], []
    page.on("request", lambda r: None if r.url.startswith(server) else elsewhere.append(r.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    answer = page.goto(server + "/docs")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("qa-service")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    assert elsewhere == [] and errors == []
    shot(page, "docs")
    page.close()


def _admin_rubrics(browser, server, web_data):
    context, page = _open(browser, server, web_data, WIDE)
    page.goto(server + "/rubric-versions")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    return context, page


def test_reuploading_an_unchanged_version_says_nothing_was_saved(browser, server, web_data):
    """Defect 12: the same v1 again is not reported as saved."""
    from tests.support import RUBRICS

    context, page = _admin_rubrics(browser, server, web_data)
    page.fill("#upload-yaml", (RUBRICS / "care-call.yaml").read_text(encoding="utf-8"))
    page.click("#upload")
    status = page.locator("#upload-status")
    expect(status).to_contain_text("没有新版本")
    assert "已保存" not in status.inner_text()
    assert page.errors == []
    context.close()


def test_rescore_progress_ends_when_the_job_finishes(browser, server, web_data, api_get):
    """Defect 3: rescoring with a version that is not active (its evaluations are not the
    calls' current ones) counts them and stops when the job has finished."""
    from tests.support import RUBRICS

    project = next(p for p, r in web_data["projects"].items() if r == "contract-care-call")
    text = (RUBRICS / "care-call.yaml").read_text(encoding="utf-8")
    # v3: test_web_reviews.py finds its own upload as the one "v2" row
    text = re.sub(r"^version: \d+", "version: 3", text, flags=re.M)
    context, page = _admin_rubrics(browser, server, web_data)
    page.fill("#upload-yaml", text)
    page.click("#upload")
    expect(page.locator("#upload-status")).to_contain_text("已保存")
    page.locator("#rubrics tbody tr", has_text="contract-care-call").filter(has_text="v3").click()
    expect(page.locator("#detail-title")).to_contain_text("v3")
    page.fill("#act-project", project)
    page.click("#rescore")
    status = page.locator("#rescore-status[data-done='1']")
    expect(status).to_be_visible(timeout=60_000)
    done, total = map(int, re.search(r"(\d+) / (\d+)", status.inner_text()).groups())
    assert done == total >= 1
    assert api_get(f"/evaluations?project={project}")["items"][0]["rubric"]["version"] == 1
    assert page.errors == []
    context.close()


def _add_call(web_data, agent: str, project: str):
    """A scored call of the telecom rubric with this agent id and project (two utterances)."""
    from qa_service.app.evaluations import record_evaluation
    from qa_service.domain.metadata import CallMetadata
    from qa_service.domain.results import Utterance
    from qa_service.rules.rubric import load_rubric
    from qa_service.rules.scoring import Scorer, evaluate
    from tests.support import RUBRICS, SAMPLES

    store = web_data["store"]
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    audio = next((SAMPLES / rubric.id).glob("*.wav"))
    utterances = [
        Utterance("agent", 0.5, 2.0, "您好，我是中国电信客户经理", 0.9),
        Utterance("customer", 2.5, 3.5, "你好", 0.9),
    ]
    digest = (agent.encode().hex() + "0" * 64)[:64]
    rec = store.recordings.save_transcript(
        digest, str(audio), CallMetadata(agent, project), 4.0, 2, "stereo", "test", utterances
    )
    return record_evaluation(store, rec.id, evaluate(str(audio), utterances, 4.0, Scorer(rubric)))


def test_dashboard_axis_shows_an_agent_id_as_typed(browser, server, web_data):
    """Defect 6: an agent id with < and > is shown as written on the chart's axis (the canvas
    draws text; only the tooltip's HTML is escaped). Defect 13: the in-flight heading says the
    hours after launch."""
    _add_call(web_data, "A<9>", "escape-test")
    context, page = _open(browser, server, web_data, WIDE, role="viewer")
    page.goto(server + "/dashboard")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    expect(page.locator("main")).to_contain_text("上线后前 2 / 4 / 6 小时")
    assert "上线前" not in page.inner_text("main")
    page.evaluate("document.body.dataset.loaded = ''")
    page.select_option("select[name=group_by]", "agent")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    labels = page.evaluate(
        """() => echarts.getInstanceByDom(document.querySelector('#chart-rates'))
            .getOption().xAxis[0].data"""
    )
    assert "A<9>" in labels and not any("&#" in str(x) for x in labels), labels
    assert page.errors == []
    context.close()


def test_guide_map_shows_every_point_and_no_unknown_rate_as_zero(
    browser, server, web_data, api_get, shot
):
    """Defect 4: points at the same place are one marker named by all; an unknown response
    rate is listed under the map, not drawn at 0%."""
    context, page = _open(browser, server, web_data, WIDE, role="viewer")
    page.goto(server + "/trial")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    project = page.input_value("#t-project")
    phase = page.input_value("select[name=phase]")
    api = api_get(f"/projects/{project}/trial?phase={phase}")["guide_map"]
    data = page.evaluate(
        """() => echarts.getInstanceByDom(document.querySelector('#guide-map'))
            .getOption().series[0].data.map(d => ({name: d.name, value: d.value}))"""
    )
    places = [tuple(d["value"]) for d in data]
    assert len(places) == len(set(places)), "two markers at one place"
    drawn = {n for d in data for n in d["name"].split("、")}
    unknown = [p for p in api if p["positive_rate"] is None]
    for p in api:
        name = p["name"] or p["point_id"]
        if p["positive_rate"] is None:
            assert name not in drawn
            expect(page.locator("#guide-unknown")).to_contain_text(name)
        else:
            assert name in drawn
    if not unknown:
        expect(page.locator("#guide-unknown")).to_have_text("")
    shot(page, "trial-guide-map")
    # 项目总结's guide-map table gives such a point no quadrant either
    page.goto(server + f"/wrapup?project={project}")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    wrapup = api_get(f"/projects/{project}/wrapup")["guide_map"]
    for p in wrapup:
        row = page.locator(f"#w-guide tr[data-point='{p['point_id']}']")
        if p["positive_rate"] is None:
            expect(row).to_contain_text("无法判断")
        else:
            expect(row).to_contain_text("象限")
    assert page.errors == []
    context.close()


def test_highlight_plays_its_words_and_pauses(browser, server, web_data):
    """Defect 7: a highlight's ▶ plays from its start to its end and then stops; pressed while
    playing it pauses."""
    context, page = _open(browser, server, web_data, WIDE, role="viewer")
    page.goto(server + "/trial")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    # the library keeps passed successes only: the agent's own good trial call has highlights
    page.select_option("select[name=project]", "telecom-upgrade")
    page.select_option("select[name=phase]", "")
    # the first load is drawn: the button to press is the one the submitted filters draw
    page.evaluate("() => { document.body.dataset.loaded = ''; }")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    button = page.locator("#highlights button.play").first
    button.click()
    page.wait_for_function("() => !document.getElementById('clip').paused")
    expect(button).to_have_text("❚❚")
    button.click()
    page.wait_for_function("() => document.getElementById('clip').paused")
    expect(button).to_have_text("▶")
    button.click()
    page.wait_for_function("() => !document.getElementById('clip').paused")
    # it stops on its own at the highlight's end, long before the recording's end
    page.wait_for_function("() => document.getElementById('clip').paused", timeout=30_000)
    expect(button).to_have_text("▶")
    at = page.evaluate("() => document.getElementById('clip').currentTime")
    assert abs(at - float(button.get_attribute("data-end"))) < 0.6, at
    assert page.errors == []
    context.close()


def test_add_finding_form_starts_at_zero_keeps_the_rule_and_quotes_the_span(
    browser, server, web_data, api_get, open_call
):
    """Defect 9: 开始 shows 0.0 before playing; after 补充 the chosen rule stays; the evidence
    is what was said in the span (the utterance heard), not the next utterance."""
    items = api_get("/evaluations?page_size=100")["items"]
    for item in items:
        ev = api_get(f"/evaluations/{item['evaluation_id']}")
        found = {f["rule_id"] for f in ev["findings"]}
        free = [r["rule_id"] for r in ev["rules"] if r["rule_id"] not in found]
        said = api_get(f"/recordings/{ev['recording_id']}/transcript")
        if free and len(said) >= 4:
            break
    context, page = _open(browser, server, web_data, WIDE, role="reviewer")
    open_call(page, ev["id"])
    expect(page.locator("#add-start")).to_have_value("0.0")
    heard, after = said[2], said[3]
    page.locator("#transcript .utt").nth(2).click()  # plays from the third utterance
    page.click("#play")  # pause
    page.wait_for_function("() => document.getElementById('audio').paused")
    page.evaluate(f"document.getElementById('audio').currentTime = {heard['start'] + 0.1}")
    page.wait_for_function(
        f"() => Math.abs(parseFloat(document.getElementById('add-start').value) - "
        f"{heard['start'] + 0.1}) < 0.11"
    )
    page.select_option("#add-rule", free[0])
    page.fill("#add-comment", "机器漏检")
    page.click("#add-finding")
    added = page.locator(f"#findings .finding[data-rule='{free[0]}'] .ev")
    expect(added).to_contain_text(heard["text"])
    text = added.inner_text()
    assert after["text"] not in text or after["text"] in heard["text"], text
    assert "any" not in text and "agent" not in text
    assert page.input_value("#add-rule") == free[0]  # the rule stays chosen
    expect(page.locator("#add-comment")).to_have_value("")
    assert page.errors == []
    context.close()


def test_pages_open_on_the_busiest_then_the_last_project(browser, server, web_data, api_get):
    """Defect 10: with nothing chosen yet, pages open on the project with the most calls; once
    the user picks a project, the other pages open on it and on its rubric; a rubric with one
    version offers nothing to compare."""
    rows = api_get("/kpis?group_by=project")
    busiest = max(rows, key=lambda r: r["evaluated"])["project"]
    survey = next(
        p for p, r in web_data["projects"].items() if r == "broadband-satisfaction-survey"
    )
    context, page = _open(browser, server, web_data, WIDE, role="admin")

    def visit(path):
        page.goto(server + path)
        page.wait_for_selector("body[data-loaded='1']", state="attached")

    visit("/wrapup")
    assert page.input_value("#w-project") == busiest
    visit("/dashboard")
    expect(page.locator("#inflight-project")).to_have_value(busiest)
    visit("/wrapup")
    page.select_option("#w-project", survey)
    visit("/dashboard")
    expect(page.locator("#inflight-project")).to_have_value(survey)
    visit("/precision")
    assert page.input_value("select[name=rubric_id]") == "broadband-satisfaction-survey"
    visit("/rubric-versions")
    compare = page.locator("#compare")
    assert compare.locator("select[name=rubric]").input_value() == "broadband-satisfaction-survey"
    assert compare.locator("input[name=from]").input_value() == "1"
    assert compare.locator("input[name=to]").input_value() == "1"
    expect(compare.locator("button[type=submit]")).to_be_disabled()
    expect(compare).to_contain_text("只有 v1")
    assert page.errors == []
    context.close()


def test_trial_comparison_counts_the_phase_it_shows(browser, server, web_data, api_get):
    """Defect 11: the version comparison on 试呼分析 compares the phase the page shows (the
    telecom project has one 试呼 call among its calls)."""
    import time

    import httpx

    from tests.support import RUBRICS

    project, rubric = "telecom-upgrade", "telecom-data-upgrade"
    admin = {"X-API-Key": web_data["keys"]["admin"]}
    text = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^version: \d+", "version: 7", text, flags=re.M)
    r = httpx.post(
        server + "/rubrics",
        content=text.encode(),
        headers={**admin, "Content-Type": "application/yaml"},
    )
    assert r.status_code in (200, 201), r.text
    job = httpx.post(f"{server}/rubrics/{rubric}/7/rescore?project={project}", headers=admin)
    job_id = job.json()["job_id"]
    for _ in range(120):
        if api_get(f"/jobs/{job_id}")["status"] in ("finished", "failed"):
            break
        time.sleep(0.5)
    context, page = _open(browser, server, web_data, WIDE, role="viewer")
    page.goto(server + f"/trial?project={project}")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    assert page.input_value("select[name=phase]") == "trial"
    page.select_option("#compare select[name=rubric]", rubric)
    page.fill("#compare input[name=from]", "1")
    page.fill("#compare input[name=to]", "7")
    page.click("#compare button[type=submit]")
    trial = api_get(f"/rubrics/{rubric}/compare?from=1&to=7&project={project}&phase=trial")
    everything = api_get(f"/rubrics/{rubric}/compare?from=1&to=7&project={project}")
    assert 1 <= trial["calls"] < everything["calls"]
    summary = page.locator("#compare-out p").first
    expect(summary).to_contain_text(f"通话 {trial['calls']} 通")
    expect(summary).to_contain_text("试呼")
    assert page.errors == []
    context.close()


def test_dates_are_chinese_year_month_day_in_an_english_browser(browser, server, web_data):
    """Defect 15: in a browser set to English the date filters read 年-月-日 and the calendar
    is in Chinese; a typed 2026/11/5 becomes 2026-11-05."""
    context, page = _open(browser, server, web_data, WIDE, role="viewer", locale="en-US")
    page.goto(server + "/queue")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    since = page.locator("#filters input[name=since]")
    assert since.get_attribute("placeholder") == "年-月-日"
    since.click()
    calendar = page.locator(".datepicker")
    expect(calendar).to_contain_text("年")
    expect(calendar.locator(".dp-w").first).to_have_text("日")
    calendar.locator("button.day", has_text="20").first.click()
    assert since.input_value().endswith("-20") and len(since.input_value()) == 10
    until = page.locator("#filters input[name=until]")
    until.fill("2026/11/5")
    until.press("Tab")
    expect(until).to_have_value("2026-11-05")
    page.click("#filters button[type=submit]")
    page.wait_for_url(lambda u: "until=2026-11-05" in u)
    assert page.errors == []
    context.close()


def test_knowledge_bases_load_when_served_from_another_folder(
    browser, server, web_data, tmp_path, monkeypatch
):
    """Defect 16: a service started outside the repository still finds the rubrics' knowledge
    bases: a rubric naming one uploads, and the 项目总结 page loads."""
    from qa_service.config import get_settings
    from tests.support import RUBRICS

    text = (RUBRICS / "care-call.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^version: \d+", "version: 5", text, flags=re.M)
    monkeypatch.delenv("QA_KNOWLEDGE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()  # the settings as a service started here reads them
    try:
        context, page = _admin_rubrics(browser, server, web_data)
        page.fill("#upload-yaml", text)
        page.click("#upload")
        expect(page.locator("#upload-status")).to_contain_text("已保存")
        page.goto(server + "/wrapup?project=telecom-upgrade")
        page.wait_for_selector("body[data-loaded='1']", state="attached")
        # the knowledge base read from its file, named by its own name and version
        expect(page.locator("#w-summary")).to_contain_text("知识库 畅享套餐 v1")
        assert page.errors == []
        context.close()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


# The words scan is the shared one (tests/support.english_words, its allowlist); ids people
# typed (projects, rubrics, agents, key names, knowledge-base paths) come from the data itself.
ROOT = Path(__file__).resolve().parents[2]


def test_every_page_and_report_reads_in_chinese(browser, server, web_data, api_get):
    """Defect 5: no English on any page or wrap-up report in zh-CN (finding details, evidence
    roles, highlight types, rule ids in the trail, upload errors, the Markdown headings)."""
    import httpx

    rubrics = api_get("/rubrics")
    projects = [r["project"] for r in api_get("/kpis?group_by=project") if r["project"]]
    calls = api_get("/evaluations?page_size=200")["items"]
    typed = [*projects, *(r["id"] for r in rubrics), *(c["agent_id"] or "" for c in calls)]
    typed += [f"测试{role}" for role in ("viewer", "reviewer", "admin")]
    typed += ["kb/telecom-data-upgrade.yaml", "kb/contract-care-call.yaml"]
    typed += ["kb/broadband-satisfaction-survey.yaml"]
    # knowledge-base ids as the admin named them, and the rubric key that names one
    typed += [kb["id"] for kb in api_get("/knowledge-bases")] + ["knowledge_base"]
    typed += [
        yaml.safe_load(path.read_text(encoding="utf-8"))["id"]
        for path in (ROOT / "rubrics" / "kb").glob("*.yaml")
    ]  # the ids the rubrics' knowledge-base files give themselves (named in fact findings)
    # the YAML keys of the upload below: where a mistake is, as the admin wrote it
    typed += ["mandatory_points", "scoring.pass", "weight", "'pass'", "'scoring'", "id=a"]
    context, page = _open(browser, server, web_data, WIDE, role="admin")
    # a reviewer-added finding on one call, so its evidence and trail are on the page too
    call = calls[0]["evaluation_id"]
    ev = api_get(f"/evaluations/{call}")
    found = {f["rule_id"] for f in ev["findings"]}
    free = [r["rule_id"] for r in ev["rules"] if r["rule_id"] not in found]
    headers = {"X-API-Key": web_data["keys"]["admin"]}
    if free:
        httpx.post(
            f"{server}/evaluations/{call}/reviews",
            headers=headers,
            json={
                "target": "finding",
                "action": "add",
                "rule_id": free[0],
                "value": "missed" if "missed" in str(ev["rules"]) else "violation",
                "start": 1.0,
                "end": 3.0,
                "comment": "漏检",
            },
        )
    english: dict[str, set[str]] = {}

    def scan(name: str, text: str) -> None:
        words = english_words(text, tuple(typed))
        if words:
            english[name] = words

    paths = {
        "queue": "/queue",
        "queue-all": "/queue?tab=all",
        "dashboard": "/dashboard",
        "trial": "/trial",
        "precision": "/precision",
        "rubrics": "/rubric-versions",
        "upload": "/upload",
        "tasks": "/task-queue",
        "plans": "/sampling-plans",
        "calibration": "/calibration",
        "appeal-desk": "/appeal-desk",
    }
    paths |= {f"wrapup {p}": f"/wrapup?project={p}" for p in projects}
    paths |= {f"call {c['evaluation_id']}": f"/calls/{c['evaluation_id']}" for c in calls}
    for name, path in paths.items():
        page.goto(server + path)
        page.wait_for_selector("body[data-loaded='1']", state="attached")
        page.wait_for_timeout(200)
        # the rubric's own YAML is what the admin wrote, not the page's words
        scan(
            name,
            # read as laid out (a detached copy has no layout: its blocks would run together)
            page.evaluate("""() => {
            const own = [...document.querySelectorAll(
              '#yaml, #upload-yaml, #upload-view, textarea')];
            const shown = own.map(e => e.style.display);
            own.forEach(e => { e.style.display = 'none'; });
            const text = document.body.innerText;
            own.forEach((e, i) => { e.style.display = shown[i]; });
            return text; }"""),
        )
    # an upload with mistakes: the reasons read in Chinese
    page.goto(server + "/rubric-versions")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    page.fill(
        "#upload-yaml",
        "id: x\nversion: 1\nscoring: {total: 100, pass: 60}\n"
        "mandatory_points:\n  - id: a\n    any: [你好]\n    weight: ten\n",
    )
    page.click("#upload")
    expect(page.locator("#problems li").first).to_be_visible()
    scan("upload errors", page.inner_text("#problems") + page.inner_text("#upload-status"))
    for p in projects:
        report = httpx.get(f"{server}/projects/{p}/wrapup?format=markdown", headers=headers)
        scan(f"wrap-up report {p}", report.text)
    # a review the API refuses: the sentence the page shows in its toast
    refused = httpx.post(
        f"{server}/evaluations/{call}/reviews",
        headers=headers,
        json={"target": "grade", "action": "override", "value": "pass", "comment": ""},
    )
    assert refused.status_code >= 400
    scan("review refused", refused.json()["detail"])
    page.goto(server + "/login")
    scan("login", page.inner_text("body"))
    context.close()
    assert not english, english


def test_kpis_errors_and_calls_export_to_excel_with_chinese_intact(
    browser, server, web_data, api_get
):
    """Export: the dashboard's KPI and error tables and the queue's calls download as XLSX
    and CSV (UTF-8 with BOM) that open in Excel with their Chinese."""
    import csv
    import io

    from openpyxl import load_workbook

    context, page = _open(browser, server, web_data, WIDE, role="viewer")
    page.goto(server + "/dashboard")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    with page.expect_download() as got:
        page.click("#export-kpis-xlsx")
    sheet = load_workbook(io.BytesIO(got.value.path().read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("项目", "通数") and "机器质检合格率 (%)" in rows[0]
    assert len(rows) - 1 == len(api_get("/kpis?group_by=project"))
    with page.expect_download() as got:
        page.click("#export-errors-csv")
    raw = open(got.value.path(), "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    errors = api_get("/kpis/errors?limit=200")
    assert table[0][0] == "规则" and len(table) - 1 == len(errors)
    assert table[1][0] == (errors[0]["name"] or errors[0]["rule_id"])
    page.goto(server + "/queue?tab=all")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    with page.expect_download() as got:
        page.click("#export-calls-xlsx")
    book = load_workbook(io.BytesIO(got.value.path().read_bytes()))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "通话时间"
    assert len(rows) - 1 == api_get("/evaluations?page_size=1")["total"]
    assert {r[5] for r in rows[1:]} <= {"优秀", "合格", "不合格", "无语音（未评分）"}
    assert page.errors == []
    context.close()


def test_call_page_plays_faster_and_finds_words_in_the_transcript(
    browser, server, web_data, api_get, open_call
):
    """Call page: the score's breakdown at the top; playback speed 1×/1.25×/1.5×/2×; a
    search inside the transcript marks the utterances with the words and Enter plays from
    the first of them."""
    for call in api_get("/evaluations?page_size=100")["items"]:
        said = api_get(f"/recordings/{call['recording_id']}/transcript")
        target = next((u for u in said[2:] if len(u["text"]) >= 4), None)
        if target:
            break
    words = target["text"][:4]
    context, page = _open(browser, server, web_data, WIDE, role="viewer")
    open_call(page, call["evaluation_id"])
    # the score's breakdown at the top: every deduction, largest first
    cuts = [
        f
        for f in api_get(f"/evaluations/{call['evaluation_id']}")["findings"]
        if f["deduction"] > 0
    ]
    shown = page.locator("#breakdown a.cut")
    expect(shown).to_have_count(len(cuts))
    amounts = [
        float(x)
        for x in page.eval_on_selector_all(
            "#breakdown a.cut", "els => els.map(e => e.dataset.deduction)"
        )
    ]
    assert amounts == sorted((f["deduction"] for f in cuts), reverse=True)
    page.click(".speed[data-rate='1.5']")
    assert page.evaluate("document.getElementById('audio').playbackRate") == 1.5
    expect(page.locator(".speed.active")).to_have_text("1.5×")
    page.fill("#t-search", words)
    hits = page.locator("#transcript .utt.hit")
    expected = [u for u in said if words in u["text"]]
    expect(hits).to_have_count(len(expected))
    page.press("#t-search", "Enter")
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('audio').currentTime - {expected[0]['start']})"
        " < 0.3"
    )
    expect(page.locator("#t-hits")).to_contain_text(f"第 1 / {len(expected)} 处")
    assert page.errors == []
    context.close()


def test_skip_silence_jumps_over_a_pause(browser, server, web_data, api_get, open_call):
    """Call page: with 跳过静音 on, playback in a long pause jumps to the next utterance."""
    for call in api_get("/evaluations?page_size=100")["items"]:
        said = api_get(f"/recordings/{call['recording_id']}/transcript")
        covered, gap = 0.0, None
        for u in said:
            if u["start"] - covered > 3.0 and covered > 0:
                gap = (covered, u["start"])
                break
            covered = max(covered, u["end"])
        if gap:
            break
    else:
        pytest.skip("no sample call with a pause of over 3 s")
    context, page = _open(browser, server, web_data, WIDE, role="viewer")
    open_call(page, call["evaluation_id"])
    page.check("#skip-silence")
    page.evaluate(f"document.getElementById('audio').currentTime = {gap[0] + 0.3}")
    page.click("#play")
    # real time would need the whole pause; the jump takes a moment
    page.wait_for_function(
        f"() => document.getElementById('audio').currentTime >= {gap[1] - 0.3}", timeout=1500
    )
    page.click("#play")
    assert page.errors == []
    context.close()


def test_dashboard_drills_down_to_the_calls_and_trends_by_day(browser, server, web_data, api_get):
    """Drill-down: a point of a chart opens the list of its calls, an error row the flagged
    calls of its rule; the pass and excellent rates by day are drawn."""
    context, page = _open(browser, server, web_data, WIDE, role="viewer")
    page.goto(server + "/dashboard")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    days = api_get("/kpis?group_by=day")
    trend = page.evaluate(
        """() => echarts.getInstanceByDom(document.querySelector('#chart-trend'))
            .getOption().series.map(s => s.data.length)"""
    )
    assert trend == [len(days)] * 3  # 监听合格率, 机器质检合格率, 质检优秀率
    first = api_get("/kpis?group_by=project")[0]["project"]
    x, y = page.evaluate(
        """() => {
            const el = document.querySelector('#chart-talk');
            const c = echarts.getInstanceByDom(el);
            const v = c.getOption().series[1].data[0];
            const [x, y] = c.convertToPixel({seriesIndex: 1}, [0, v]);
            const r = el.getBoundingClientRect();
            return [r.left + x, r.top + y]; }"""
    )
    page.mouse.click(x, y)
    page.wait_for_url(lambda u: "/queue" in u and f"project={first}" in u)
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    total = api_get(f"/evaluations?project={first}")["total"]
    expect(page.locator("#queue-count")).to_contain_text(f"共 {total} 通")
    page.goto(server + "/dashboard")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    row = page.locator("#errors tbody tr[data-rule]").first
    rule = row.get_attribute("data-rule")
    row.locator("td").nth(1).click()
    page.wait_for_url(lambda u: "tab=flagged" in u and f"rule={rule}" in u)
    assert page.errors == []
    context.close()


def test_rubric_versions_compare_rule_by_rule(browser, server, web_data):
    """Rubric versions: before activating, the rule-by-rule differences (a changed weight, a
    removed rule, a changed pass score) with their values before and after."""
    from tests.support import RUBRICS

    text = (RUBRICS / "care-call.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^version: \d+", "version: 6", text, flags=re.M)
    text = text.replace("pass_score: 80", "pass_score: 70")
    text = text.replace("回访, 温馨提醒], weight: 5}", "回访, 温馨提醒], weight: 8}")
    text = "\n".join(line for line in text.splitlines() if "id: hotline" not in line) + "\n"
    context, page = _admin_rubrics(browser, server, web_data)
    page.fill("#upload-yaml", text)
    page.click("#upload")
    expect(page.locator("#upload-status")).to_contain_text("已保存")
    page.select_option("#compare select[name=rubric]", "contract-care-call")
    page.fill("#compare input[name=from]", "1")
    page.fill("#compare input[name=to]", "6")
    page.click("#diff")
    table = page.locator("#rule-diff")
    expect(table.locator("tr[data-rule='scoring']")).to_contain_text("70")
    changed = table.locator("tr[data-rule='care_intro'][data-change='changed'] td.field")
    expect(changed).to_have_text("分值")  # the field's label, its YAML key on hover
    expect(changed).to_have_attribute("title", "weight")
    expect(table.locator("tr[data-rule='hotline'][data-change='removed']")).to_contain_text("删除")
    assert table.locator("tr[data-rule='greeting']").count() == 0
    assert page.errors == []
    context.close()
