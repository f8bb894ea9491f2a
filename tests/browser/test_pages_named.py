"""What the page screenshots of issue 25's second pass still showed (docs/web-pages.md), in a
real Chromium over the QA loop's data (conftest.seeded): calls named by agent and call time,
the knowledge base by its name, rubric fields by label, rows' actions on a phone within the
screen, the queue's filters, the calibration and appeal tables, and the words of the call and
appeal pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.support import RUBRICS

PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1440, "height": 900}
# How a call is named: its agent, then its call time (11-01 10:05), or for a hand-made call
# without one its file name (文件 …) or when it was stored (入库 …).
# Customers' words add where in the call (（第 9.6 秒）).
CALL_NAME = re.compile(
    r"^\S+ · (\d\d-\d\d \d\d:\d\d|文件 \S+|入库 \d\d-\d\d \d\d:\d\d)(（第 [\d.]+ 秒）)?$"
)


@pytest.fixture
def open_as(browser, server, web_data, seeded):
    """open_as(who, path, viewport): a loaded page signed in as a person of web_data's people
    or as "admin" (its API key)."""
    contexts = []

    def go(who, path, viewport=WIDE):
        context, page = sign_in(browser, server, web_data, viewport, who)
        contexts.append(context)
        page.goto(server + path)
        page.wait_for_selector("body[data-loaded='1']", state="attached")
        return page

    yield go
    for context in contexts:
        context.close()


def _named_links(locator) -> list[tuple[str, str]]:
    links = locator.all()
    assert links, "no call links"
    return [(a.inner_text().strip(), a.get_attribute("href") or "") for a in links]


def _assert_named(links: list[tuple[str, str]], href: str = r"/calls/(recording/)?\d+$"):
    for text, link in links:
        assert CALL_NAME.match(text), f"a call named {text!r}, not by agent and time"
        assert re.search(href, link), link


def test_calls_are_named_by_agent_and_call_time(open_as, api_get):
    """Left 1: 示例通话, 立即提醒, calibration blocks and wrap-up examples named calls by the
    recording's number (#12, 通话 8); now by agent and call time, still linking to the call."""
    page = open_as("manager", "/dashboard")
    expect(page.locator("#errors tbody a").first).to_be_visible()
    _assert_named(_named_links(page.locator("#errors tbody a.call-name")))
    # a call with a call time by its agent and wall clock; one without by its file name
    named = {c["recording_id"]: c for e in api_get("/kpis/errors") for c in e["example_calls"]}
    for rid, call in list(named.items())[:6]:
        link = page.locator(f"#errors a.call-name[href='/calls/recording/{rid}']").first
        when = call["call_time"]
        expect(link).to_have_text(
            f"{call['agent_id']} · {when[5:10]} {when[11:16]}"
            if when
            else f"{call['agent_id']} · 文件 {call['file_name']}"
        )
    page.select_option("#inflight-project", "telecom-upgrade")
    expect(page.locator("#remind-now tbody a").first).to_be_visible()
    _assert_named(_named_links(page.locator("#remind-now tbody a")))

    page = open_as("manager", "/wrapup?project=telecom-upgrade")
    _assert_named(_named_links(page.locator("#w-errors tbody a")))
    _assert_named(_named_links(page.locator("#w-voice a")))
    # hand-made calls without a call time: by their file name, so labelled
    page = open_as("manager", "/wrapup?project=voice-web")
    voice = _named_links(page.locator("#w-voice a"))
    _assert_named(voice)
    assert any(" · 文件 voice-" in text for text, _ in voice), voice

    page = open_as("reviewer", f"/calibration?session={api_get('/calibrations', 'admin')[0]['id']}")
    _assert_named(_named_links(page.locator(".cal-call h3 a")), href=r"/calls/\d+$")
    assert not page.errors, page.errors


