"""What the page screenshots of issue 25's second pass still showed (docs/web-pages.md), in a
real Chromium over the QA loop's data (conftest.seeded): calls named by agent and call time,
the knowledge base by its name, rubric fields by label, rows' actions on a phone within the
screen, the queue's filters, the calibration and appeal tables, and the words of the call and
appeal pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
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
        context = browser.new_context(
            viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(server + "/login")
        if who == "admin":
            page.click(".key-login summary")
            page.fill("#api_key", web_data["keys"]["admin"])
        else:
            page.fill("#name", web_data["people"][who]["name"])
            page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
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
