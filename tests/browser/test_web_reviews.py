"""Reviewing in the browser (the reviews API): override a finding, add a missed
finding, withdraw, rule precision, a new rubric version rescored and compared. Fixtures in
conftest.py; runs after test_web.py (the rubric test last: rescoring makes new current
evaluations)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect


def test_override_changes_reviewed_score_on_page_and_dashboard(
    signed_in, server, web_data, shot, api_get, flagged_call, open_call
):
    call = flagged_call(fatal=False)
    project = call["project"]
    before = api_get(f"/kpis?group_by=project&project={project}")[0]
    page = signed_in("reviewer")
    open_call(page, call["evaluation_id"])
    expect(page.locator("#reviewed-score .big")).to_have_text("—")
    # every finding that cost points: set to its good value, with a comment
    for _ in range(20):
        # a product fact has no "good" value to set (the knowledge base decides it)
        bad = page.locator("#findings .finding.is-bad:not([data-rule^='product_fact'])")
        if bad.count() == 0:
            break
        finding = bad.first
        rule = finding.get_attribute("data-rule")
        finding.locator("input.override-comment").fill(f"复核：{rule} 实际已做到")
        finding.locator("button.override").click()
        # the review is stored and the page redrawn: slow on a busy 2-core machine
        expect(page.locator(f"#findings .finding[data-rule='{rule}'].is-good")).to_have_count(
            1, timeout=15_000
        )
    reviewed = page.locator("#reviewed-score .big")
    expect(reviewed).not_to_have_text("—")
    assert float(reviewed.inner_text()) > call["score"]
    assert float(page.locator("#machine-score .big").inner_text()) == call["score"]
    assert page.locator("#trail li[data-review]").count() >= 1
    assert "实际已做到" in page.locator("#trail").inner_text()
    shot(page, "call-reviewed")
    after = api_get(f"/kpis?group_by=project&project={project}")[0]
    assert after["pass_rate"] > before["pass_rate"]  # the call now passes
    page.goto(f"{server}/dashboard")
    page.select_option("#filters select[name=project]", project)
    page.click("#filters button[type=submit]")
    expect(page.locator(".kpi[data-kpi=pass_rate] .v")).to_have_text(
        f"{after['pass_rate'] * 100:.1f}%"
    )
    # withdraw the newest review: the trail keeps it, struck through
    page.goto(f"{server}/calls/{call['evaluation_id']}")
    page.wait_for_selector("body[data-loaded='1']")
    page.locator("#trail button.withdraw").last.click()
    expect(page.locator("#trail li[data-state=withdrawn]")).to_have_count(1)


def test_add_missed_finding_at_playback_time(signed_in, server, web_data, api_get, open_call):
    items = api_get("/evaluations?page_size=100")["items"]
    good = next(i for i in items if i["grade"] == "excellent")
    page = signed_in("reviewer")
    open_call(page, good["evaluation_id"])
    page.evaluate("document.getElementById('audio').currentTime = 4.0")
    page.wait_for_function(
        "() => Math.abs(parseFloat(document.getElementById('add-start').value) - 4.0) < 0.11"
    )
    options = page.eval_on_selector_all("#add-rule option", "os => os.map(o => o.value)")
    rule = "disparage" if "disparage" in options else options[-1]
    page.select_option("#add-rule", rule)
    page.fill("#add-comment", "坐席说了同行坏话，机器没听出")
    page.click("#add-finding")
    added = page.locator(f"#findings .finding[data-rule='{rule}']")
    expect(added.locator(".tag", has_text="复核补充")).to_have_count(1)
    assert abs(float(added.locator("a.evidence").first.get_attribute("data-start")) - 4.0) < 0.11
    expect(page.locator("#reviewed-score .big")).not_to_have_text("—")
    assert "补充" in page.locator("#trail").inner_text()


def test_rule_precision_shows_overturned_examples(
    signed_in, server, web_data, shot, api_get, flagged_call
):
    # a reviewer overturns one machine finding through the API; the page shows it under its rule
    call = flagged_call(fatal=True)
    ev = api_get(f"/evaluations/{call['evaluation_id']}")
    bad = next(f for f in ev["findings"] if f["status"] in ("violation", "missed", "unhandled"))
    good = next(v for v in bad["allowed_statuses"] if v not in ("violation", "missed", "unhandled"))
    r = httpx.post(
        f"{server}/evaluations/{ev['id']}/reviews",
        headers={"X-API-Key": web_data["keys"]["reviewer"]},
        json={
            "target": "finding",
            "action": "override",
            "finding_id": bad["id"],
            "value": good,
            "comment": "机器误判：原话不是这个意思",
        },
        timeout=30,
    )
    assert r.status_code == 201, r.text
    page = signed_in("viewer", "/precision")
    page.select_option("#filters select[name=rubric_id]", ev["rubric"]["id"])
    page.click("#filters button[type=submit]")
    row = page.locator(f"#precision tbody tr[data-rule='{bad['rule_id']}']")
    expect(row).to_be_visible()
    row.click()
    expect(page.locator("#examples")).to_contain_text("机器误判：原话不是这个意思")
    shot(page, "precision")
    assert page.errors == []


def test_rubric_version_upload_rescore_and_compare(signed_in, server, web_data, shot, api_get):
    """Last in this module: rescoring makes new current evaluations for the project."""
    from tests.support import RUBRICS

    project = next(
        p for p, rubric in web_data["projects"].items() if rubric == "telecom-data-upgrade"
    )
    text = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^version: \d+", "version: 2", text, flags=re.M)
    text = re.sub(r"pass_score: \d+", "pass_score: 30", text)  # v2 lets more calls pass
    page = signed_in("admin", "/rubric-versions")
    page.wait_for_selector("body[data-loaded='1']")
    page.fill("#upload-yaml", text)
    page.click("#upload")
    expect(page.locator("#upload-status")).to_contain_text("v2")
    page.locator("#rubrics tbody tr", has_text="telecom-data-upgrade").filter(has_text="v2").click()
    expect(page.locator("#yaml")).to_contain_text("pass_score: 30")
    page.fill("#act-project", project)
    page.click("#activate")
    expect(page.locator("#rubrics tbody tr", has_text="v2")).to_contain_text(project)
    page.click("#rescore")
    expect(page.locator("#rescore-status[data-done='1']")).to_be_visible(timeout=120_000)
    page.select_option("#compare select[name=rubric]", "telecom-data-upgrade")
    page.fill("#compare input[name=from]", "1")
    page.fill("#compare input[name=to]", "2")
    page.fill("#compare input[name=project]", project)
    page.click("#compare button[type=submit]")
    api = api_get(f"/rubrics/telecom-data-upgrade/compare?from=1&to=2&project={project}")
    assert api["calls"] >= 1
    expect(page.locator("#compare-changed tbody tr")).to_have_count(
        max(1, api["changed_grade_count"])
    )
    shot(page, "rubrics-compare")
    assert page.errors == []