def test_wrapup_names_the_knowledge_base_by_its_name(open_as):
    """Left 2: 项目总结 named the knowledge base by its file path (kb/telecom-data-upgrade.yaml)."""
    page = open_as("manager", "/wrapup?project=telecom-upgrade")
    summary = page.locator("#w-summary")
    expect(summary).to_contain_text("知识库 畅享套餐 v1")
    expect(summary).not_to_contain_text("kb/")


def test_rubric_diff_names_fields_by_label(open_as):
    """Left 3: 版本对比's 字段 was the YAML key (pass_score)."""
    page = open_as("admin", "/rubric-versions")
    page.select_option("#compare select[name=rubric]", "contract-care-call")
    page.fill("#compare input[name=from]", "1")
    page.fill("#compare input[name=to]", "9")
    page.click("#diff")
    field = page.locator("#rule-diff tr[data-rule='scoring'] td.field")
    expect(field).to_have_text("合格分")
    expect(field).to_have_attribute("title", "pass_score")  # the key only on hover
    assert "pass_score" not in page.locator("#rule-diff").inner_text()


def test_knowledge_facts_show_names_and_kinds(open_as):
    """Left 4: the facts table's 事实 was the fact's id and its 类型 column held units."""
    page = open_as("admin", "/rubric-versions")
    page.locator("#kbs tbody tr[data-kb='changxiang-plan@1']").click()
    heads = page.locator("#kb-facts thead th").all_inner_texts()
    assert heads == ["事实名称", "类型（单位）", "值"], heads
    fee = page.locator("#kb-facts tr[data-fact='monthly_fee'] td")
    expect(fee.nth(0)).to_have_text("月费")
    expect(fee.nth(0)).to_have_attribute("title", "monthly_fee")  # the id only on hover
    expect(fee.nth(1)).to_have_text("数值（元）")
    expect(fee.nth(2)).to_have_text("96元")
    expect(page.locator("#kb-facts tr[data-fact='free_cancel'] td").nth(1)).to_have_text("是/否")


# The pages with row actions, and who uses them (the reviewer rules an appeal assigned to them).
ROW_ACTIONS = [
    ("reviewer", "/task-queue", "#tasks"),
    ("reviewer", "/appeal-desk", "#appeals"),
    ("manager", "/appeal-desk", "#appeals"),
    ("agent", "/my/calls", "#my-calls"),
    ("agent", "/my/appeals", "#my-appeals"),
]


@pytest.mark.parametrize(("who", "path", "table"), ROW_ACTIONS)
def test_row_actions_on_a_phone_need_no_sideways_scroll(open_as, who, path, table):
    """Left 5: at 390 px the rows' buttons (领取, 退回, 标记已复核), the ruling form and 查看通话
    were off screen until the table was scrolled sideways."""
    page = open_as(who, path, PHONE)
    controls = page.locator(f"{table} tbody tr").locator("a, button, input, select")
    expect(controls.first).to_be_visible()
    outside = []
    for control in controls.all():
        box = control.bounding_box()
        if box is None:  # not drawn (none is hidden on these pages)
            outside.append((control.inner_text(), "not drawn"))
        elif box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]:
            outside.append((control.inner_text() or control.get_attribute("class"), box))
    assert not outside, outside
    if path == "/appeal-desk" and who == "reviewer":  # the ruling form is among them
        assert page.locator(f"{table} .ruling-comment").count() >= 1
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], wide


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["390", "1440"])
def test_queue_search_placeholder_shows_whole(open_as, viewport):
    """Left 6: the 转写搜索 placeholder was cut (…如 退)."""
    page = open_as("reviewer", "/queue", viewport)
    room, needed = page.evaluate("""() => {
        const box = document.getElementById('f-q'), style = getComputedStyle(box);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = style.font;
        const pad = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
        return [box.clientWidth - pad, ctx.measureText(box.placeholder).width]; }""")
    assert needed <= room, f"the placeholder needs {needed:.0f} px, the field has {room:.0f}"


