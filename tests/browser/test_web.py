"""The web app in a real Chromium against the service, on the sample calls scored by the real
model (fixtures in conftest.py). Screenshots go to tests/browser/screenshots/."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect


def test_sign_in_queue_lists_sample_calls_and_sign_out(signed_in, server, web_data, shot):
    page = signed_in("reviewer")
    assert page.url.endswith("/queue")
    rows = page.locator("#queue tbody tr[data-evaluation]")
    expect(rows.first).to_be_visible()
    # the queue shows exactly what /flagged answers, sample agents included
    api = httpx.get(server + "/flagged", headers={"X-API-Key": web_data["keys"]["viewer"]}).json()
    assert api["total"] >= 3
    expect(rows).to_have_count(api["total"])
    text = page.locator("#queue").inner_text()
    for item in api["items"]:
        assert item["agent_id"] in text
    assert "一票否决" in text  # the fatal call's reason
    shot(page, "queue")
    # the cookie is HttpOnly and SameSite=Strict; no key in any URL
    cookie = next(c for c in page.context.cookies() if c["name"] == "qa_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert web_data["keys"]["reviewer"] not in page.url
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login"))
    page.goto(server + "/queue")
    assert "/login" in page.url


def test_times_are_the_call_centers_in_a_browser_elsewhere(browser, server, web_data):
    """A reviewer whose browser is in another zone (UTC here) reads the call center's clock,
    labelled with its zone: the queue shows the calls' times as the API's offset times say."""
    context = browser.new_context(locale="zh-CN", timezone_id="UTC")
    page = context.new_page()
    page.goto(server + "/login")
    page.click(".key-login summary")  # keys sign in under 使用 API 密钥登录
    page.fill("#api_key", web_data["keys"]["viewer"])
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)
    expect(page.locator("#zone")).to_contain_text("Asia/Shanghai")
    expect(page.locator("#zone")).to_contain_text("UTC+08:00")
    api = httpx.get(server + "/flagged", headers={"X-API-Key": web_data["keys"]["viewer"]}).json()
    expect(page.locator("#queue tbody tr[data-evaluation]")).to_have_count(api["total"])
    text = page.locator("#queue").inner_text()
    for item in api["items"]:
        assert item["call_time"].endswith("+08:00"), item
        assert item["call_time"].replace("T", " ")[:16] in text  # 09:14, not 01:14 (UTC)
    context.close()


def test_wrong_key_is_refused(browser, server):
    page = browser.new_page()
    page.goto(server + "/login")
    page.click(".key-login summary")  # keys sign in under 使用 API 密钥登录
    page.fill("#api_key", "qa_not-a-key")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_be_visible()
    page.close()


# ---- the call page ---------------------------------------------------------------------------


def play_time(page) -> float:
    return page.evaluate("document.getElementById('audio').currentTime")


def test_call_page_plays_follows_and_seeks(
    signed_in, server, web_data, shot, flagged_call, open_call
):
    call = flagged_call(fatal=False)
    page = signed_in("reviewer")
    open_call(page, call["evaluation_id"])
    page.wait_for_selector("body[data-waveform='1']")  # the waveform decoded and drawn
    starts = [
        float(s)
        for s in page.eval_on_selector_all(
            "#transcript .utt", "els => els.map(e => e.dataset.start)"
        )
    ]
    assert len(starts) >= 4
    # play from just before the third utterance: the highlight moves onto it as the audio passes
    page.evaluate(f"document.getElementById('audio').currentTime = {starts[2] - 0.6}")
    page.click("#play")
    page.wait_for_function(
        f"() => document.getElementById('audio').currentTime > {starts[2] + 0.2}", timeout=10_000
    )
    current = page.locator("#transcript .utt.current")
    expect(current).to_have_count(1)
    assert float(current.get_attribute("data-start")) == starts[2]
    page.keyboard.press("Space")  # pause
    page.wait_for_function("() => document.getElementById('audio').paused")
    before = play_time(page)
    page.keyboard.press("ArrowRight")
    assert abs(play_time(page) - (before + 5)) < 0.3
    # a finding's evidence: playback jumps to its start and the utterance there lights up
    link = page.locator("#findings .finding.is-bad a.evidence").last
    target = float(link.get_attribute("data-start"))
    link.click()
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('audio').currentTime - {target}) < 0.5"
    )
    page.keyboard.press("Space")
    # J jumps to the next finding with evidence
    page.evaluate("document.getElementById('audio').currentTime = 0")
    page.keyboard.press("j")
    expect(page.locator("#findings .finding.current")).to_have_count(1)
    assert play_time(page) > 0
    shot(page, "call")
    assert page.errors == []


def test_viewer_sees_no_review_buttons_and_forged_posts_are_refused(
    signed_in, server, web_data, api_get, flagged_call, open_call
):
    call = flagged_call(fatal=True)
    page = signed_in("viewer")
    open_call(page, call["evaluation_id"])
    expect(page.locator("#findings .finding").first).to_be_visible()
    assert page.locator("#findings button, #review-tools, #trail button").count() == 0
    body = {"target": "grade", "action": "override", "value": "pass", "comment": "伪造"}
    post = """async ([url, body, token]) => {
        const headers = {"Content-Type": "application/json"};
        if (token) headers["X-CSRF-Token"] = token;
        const r = await fetch(url, {method: "POST", headers, body: JSON.stringify(body)});
        return r.status; }"""
    url = f"/evaluations/{call['evaluation_id']}/reviews"
    token = page.get_attribute("meta[name=csrf-token]", "content")
    assert page.evaluate(post, [url, body, token]) == 403  # a viewer, even with the token
    reviewer = signed_in("reviewer")
    assert reviewer.evaluate(post, [url, body, None]) == 403  # no CSRF token: refused
    assert reviewer.evaluate(post, [url, body, "forged-token"]) == 403
    assert api_get(f"/evaluations/{call['evaluation_id']}")["grade"] == "fail"


def test_script_in_an_utterance_is_shown_as_text(signed_in, server, web_data, open_call):
    from qa_service.domain.metadata import CallMetadata
    from qa_service.domain.results import Utterance
    from qa_service.rules.rubric import load_rubric
    from qa_service.rules.scoring import evaluate
    from tests.support import RUBRICS, SAMPLES

    store = web_data["store"]
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    audio = next((SAMPLES / rubric.id).glob("*.wav"))
    evil = '<script>window.__owned = 1</script><img src=x onerror="window.__owned = 2">您好'
    utterances = [
        Utterance("agent", 0.5, 2.0, evil, 0.9),
        Utterance("customer", 2.5, 3.5, "<b>你好</b>", 0.9),
    ]
    rec = store.recordings.save_transcript(
        "f" * 64, str(audio), CallMetadata("X001", "xss-test"), 4.0, 2, "stereo", "test", utterances
    )
    from qa_service.app.evaluations import record_evaluation
    from qa_service.rules.scoring import Scorer

    ev = record_evaluation(store, rec.id, evaluate(str(audio), utterances, 4.0, Scorer(rubric)))
    page = signed_in("reviewer")
    open_call(page, ev.id)
    assert evil in page.locator("#transcript").inner_text()
    assert page.locator("#transcript script, #transcript img, #transcript b").count() == 0
    assert page.evaluate("window.__owned") is None


# ---- dashboard, trial, rubrics, precision ------------------------------------------------------


def _chart_points(page, selector):
    return page.evaluate(f"""() => {{
        const c = echarts.getInstanceByDom(document.querySelector('{selector}'));
        return c ? c.getOption().series.map(s => s.data.length) : null; }}""")


def test_dashboard_charts_render_with_sample_data(signed_in, server, web_data, shot, api_get):
    page = signed_in("viewer", "/dashboard")
    page.wait_for_selector("body[data-loaded='1']")
    projects = api_get("/kpis?group_by=project")
    assert _chart_points(page, "#chart-rates") == [len(projects)] * 3
    assert _chart_points(page, "#chart-talk") == [len(projects)] * 2
    assert page.locator("#chart-rates canvas").count() >= 1
    assert "=" in page.get_attribute(".kpi[data-kpi=pass_rate]", "title")  # the formula on hover
    # 监听合格率 (seed 000) beside the machine's: over the calls people listened to
    heard = sum(r.get("listened") or 0 for r in projects)
    expect(page.locator(".kpi[data-kpi=listened_pass_rate] .n")).to_have_text("监听合格率")
    listened = page.locator(".kpi[data-kpi=listened_pass_rate] .muted")
    expect(listened).to_have_text(f"监听 {heard} 通")
    days = api_get("/kpis?group_by=day")
    assert _chart_points(page, "#chart-trend") == [len(days)] * 3  # listened, machine, excellent
    errors = api_get("/kpis/errors")
    expect(page.locator("#errors tbody tr")).to_have_count(len(errors))
    expect(page.locator("#inflight table")).to_be_visible()
    shot(page, "dashboard")
    page.locator("#errors a").first.click()  # an example call opens its call page
    page.wait_for_url(re.compile(r"/calls/\d+$"))
    assert page.errors == []


def test_trial_page_guide_map_renders(signed_in, server, web_data, shot):
    page = signed_in("viewer", "/trial")
    page.wait_for_selector("body[data-loaded='1']")
    project = page.input_value("#t-project")
    points = _chart_points(page, "#guide-map")
    assert points and points[0] >= 1
    assert "引导地图" in page.inner_text("main") and page.locator("#guide-map canvas").count() >= 1
    assert project
    shot(page, "trial")
    assert page.errors == []


def test_rubric_upload_with_a_bad_regex_shows_its_line(signed_in, server, web_data, shot, api_get):
    from tests.support import RUBRICS

    text = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^version: \d+", "version: 9", text, flags=re.M)
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "id: false_promise" in line)
    lines.insert(at + 1, "  - {id: bad_regex, name: 坏正则, regex: ['百分之百(赚'], deduct: 5}")
    page = signed_in("admin", "/rubric-versions")
    page.wait_for_selector("body[data-loaded='1']")
    page.fill("#upload-yaml", "\n".join(lines) + "\n")
    page.click("#upload")
    problem = page.locator("#problems li").first
    expect(problem).to_contain_text(f"第 {at + 2} 行")
    expect(page.locator(f"#upload-view .errline[data-line='{at + 2}']")).to_be_visible()
    shot(page, "rubrics-bad-upload")
    versions = [r["version"] for r in api_get("/rubrics") if r["id"] == "telecom-data-upgrade"]
    assert 9 not in versions  # nothing stored
