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


def test_wrong_key_is_refused(browser, server):
    page = browser.new_page()
    page.goto(server + "/login")
    page.fill("#api_key", "qa_not-a-key")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_be_visible()
    page.close()
