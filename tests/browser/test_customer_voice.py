"""Customers' questions, refusals and drop-off on the trial and wrap-up pages, and a reviewer
accepting a proposed highlight with a corrected wording, in a real Chromium. The calls are
hand-made transcripts stored in the session's database under a project of their own."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from qa_service.app.evaluations import record_evaluation
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.rules.rubric import parse_rubric
from qa_service.rules.scoring import Scorer, evaluate

PROJECT = "voice-web"
RUBRIC = """
id: voice-web
name: 客户之声页面测试
script_sections:
  - {id: intro, name: 产品介绍, kind: product_intro, any: [给您介绍一下]}
  - {id: closing, name: 总结成交, kind: closing, any: [为您办理]}
outcome: {success: [那就办吧], refusal: [不需要]}
"""
INVENTED = "这个月办理还多送您一个视频会员"


def _call(*pairs):
    out = []
    for i, (agent, customer) in enumerate(pairs):
        out += [
            U("agent", 4 * i, 4 * i + 1.5, agent),
            U("customer", 4 * i + 2, 4 * i + 3.5, customer),
        ]
    return out


CALLS = [
    _call(("给您介绍一下畅享套餐", "这个要收手续费吗"), (INVENTED, "那就办吧")),
    _call(("给您介绍一下畅享套餐", "嗯嗯，然后呢？"), (INVENTED, "那就办吧")),
    _call(("给您介绍一下畅享套餐", "要手续费吗？"), ("为您办理", "不需要，谢谢")),
    _call(("给您介绍一下畅享套餐", "嗯"), ("为您办理", "不用了，我没兴趣")),
]


@pytest.fixture(scope="module")
def voice_project(web_data):
    store = web_data["store"]
    rubric = parse_rubric(RUBRIC, "voice-web")
    store.rubrics.save(rubric, RUBRIC)
    store.rubrics.activate(PROJECT, rubric.id, rubric.version)
    scorer = Scorer(rubric)
    for i, utts in enumerate(CALLS):
        meta = CallMetadata(agent_id=f"V{i}", project=PROJECT, phase="trial")
        rec = store.recordings.save_transcript(
            f"{0xF00 + i:064x}", f"voice-{i}", meta, 20.0, 2, "stereo", "hand-made", utts
        )
        record_evaluation(store, rec.id, evaluate(f"voice-{i}", utts, 20.0, scorer))
    return PROJECT


def test_trial_page_lists_customers_words_and_reviewer_accepts_a_proposal(
    signed_in, server, web_data, voice_project, shot
):
    def trial():
        return httpx.get(
            f"{server}/projects/{voice_project}/trial",
            headers={"X-API-Key": web_data["keys"]["viewer"]},
            timeout=60,
        ).json()

    api = trial()
    voice = api["customer_voice"]
    page = signed_in("reviewer", f"/trial?project={voice_project}")
    page.wait_for_selector("body[data-loaded='1']")
    assert not page.errors, page.errors
    questions = page.locator("#voice table.voice-questions tbody tr")
    expect(questions).to_have_count(len(voice["questions"]))
    assert "手续费" in questions.first.inner_text() and "产品介绍" in questions.first.inner_text()
    assert "然后呢" not in page.inner_text("#voice table.voice-questions")  # a backchannel
    refusals = page.locator("#voice table.voice-refusals tbody tr")
    expect(refusals).to_have_count(len(voice["refusals"]))
    closing = page.locator("#voice table.voice-dropoff tbody tr[data-section='closing']")
    expect(closing).to_contain_text("2")  # both refusals came right after 总结成交
    expect(page.locator("#quadrant-rule")).to_contain_text("不画在图上")

    proposal = page.locator("#proposals tr[data-status='proposed']")
    expect(proposal).to_have_count(1)
    proposal.locator("textarea.wording").fill("这个月办理，还多送您一个视频会员")
    shot(page, "trial-voice")
    proposal.locator("button.accept").click()
    expect(page.locator("#proposals tr[data-status='accepted']")).to_have_count(1)
    expect(page.locator("#highlights")).to_contain_text("这个月办理，还多送您一个视频会员")
    expect(page.locator("#highlights")).to_contain_text("坐席自创话术")
    after = trial()
    assert after["highlight_proposals"][0]["status"] == "accepted"
    assert any(h["reason"] == "agent_line" for h in after["highlights"])
    # the library line: its wording corrected again, then taken out of the library
    line = page.locator("#highlights tbody tr", has_text="坐席自创话术")
    line.locator("textarea.wording").fill("本月办理送视频会员")
    line.locator("button.accept").click()
    expect(page.locator("#highlights")).to_contain_text("本月办理送视频会员")
    expect(page.locator("#highlights")).to_contain_text("识别原文：")
    page.locator("#highlights tbody tr", has_text="坐席自创话术").locator("button.reject").click()
    expect(page.locator("#proposals tr[data-status='rejected']")).to_have_count(1)
    expect(page.locator("#highlights")).not_to_contain_text("坐席自创话术")
    assert page.errors == []

    # a viewer sees the proposals, not the buttons
    viewer = signed_in("viewer", f"/trial?project={voice_project}")
    viewer.wait_for_selector("body[data-loaded='1']")
    expect(viewer.locator("#proposals tbody tr")).to_have_count(1)
    expect(viewer.locator("#proposals button")).to_have_count(0)

    wrap = signed_in("viewer", f"/wrapup?project={voice_project}")
    wrap.wait_for_selector("body[data-loaded='1']")
    expect(wrap.locator("#w-voice table.voice-questions tbody tr")).to_have_count(
        len(voice["questions"])
    )
    assert wrap.errors == []


def test_dashboard_shows_the_customers_of_the_first_hours(signed_in, server, web_data, api_get):
    page = signed_in("viewer", "/dashboard")
    page.wait_for_selector("body[data-loaded='1']")
    project = page.input_value("#inflight-project")
    voice = api_get(f"/projects/{project}/inflight")["customer_voice"]
    assert voice is not None, project  # the sample projects have a rubric and production calls
    rows = page.locator("#inflight-voice table.voice-dropoff tbody tr")
    expect(rows).to_have_count(len(voice["drop_off"]) or 1)
    expect(page.locator("#inflight table")).to_be_visible()  # the windows' table stays one
    assert page.errors == []