def test_queue_rule_filter_is_a_choice_of_rules_by_name(open_as, api_get):
    """Left 6: the 质检规则 filter asked for a rule id typed in."""
    page = open_as("reviewer", "/queue")
    rule = page.locator("#f-rule")
    expect(rule).to_have_js_property("tagName", "SELECT")
    options = rule.locator("option").all()
    named = {o.get_attribute("value"): o.inner_text() for o in options if o.get_attribute("value")}
    errors = {e["rule_id"]: e["name"] for e in api_get("/kpis/errors?limit=200")}
    assert named and set(named) == set(errors)
    assert all(text != rule_id for rule_id, text in named.items()), named
    rule_id = next(iter(named))
    rule.select_option(rule_id)
    page.click("#filters button[type=submit]")
    page.wait_for_url(lambda u: f"rule={rule_id}" in u)
    expect(rule).to_have_value(rule_id)
    assert not page.errors, page.errors


def test_calibration_report_tables_apart_rules_in_rubric_order(open_as, api_get):
    """Left 7: the per-rule and the reviewers' tables touched (one table with two header rows);
    the rules were not in the rubric's order."""
    from qa_service.rules.rubric import load_rubric

    session = api_get("/calibrations", "admin")[0]["id"]
    page = open_as("manager", f"/calibration?session={session}")
    report = page.locator("#cal-report")
    expect(report.locator("h4")).to_have_count(2)
    rules = report.locator("#cal-rules")
    reviewers = report.locator("#cal-reviewers")
    gap = reviewers.bounding_box()["y"] - (
        rules.bounding_box()["y"] + rules.bounding_box()["height"]
    )
    assert gap >= 24, f"the tables are {gap} px apart"
    shown = [n.strip() for n in rules.locator("tbody td:first-child").all_inner_texts()]
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    order = [r.name for _, _, r in rubric.rules() if r.name in shown]
    assert len(order) >= 3, shown
    assert [n for n in shown if n in order] == order, shown
    assert shown[-1] == "等级", shown


def test_appeal_rates_have_headings_and_rates_within_100(open_as, api_get):
    """Left 8: the rate tables' first heading was empty; 申诉率 read 150% (3 appeals, 2 calls)."""
    page = open_as("manager", "/appeal-desk")
    heads = page.locator(".cards th").all_inner_texts()
    assert heads and all(h.strip() for h in heads), heads
    agent = page.locator("#rates-agent")
    expect(agent.locator("thead")).to_contain_text("被申诉通话占比")
    rates = api_get("/appeals/rates")["by_agent"]
    assert rates
    for r in rates:
        assert r["appealed_calls"] <= r["appeals"]
        assert r["appealed_call_rate"] is None or r["appealed_call_rate"] <= 1
    for cell in agent.locator("tbody td:nth-child(5)").all_inner_texts():
        assert cell == "—" or float(cell.rstrip("%")) <= 100, cell


def test_all_calls_show_why_failed_calls_are_flagged(open_as):
    """Left 9: 全部通话 showed 标记原因 — on failed calls."""
    page = open_as("reviewer", "/queue?tab=all")
    failed = page.locator("#queue tbody tr:has(.g-fail)")
    expect(failed.first).to_be_visible()
    for row in failed.all():
        expect(row.locator("td").nth(5)).to_contain_text("不合格")


def test_call_page_names_the_rubric_and_keeps_labels_inline(open_as, api_get):
    """Left 10: the header showed the rubric id (telecom-data-upgrade v1); 补充漏检问题's
    开始/结束 labels sat above their fields."""
    from qa_service.rules.rubric import load_rubric

    call = next(
        c
        for c in api_get("/evaluations?page_size=200")["items"]
        if c["rubric"]["id"] == "telecom-data-upgrade"
    )
    page = open_as("reviewer", f"/calls/{call['evaluation_id']}")
    meta = page.locator("#call-meta")
    title = load_rubric(RUBRICS / "telecom-data-upgrade.yaml").name
    expect(meta).to_contain_text(f"{title} v1")
    expect(meta).not_to_contain_text("telecom-data-upgrade")
    for box in ("#add-start", "#add-end"):
        label = page.locator(f"label:has({box})").bounding_box()
        field = page.locator(box).bounding_box()
        assert field["x"] > label["x"] + 10 and abs(field["y"] - label["y"]) < 8, (label, field)


