"""The trial and wrap-up reports as XLSX and CSV (GET /exports/projects/{project}/trial and
/wrapup): a sheet per section with Chinese titles and headers that Excel opens, the same
figures as the JSON reports, and the quoted lines' personal numbers masked for a non-admin
(the masking middleware reads no XLSX). Seeded as the masking test seeds its trial calls."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from qa_service.api import create_app
from tests.integration.test_masking_everywhere import _leaks, _seed


def _cells(content: bytes) -> dict[str, list[list]]:
    book = load_workbook(io.BytesIO(content))
    return {
        sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in book.worksheets
    }


def test_trial_and_wrapup_export_with_numbers_masked(tmp_path, sqlite_url):
    store, rec, job, keys, settings = _seed(tmp_path, sqlite_url)
    admin, manager = ({"X-API-Key": keys[r]} for r in ("admin", "manager"))
    with TestClient(create_app(settings)) as client:
        trial = client.get("/projects/p/trial", headers=admin).json()
        r = client.get("/exports/projects/p/trial", headers=manager)
        assert r.status_code == 200, r.text
        assert "attachment" in r.headers["content-disposition"]
        sheets = _cells(r.content)
        assert list(sheets) == ["概况", "客户拒绝原因", "引导地图", "亮点话术"]
        summary = dict(row[:2] for row in sheets["概况"][1:])
        assert summary["项目"] == "p" and summary["通数"] == trial["calls"]
        highlights = sheets["亮点话术"]
        assert highlights[0][1] == "话术"
        assert len(highlights) - 1 == len(trial["highlights"]) >= 1
        assert [row[1] for row in highlights[1:]] != [h["text"] for h in trial["highlights"]]
        assert not _leaks(repr(sheets))  # masked for the manager
        raw = _cells(client.get("/exports/projects/p/trial", headers=admin).content)
        assert [row[1] for row in raw["亮点话术"][1:]] == [h["text"] for h in trial["highlights"]]
        assert _leaks(repr(raw))  # the admin's copy as said

        wrapup = client.get("/projects/p/wrapup", headers=admin).json()
        r = client.get("/exports/projects/p/wrapup", params={"format": "xlsx"}, headers=manager)
        assert r.status_code == 200, r.text
        sheets = _cells(r.content)
        assert list(sheets)[:3] == ["项目指标", "每日指标", "共性错误"]
        assert "产品信息说错" in sheets and "亮点话术" in sheets
        overall = sheets["项目指标"][1]
        assert overall[0] == "全部通话" and overall[1] == wrapup["kpis"]["evaluated"]
        assert len(sheets["每日指标"]) - 1 == len(wrapup["kpis_by_day"])
        assert not _leaks(repr(sheets))

        csv = client.get("/exports/projects/p/wrapup", params={"format": "csv"}, headers=manager)
        assert csv.status_code == 200
        text = csv.content.decode("utf-8")
        assert text.startswith("\ufeff项目指标")  # a BOM: Excel reads the Chinese as UTF-8
        assert "\r\n\r\n共性错误\r\n" in text and not _leaks(text)

        assert client.get("/exports/projects/nowhere/trial", headers=manager).status_code == 404
        assert client.get("/exports/projects/p/wrapup", headers={}).status_code == 401
