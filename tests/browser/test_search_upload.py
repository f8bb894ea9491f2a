"""Search across calls and uploading recordings in a real Chromium (issue 25): words typed on
待复核 find the calls whose transcript holds them, with the list's filters, and a hit opens
the call page at that line; 上传录音 sends several files, each with its progress and its own
result or error. Fixtures in conftest.py."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import expect

from tests.support import wait_for

PHONE = {"width": 390, "height": 844}


def _word(api_get) -> tuple[str, dict]:
    """Three characters a scored sample call's customer or agent said (no space in them)."""
    for call in api_get("/evaluations?page_size=100")["items"]:
        for u in api_get(f"/recordings/{call['recording_id']}/transcript")[1:]:
            m = re.search(r"[\u4e00-\u9fff]{3}", u["text"])
            if m:
                return m.group(0), call
    raise AssertionError("no sample call said three Chinese characters in a row")


def test_search_finds_calls_and_opens_the_call_at_the_hit(
    signed_in, server, api_get, browser, web_data
):
    word, _ = _word(api_get)
    everywhere = api_get(f"/search?q={quote(word)}")
    flagged = api_get(f"/search?q={quote(word)}&flagged=true")
    assert everywhere["total"] >= 1
    page = signed_in("reviewer", "/queue")
    page.click(".tab[data-tab='all']")
    page.fill("#f-q", word)
    page.click("#filters button[type=submit]")
    expect(page.locator("#queue-count")).to_contain_text(f"含“{word}”的通话")
    rows = page.locator("#queue tr.clickable")
    expect(rows).to_have_count(len(everywhere["items"]))
    expect(page.locator("#queue tr.hits mark").first).to_have_text(word)
    shown = page.eval_on_selector_all(
        "#queue tr.clickable", "els => els.map(e => Number(e.dataset.evaluation))"
    )
    assert shown == [i["evaluation_id"] for i in everywhere["items"]]
    assert "q=" in page.url  # the search is in the address: back from a call returns to it
    # the flagged tab searches the flagged calls only
    page.click(".tab[data-tab='flagged']")
    expect(rows).to_have_count(len(flagged["items"]))
    page.click(".tab[data-tab='all']")
    expect(rows).to_have_count(len(everywhere["items"]))
    # a hit opens the call at that line, the words found in its transcript
    first = everywhere["items"][0]
    hit = first["hits"][0]
    page.locator("#queue tr.hits a").first.click()
    page.wait_for_url(re.compile(rf"/calls/{first['evaluation_id']}\?t="))
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    expect(page.locator("#t-search")).to_have_value(word)
    page.wait_for_function(
        f"() => Math.abs(document.getElementById('audio').currentTime - {hit['start']}) < 0.3"
    )
    expect(page.locator("#transcript .utt.hit").first).to_contain_text(word)
    expect(page.locator("#transcript .utt.current")).to_contain_text(hit["text"][:4])
    assert page.errors == []
    # on a phone the results fit the screen
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    phone = context.new_page()
    phone.goto(server + "/login")
    phone.click(".key-login summary")
    phone.fill("#api_key", web_data["keys"]["reviewer"])
    phone.click("button[type=submit]")
    phone.wait_for_url(lambda u: "/login" not in u)
    phone.goto(f"{server}/queue?tab=all&q={quote(word)}")
    expect(phone.locator("#queue tr.clickable")).to_have_count(len(everywhere["items"]))
    width, viewport = phone.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= viewport
    # and each hit's line wraps on the screen (not at the right of the table's sideways scroll)
    hits = phone.locator(".search-hit")
    assert hits.count() >= 1
    for i in range(hits.count()):
        box = hits.nth(i).bounding_box()
        assert box["x"] + box["width"] <= viewport, box
    context.close()


def test_search_says_what_is_wrong_with_a_one_character_word(signed_in):
    page = signed_in("viewer", "/queue")
    page.fill("#f-q", "退")
    page.click("#filters button[type=submit]")
    expect(page.locator("#queue td.error")).to_contain_text("每个词至少 2 个字")


def test_upload_sends_each_file_with_its_progress_and_result(signed_in, api_get, web_data):
    _, call = _word(api_get)
    detail = api_get(f"/evaluations/{call['evaluation_id']}", role="admin")
    good = Path(detail["recording"])
    page = signed_in("reviewer", "/upload")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    page.select_option("#u-project", call["project"])
    # the file input speaks the page's language, not the browser's ("Choose Files")
    expect(page.locator(".file-pick")).to_have_text("选择文件 未选择文件")
    page.set_input_files(
        "#u-files",
        [
            {"name": good.name, "mimeType": "audio/wav", "buffer": good.read_bytes()},
            {"name": "坏文件.wav", "mimeType": "audio/wav", "buffer": b"not audio at all" * 64},
            {"name": "说明.txt", "mimeType": "text/plain", "buffer": "不是录音".encode()},
        ],
    )
    expect(page.locator("#u-chosen")).to_have_text("已选择 3 个文件")
    page.click("#u-start")
    page.wait_for_selector("body[data-uploaded='3']", state="attached")
    rows = page.locator("#uploads tr.upload")
    expect(rows).to_have_count(3)
    # the sample call was scored already: the same audio again is recognised, nothing new
    ok = page.locator(f"#uploads tr.upload[data-name='{good.name}']")
    expect(ok).to_have_class(re.compile("done"))
    expect(ok.locator("td.result")).to_contain_text("已上传")
    assert ok.locator("progress").evaluate("e => e.value") == 100
    href = ok.locator("td.result a").get_attribute("href")
    assert href == f"/calls/recording/{call['recording_id']}"
    # each error names its file, in Chinese
    bad = page.locator("#uploads tr.upload[data-name='坏文件.wav'] td.result")
    expect(bad).to_have_class(re.compile("error"))
    expect(bad).to_contain_text("坏文件.wav")
    text = page.locator("#uploads tr.upload[data-name='说明.txt'] td.result")
    expect(text).to_contain_text("说明.txt：不是录音文件")
    assert page.errors == []
    # the re-upload may queue a scoring of the stored transcript: it ends before the next
    # tests read that call
    assert wait_for(
        lambda: not any(api_get(f"/jobs?status={s}") for s in ("queued", "started")), timeout=120
    )


def test_upload_page_is_for_reviewers_and_up(signed_in, server):
    page = signed_in("viewer", "/queue")
    expect(page.locator("header nav a[href='/upload']")).to_have_count(0)
    page.goto(server + "/upload")
    assert "/upload" not in page.url  # a viewer is sent home
    page = signed_in("reviewer", "/queue")
    expect(page.locator("header nav a[href='/upload']")).to_have_text("上传录音")