def test_my_appeals_name_a_rule_once(open_as):
    """Left 11: a rule named as its category read 语速（语速）."""
    page = open_as("agent", "/my/appeals")
    cells = page.locator("#my-appeals tbody td:nth-child(3)").all_inner_texts()
    assert cells
    for text in cells:
        assert not re.fullmatch(r"(.+)（\1）", text.strip()), text


def _rubric_title(api_get, rubric_id: str, version: int) -> str:
    row = next(r for r in api_get("/rubrics") if (r["id"], r["version"]) == (rubric_id, version))
    assert row["name"] and row["name"] != rubric_id, row
    return row["name"]


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["390", "1440"])
def test_calibration_names_its_rubric_by_title_and_version(open_as, api_get, viewport):
    """Left: the 校准 session line (and the sessions list) named the rubric by its id
    (十一月校准 · telecom-data-upgrade); now by its title and version, as the call page."""
    session = api_get("/calibrations", "admin")[0]
    versions = session["rubric_versions"]
    assert versions, session
    title = _rubric_title(api_get, session["rubric_id"], versions[-1])
    named = f"{title} v{'/'.join(map(str, versions))}"
    page = open_as("reviewer", f"/calibration?session={session['id']}", viewport)
    line = page.locator("#cal-line")
    expect(line).to_contain_text(f"{session['name']} · {named} · 质检员")
    assert session["rubric_id"] not in line.inner_text()
    page = open_as("reviewer", "/calibration", viewport)
    cell = page.locator(f"#sessions tr[data-session='{session['id']}'] td.rubric")
    expect(cell).to_have_text(named)
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= viewport["width"], wide
    assert not page.errors, page.errors


def test_trial_page_names_rubrics_by_title(open_as, api_get):
    """The trial page's summary line and its version-compare menu named rubrics by id."""
    page = open_as("manager", "/trial?project=telecom-upgrade")
    titles = {r["id"]: r["name"] for r in sorted(api_get("/rubrics"), key=lambda r: r["version"])}
    options = page.locator("#compare select[name=rubric] option").all()
    assert options
    for option in options:
        assert option.inner_text() == titles[option.get_attribute("value")]
    summary = page.locator("#t-summary")
    expect(summary).to_contain_text("畅享套餐升级外呼营销 v")
    assert "telecom-data-upgrade" not in summary.inner_text()


# a wording longer than the box is wide at either size
LONG_WORDING = (
    "这个月办理还多送您一个视频会员，另外每月再赠送定向流量，合约期内资费保持不变，随时可以退订"
)


def _wording_boxes(page) -> list[dict]:
    return page.evaluate("""() => [...document.querySelectorAll('.wording')].map((b) => ({
        tag: b.tagName, value: b.value, sw: b.scrollWidth, cw: b.clientWidth,
        sh: b.scrollHeight, ch: b.clientHeight}))""")


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["390", "1440"])
def test_trial_wording_box_shows_the_whole_wording(open_as, viewport):
    """Left: the 审核 wording box (an input) cut the wording it held; now a box as tall as its
    wording, at either size, also once a longer wording is typed in."""
    for project in ("telecom-upgrade", "voice-web"):
        page = open_as("manager", f"/trial?project={project}", viewport)
        expect(page.locator(".wording").first).to_be_attached()
        boxes = _wording_boxes(page)
        assert boxes, project
        for box in boxes:
            assert box["tag"] == "TEXTAREA", box
            assert box["value"] and box["sh"] <= box["ch"] + 1 and box["sw"] <= box["cw"] + 1, box
    page.locator("#proposals textarea.wording").first.fill(LONG_WORDING)
    box = page.evaluate(
        """() => { const b = document.querySelector('#proposals .wording');
        return {value: b.value, sh: b.scrollHeight, ch: b.clientHeight, lines: b.clientHeight
                / parseFloat(getComputedStyle(b).lineHeight)}; }"""
    )
    assert box["value"] == LONG_WORDING
    assert box["sh"] <= box["ch"] + 1 and box["lines"] >= 2, box
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= viewport["width"], wide
    assert not page.errors, page.errors


