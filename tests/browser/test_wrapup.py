"""The project wrap-up page (项目总结) in a real Chromium, on the sample calls scored by the
real model (fixtures in conftest.py)."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect


def test_wrapup_page_shows_the_project_report(signed_in, server, web_data, shot):
    project = "telecom-upgrade"
    assert project in web_data["projects"]
    page = signed_in("viewer", f"/wrapup?project={project}")
    page.wait_for_selector("body[data-loaded='1']")
    assert not page.errors, page.errors
    api = httpx.get(
        f"{server}/projects/{project}/wrapup", headers={"X-API-Key": web_data["keys"]["viewer"]}
    ).json()
    kpis = page.locator("#w-kpis tbody tr")
    expect(kpis).to_have_count(1 + len(api["kpis_by_phase"]) + len(api["kpis_by_day"]))
    assert str(api["kpis"]["evaluated"]) in kpis.first.inner_text()
    errors = page.locator("#w-errors tbody tr[data-rule]")
    expect(errors).to_have_count(len(api["common_errors"]))
    assert api["common_errors"][0]["name"] in errors.first.inner_text()
    expect(page.locator("#w-guide tbody tr")).to_have_count(len(api["guide_map"]))
    facts = page.locator("#w-facts")
    if api["product_fact_violations"]:
        expect(facts.locator("[data-rule]")).to_have_count(len(api["product_fact_violations"]))
    else:
        expect(facts).to_contain_text("没有发现")
    shot(page, "wrapup")
    # The Markdown link serves the report as the CLI saves it, with the page's session.
    href = page.locator("#w-markdown").get_attribute("href")
    markdown = page.request.get(server + href)
    assert markdown.ok and markdown.text().startswith(f"# 项目总结 {project}")
    # The navigation names the page.
    expect(page.locator("header nav a.active")).to_have_text("项目总结")
