"""The knowledge bases on the rubrics page and the hourly bulletin on the dashboard, in a real
Chromium (fixtures in conftest.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from qa_service.worker.nightly import run_bulletins
from tests.support import RUBRICS


def test_knowledge_base_upload_and_facts(signed_in, shot):
    page = signed_in("admin", "/rubric-versions")
    page.wait_for_selector("body[data-loaded='1']")
    text = (RUBRICS / "kb" / "contract-care-call.yaml").read_text(encoding="utf-8")
    page.fill("#kb-upload-yaml", text)
    page.click("#kb-upload")
    expect(page.locator("#kb-upload-status")).to_contain_text("contract-care v1")
    row = page.locator("#kbs tbody tr[data-kb='contract-care@1']")
    expect(row).to_have_count(1)
    row.click()
    facts = page.locator("#kb-facts tbody tr")
    expect(facts).to_have_count(5)
    expect(page.locator("#kb-facts tr[data-fact='auto_renewal']")).to_contain_text("否")
    # Activating it for a project with no audited script warns (三统一).
    page.fill("#kb-project", "合约关怀")
    page.click("#kb-activate")
    expect(page.locator("#kb-warnings li")).to_have_count(1)
    expect(page.locator("#kb-warnings")).to_contain_text("三统一")
    # A broken one is refused with its problems listed.
    page.fill("#kb-upload-yaml", "id: x\nfacts: [{id: a}]\n")
    page.click("#kb-upload")
    expect(page.locator("#kb-upload-status")).to_contain_text("未保存")
    assert page.locator("#kb-problems li").count() >= 1
    assert not page.errors, page.errors
    shot(page, "knowledge-bases")


def test_dashboard_shows_the_hourly_bulletin(signed_in, web_data, shot):
    store = web_data["store"]
    # The project's first production call is the hand-made rude call of 2026-11-01 09:00.
    (b,) = [
        r
        for r in run_bulletins(
            store, datetime(2026, 11, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        )
        if r.project == "telecom-upgrade"
    ]
    assert b.remind_now and b.remind_now[0].urgent
    page = signed_in("viewer", "/dashboard")
    page.wait_for_selector("body[data-loaded='1']")
    page.select_option("#inflight-project", "telecom-upgrade")
    bulletin = page.locator("#bulletin")
    expect(bulletin).to_contain_text("整点通报")
    expect(bulletin).to_contain_text("上线后第 1 小时")
    expect(bulletin).to_contain_text(b.urgent[0].name)
    remind = page.locator("#remind-now tbody tr")
    expect(remind).to_have_count(len(b.remind_now))
    expect(remind.first).to_contain_text(b.remind_now[0].agent_id)
    assert not page.errors, page.errors
    shot(page, "bulletin")


def test_trial_page_shows_what_a_new_project_carried_over(signed_in, server, web_data, shot):
    import httpx

    admin = {"X-API-Key": web_data["keys"]["admin"]}
    r = httpx.post(
        f"{server}/projects/新项目/from-wrapup/telecom-upgrade", headers=admin, timeout=60
    )
    assert r.status_code == 201, r.text
    carried = r.json()
    page = signed_in("viewer", "/trial?project=新项目")
    box = page.locator("#carried-over")
    expect(box).to_be_visible()
    expect(box).to_contain_text("来自项目 telecom-upgrade")
    expect(page.locator("#carried-highlights li")).to_have_count(len(carried["highlights"]))
    expect(page.locator("#carried-errors li")).to_have_count(len(carried["common_errors"]))
    assert not page.errors, page.errors
    shot(page, "carried-over")