def test_trial_wording_box_submits_what_it_holds(open_as):
    """The wording box, a text area now, still sends its whole wording when adopted (one line:
    Enter adds no line break)."""
    page = open_as("manager", "/trial?project=voice-web")
    box = page.locator("#proposals textarea.wording").first
    box.fill(LONG_WORDING)
    box.press("Enter")
    assert box.input_value() == LONG_WORDING
    with page.expect_response(lambda r: "/highlight-proposals" in r.url) as answer:
        page.locator("#proposals button.accept").first.click()
    sent = answer.value.request.post_data_json
    assert answer.value.ok and sent["decision"] == "accepted" and sent["text"] == LONG_WORDING
    expect(page.locator("#highlights td.text", has_text=LONG_WORDING)).to_have_count(1)


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["390", "1440"])
def test_empty_upload_table_fills_its_width(open_as, viewport):
    """Left: on a phone the empty 上传录音 results table was as wide as its four headings."""
    page = open_as("reviewer", "/upload", viewport)
    table, room, form = page.evaluate("""() => [
        document.getElementById('uploads').getBoundingClientRect().width,
        document.getElementById('uploads').parentElement.clientWidth,
        document.getElementById('upload-form').getBoundingClientRect().width]""")
    assert abs(table - room) <= 1 and abs(table - form) <= 1, (table, room, form)
    wide = page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= viewport["width"], wide


def test_trial_compare_names_changed_calls(open_as, web_data, api_get):
    """Left: 质检规则版本对比 on the trial page linked changed calls as #recording; now by agent
    and time (the hand-made trial calls: by their file name), still linking to the call.
    A second version of the voice project's rubric, with a section no call says, fails them
    all (scored from their stored transcripts)."""
    from qa_service.app.evaluations import record_evaluation
    from qa_service.rules.rubric import parse_rubric
    from qa_service.rules.scoring import Scorer, evaluate
    from tests.browser import test_customer_voice as voice

    store = web_data["store"]
    text = voice.RUBRIC + "version: 2\n"
    text = text.replace(
        "script_sections:\n",
        "script_sections:\n  - {id: never, name: 从未说过, any: [永远不会出现的话], weight: 40}\n",
    )
    rubric = parse_rubric(text, "voice-web-v2")
    store.rubrics.save(rubric, text)
    scorer = Scorer(rubric)
    calls = [
        c for c in api_get("/evaluations?page_size=200")["items"] if c["project"] == voice.PROJECT
    ]
    assert calls
    for c in calls:  # V0 … V3 said voice.CALLS[0] … [3]
        utts = voice.CALLS[int(c["agent_id"][1:])]
        record_evaluation(store, c["recording_id"], evaluate("voice", utts, 20.0, scorer))

    page = open_as("manager", f"/trial?project={voice.PROJECT}")
    page.select_option("#compare select[name=rubric]", "voice-web")
    page.fill("#compare input[name=from]", "1")
    page.fill("#compare input[name=to]", "2")
    page.click("#compare button[type=submit]")
    changed = page.locator("#compare-changed tbody a")
    expect(changed.first).to_be_visible()
    links = _named_links(changed)
    _assert_named(links, href=r"/calls/\d+$")
    assert all(" · 文件 voice-" in text for text, _ in links), links
    assert not any(text.startswith("#") for text, _ in links)
    heads = page.locator("#compare-changed thead th").all_inner_texts()
    assert heads == ["通话", "v1", "v2"], heads
    assert not page.errors, page.errors
