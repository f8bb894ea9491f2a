"""The QA department's loop in Chromium, each person signed in with their name and password:
an agent appeals a finding of their own call, the QA manager assigns the appeal, a reviewer
rules, the agent reads the ruling; the ruling moved the reviewed score and rule precision.
Signing out ends the session on the server: a copied cookie stops working."""

import re

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, VIEWPORT
from tests.support import said


def sign_in(browser, server, name, path="/"):
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(server + path)
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(lambda u: "/login" not in u)
    return page


def test_an_appeal_through_the_pages(browser, server, web_data):
    people, admin = web_data["people"], {"X-API-Key": web_data["keys"]["admin"]}
    agent_id = people["agent"]["agent_id"]
    precision_before = _overturned(server, admin)

    agent = sign_in(browser, server, people["agent"]["name"])
    assert agent.url.endswith("/my/calls")
    rows = agent.locator("#my-calls tbody tr")
    expect(rows.first).to_be_visible()
    assert set(agent.locator("#my-calls tbody tr td:nth-child(3)").all_inner_texts()) == {agent_id}
    # staff pages send an agent back to their own
    agent.goto(server + "/queue")
    assert agent.url.endswith("/my/calls")
    # another agent's call does not exist for them
    other = httpx.get(server + "/evaluations?page_size=500", headers=admin).json()["items"]
    foreign = next(i for i in other if i["agent_id"] != agent_id)
    assert agent.goto(server + f"/calls/{foreign['evaluation_id']}").status == 404

    evaluation = _appealable(server, admin, agent_id)
    agent.goto(server + f"/calls/{evaluation['id']}")
    expect(agent.locator("#appeal-panel .appeal-finding").first).to_be_visible()
    agent.fill("#appeal-reason", "这句话是客户说的，不是我说的")
    agent.locator(f'#appeal-panel .appeal-finding[data-finding="{evaluation["finding"]}"]').click()
    expect(agent.locator("#call-appeals")).to_contain_text("待分配")
    expect(agent.locator("#call-appeals")).to_contain_text(evaluation["name"])
    # appealed once: no second 申诉 button for it (the service would refuse it)
    again = agent.locator(f'.appeal-finding[data-finding="{evaluation["finding"]}"]')
    expect(again).to_have_count(0)
    already = re.compile(said("appealed already"))
    expect(agent.locator("#appeal-panel .appealed")).to_have_text(already)
    agent.click("#acknowledge")
    expect(agent.locator("#appeal-panel .good")).to_have_text("已阅")

    manager = sign_in(browser, server, people["manager"]["name"])
    manager.goto(server + "/appeal-desk")
    row = manager.locator("#appeals tbody tr").first
    # the rule by its name, the machine in words (the API's rule id and "machine" were shown)
    expect(row.locator("td").nth(2)).to_contain_text(evaluation["name"])
    expect(row.locator("td").nth(2)).not_to_contain_text(evaluation["rule_id"])
    expect(manager.locator("main")).to_contain_text(re.compile(said("the machine")))
    assert "machine" not in manager.inner_text("main")
    row.locator("select.assignee").select_option(people["reviewer"]["name"])
    row.locator("button.assign").click()
    expect(manager.locator("#appeals tbody tr").first.locator(".state")).to_have_text("待裁定")

    reviewer = sign_in(browser, server, people["reviewer"]["name"])
    assert reviewer.url.endswith("/task-queue")
    reviewer.goto(server + "/appeal-desk")
    mine = reviewer.locator("#appeals tbody tr").first
    mine.locator(".ruling-comment").fill("复听确认：是客户的话")
    mine.locator("button.overturn").click()
    expect(reviewer.locator("#appeals")).to_have_count(0)  # nothing open any more

    agent.goto(server + "/my/appeals")
    ruled = agent.locator("#my-appeals tbody tr").first
    expect(ruled.locator(".state")).to_have_text("改判")
    expect(ruled).to_contain_text("复听确认")
    expect(ruled).to_contain_text(evaluation["name"])
    ruled.locator("button.seen").click()
    expect(ruled).to_contain_text("已读")

    after = httpx.get(server + f"/evaluations/{evaluation['id']}", headers=admin).json()
    finding = next(f for f in after["findings"] if f["id"] == evaluation["finding"])
    assert finding["status"] not in ("missed", "violation", "unhandled")
    assert after["reviewed"] is not None and after["reviewed"]["score"] >= after["machine"]["score"]
    assert _overturned(server, admin) == precision_before + 1
    for page in (agent, manager, reviewer):
        page.context.close()


def test_signing_out_ends_the_session_on_the_server(browser, server, web_data):
    page = sign_in(browser, server, web_data["people"]["manager"]["name"])
    cookie = next(c for c in page.context.cookies() if c["name"] == "qa_session")
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login"))
    copy = browser.new_context()
    copy.add_cookies([cookie])
    other = copy.new_page()
    other.goto(server + "/queue")
    assert "/login" in other.url  # the cookie copied before 退出 no longer signs anyone in
    r = httpx.get(server + "/me", cookies={"qa_session": cookie["value"]})
    assert r.status_code == 401
    copy.close()
    page.context.close()


def test_a_sign_in_form_from_another_site_is_refused(server, web_data):
    """Login CSRF: a form posted from elsewhere has no sign-in token of this site's."""
    r = httpx.post(
        server + "/login",
        data={"name": web_data["people"]["manager"]["name"], "password": PASSWORD},
    )
    assert r.status_code == 403 and "qa_session" not in r.cookies


def _appealable(server, admin, agent_id):
    items = httpx.get(
        server + f"/evaluations?agent={agent_id}&page_size=100", headers=admin
    ).json()["items"]
    for item in items:
        ev = httpx.get(server + f"/evaluations/{item['evaluation_id']}", headers=admin).json()
        for f in ev["findings"]:
            if f["source"] == "machine" and f["status"] in ("missed", "violation", "unhandled"):
                return {
                    "id": ev["id"],
                    "finding": f["id"],
                    "rubric": ev["rubric"]["id"],
                    "rule_id": f["rule_id"],
                    "name": f["name"],
                }
    raise AssertionError(f"no finding to appeal among {agent_id}'s calls")


def _overturned(server, admin):
    total = 0
    for rubric in {r["id"] for r in httpx.get(server + "/rubrics", headers=admin).json()}:
        report = httpx.get(server + f"/rules/precision?rubric_id={rubric}", headers=admin).json()
        total += sum(r["overturned"] for r in report["rules"])
    return total
