"""The trial (试呼) and wrap-up (项目总结) pages' export links in a real Chromium on a phone
(390 px): 导出 Excel and 导出 CSV fit the screen with room for a finger, and the files their
hrefs give in the signed-in session open with their Chinese headings intact (XLSX read by
openpyxl, CSV as UTF-8 behind a byte-order mark, as Excel needs). Fixtures in conftest.py."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

import openpyxl
import pytest
from playwright.sync_api import expect

from qa_service.i18n import message
from tests.support import english_words

PHONE = {"width": 390, "height": 844}
CJK = re.compile(r"[\u3400-\u9fff]")
# The sheets each report's workbook holds, by their msgids (api/routes/exports.py).
SHEETS = {
    "trial": ("summary", "refusal reasons", "guide map", "highlight scripts"),
    "wrapup": (
        "KPIs",
        "KPIs by day",
        "common errors",
        "refusal reasons",
        "guide map",
        "highlight scripts",
        "product fact violations",
    ),
}
FILE_NAMES = {"trial": "trial calls {project}", "wrapup": "project wrap-up {project}"}


def _headings(rows: list[list]) -> None:
    """A sheet's header row: every cell Chinese, no English word outside the allowlist."""
    assert rows and rows[0], rows
    for cell in rows[0]:
        assert isinstance(cell, str) and CJK.search(cell), rows[0]
        assert not english_words(cell), rows[0]


@pytest.mark.parametrize(
    ("report", "project"),
    # survey has no trial calls: the trial page shows all of its calls, and exports them
    [("trial", "telecom-upgrade"), ("trial", "survey"), ("wrapup", "telecom-upgrade")],
)
def test_export_links_give_files_with_their_chinese_headings(
    signed_in, server, web_data, shot, report, project
):
    assert project in web_data["projects"]
    page = signed_in("viewer", "/queue")
    page.set_viewport_size(PHONE)
    page.goto(f"{server}/{report}?project={project}")
    page.wait_for_selector("body[data-loaded='1']", state="attached")
    assert not page.errors, page.errors
    prefix = "t-export" if report == "trial" else "w-export"
    links = {fmt: page.locator(f"#{prefix}-{fmt}") for fmt in ("xlsx", "csv")}
    expect(links["xlsx"]).to_have_text(message("Export Excel"))
    expect(links["csv"]).to_have_text(message("Export CSV"))
    # on the phone: seen, inside the screen, tall enough to tap, the page no wider than it
    for link in links.values():
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["height"] >= 24, box
    wide, inner = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert wide <= inner, f"{report} is {wide} px wide at {inner} px"
    shot(page, f"{report}-exports-390")
    names = [message(sheet) for sheet in SHEETS[report]]
    file_name = quote(message(FILE_NAMES[report], project=project))
    files = {}
    for fmt, link in links.items():
        # what a tap on the link fetches: its href, with the page's session (no API key)
        answer = page.request.get(server + link.get_attribute("href"))
        assert answer.ok, (fmt, answer.status, answer.text()[:500])
        disposition = answer.headers["content-disposition"]
        assert disposition.endswith(f"filename*=UTF-8''{file_name}.{fmt}"), disposition
        files[fmt] = answer.body()
    book = openpyxl.load_workbook(io.BytesIO(files["xlsx"]), read_only=True)
    assert book.sheetnames == names
    for sheet in book.worksheets:
        _headings([list(row) for row in sheet.iter_rows(max_row=1, values_only=True)])
    assert files["csv"].startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(files["csv"][3:].decode("utf-8"))))
    # one table after another, each under its title, a blank row between
    titles = [i for i, row in enumerate(rows) if len(row) == 1 and row[0] in names]
    assert [rows[i][0] for i in titles] == names
    for i in titles:
        _headings(rows[i + 1 : i + 2])
