"""Personal numbers are masked in every answer a non-admin receives, whichever route: every GET
of the OpenAPI document (path parameters filled from a seeded database), the web pages, the
wrap-up's Markdown and a review's answer; an admin still sees them (api/masking.py).

The call is hand-made utterances stored through the real store and scored by the real rules,
reviewed through the API, so the numbers reach evidence, highlights, the review trail, the
trial and wrap-up reports and rule precision the way a real call's would."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.app.people import create_user
from qa_service.config import Settings
from qa_service.domain.enums import JobState
from qa_service.domain.masking import DIGITS
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from qa_service.storage.tables import ProjectCarryover
from tests.support import RUBRICS, web_sign_in

RUBRIC_ID = "telecom-data-upgrade"
RUBRIC_YAML = (RUBRICS / f"{RUBRIC_ID}.yaml").read_text(encoding="utf-8")
YAML = {"Content-Type": "application/yaml"}

# Each number as said in the call: Chinese numerals, fillers and pauses, +86, a landline, IDs
# of 18 (ending in 叉) and 15 digits, a bank card.
NUMBERS = [
    "一三八一二三四五六七八",
    "一三九，嗯，八七六五，四三二一",
    "+8615912345678",
    "零二一六四八八一二三四",
    "一一零一零一一九九零零三零七七七七叉",
    "110101900307666",
    "6222 0212 3456 7890 123",
]
UTTERANCES = [
    U("agent", 0.5, 3.0, "您好，我是中国电信客户经理，给您介绍一下畅享套餐"),
    U("customer", 3.5, 6.0, f"我考虑一下吧，你打我手机{NUMBERS[0]}"),
    U(
        "agent",
        6.5,
        12.0,
        f"现在办理可以享受优惠，更划算，我帮您办理，回执发到{NUMBERS[0]}，备用{NUMBERS[1]}",
    ),
    U("customer", 12.5, 15.0, f"那就办吧，还有这个号{NUMBERS[2]}，座机{NUMBERS[3]}"),
    U("agent", 15.5, 19.0, f"好的，身份证号码是{NUMBERS[4]}吗，老证是{NUMBERS[5]}"),
    U("customer", 19.5, 22.0, f"对，卡号{NUMBERS[6]}，每月九十六元，合约期是十二个月"),
    U("agent", 22.5, 25.0, "感谢您的接听，祝您生活愉快，再见"),
]
SEPARATORS = re.compile(r"[\s,，、嗯+]")


def _forms(number: str) -> set[str]:
    """The ways a number could leak: as said, without its pauses, and as plain digits."""
    bare = SEPARATORS.sub("", number)
    digits = "".join(DIGITS.get(c, "X") for c in bare)
    return {number, bare, digits}


RAW = sorted(set().union(*map(_forms, NUMBERS)), key=len, reverse=True)


def _leaks(body: str) -> list[str]:
    return [raw for raw in RAW if raw in body]


def _seed(tmp_path, url):
    store = Store(url)
    rubric = load_rubric(RUBRICS / f"{RUBRIC_ID}.yaml")
    store.rubrics.save(rubric, RUBRIC_YAML)
    store.rubrics.activate("p", RUBRIC_ID, rubric.version)
    meta = CallMetadata(
        agent_id="A1", project="p", phase="trial", call_time=datetime(2026, 11, 20, 9, 14)
    )
    rec = store.recordings.save_transcript(
        "ab" * 32, "call.wav", meta, 26.0, 2, "stereo", "hand-made", UTTERANCES
    )
    record_evaluation(store, rec.id, evaluate("call.wav", UTTERANCES, 26.0, Scorer(rubric)))
    # a passed success, earlier that day: the highlight library (trial, wrap-up) keeps only
    # such calls' lines, and its closing line holds a number
    good = [
        U("agent", 0.5, 2.0, "您好，我是中国电信客户经理，给您介绍一下畅享套餐"),
        U(
            "agent",
            2.5,
            8.0,
            "每个月只要九十六元，三百分钟，合约期一年，预存一百六十八元，可以免费退订",
        ),
        U("agent", 8.5, 10.0, f"性价比很高，别家的都一样，为您办理，回执发到{NUMBERS[0]}"),
        U("customer", 10.5, 11.0, "那就办吧"),
        U("agent", 11.5, 12.0, "再见"),
    ]
    earlier = CallMetadata(
        agent_id="A1", project="p", phase="trial", call_time=datetime(2026, 11, 20, 8, 0)
    )
    other = store.recordings.save_transcript(
        "cd" * 32, "good.wav", earlier, 13.0, 2, "stereo", "hand-made", good
    )
    record_evaluation(store, other.id, evaluate("good.wav", good, 13.0, Scorer(rubric)))
    # a job for /jobs/{job_id}: its file named after the customer, as uploads often are
    job, _ = store.jobs.record(
        "score_masking_test", f"inbox/客户{NUMBERS[0]}.wav", "ab" * 32, rubric, recording_id=rec.id
    )
    store.jobs.set_status(job.id, JobState.FAILED, f"cannot read inbox/客户{NUMBERS[0]}.wav")
    keys = {
        role: create_key(store, role, f"{role} 13812345678")[1]
        for role in ("admin", "reviewer", "viewer")
    }
    # the QA loop's people: an agent (whose appeal quotes a number), a manager who sees every
    # route a non-admin can, two reviewers of a calibration session
    for name, role, extra in (
        ("agent", "agent", {"agent_id": "A1"}),
        ("manager", "manager", {}),
        ("r1", "reviewer", {}),
        ("r2", "reviewer", {}),
    ):
        user = create_user(store, name, "masking-password", role, **extra)
        keys[name] = create_key(store, role, name, user_id=user.id)[1]
    store.people.set_team("t", ["A1"])
    settings = Settings(
        database_url=url, redis_url=None, storage_dir=tmp_path / "storage", import_roots=[]
    )
    return store, rec, job, keys, settings


def _get_routes(app) -> list[tuple[str, list[str]]]:
    """Every GET of the OpenAPI document, with its path and required query parameters."""
    routes = []
    for path, ops in app.openapi()["paths"].items():
        op = ops.get("get")
        if op is None:
            continue
        params = op.get("parameters", [])
        routes.append(
            (path, [p["name"] for p in params if p["in"] == "query" and p.get("required")])
        )
    return routes


def test_no_personal_number_reaches_a_non_admin(tmp_path, sqlite_url):
    store, rec, job, keys, settings = _seed(tmp_path, sqlite_url)
    admin, reviewer = ({"X-API-Key": keys[r]} for r in ("admin", "reviewer"))
    # not an admin, and allowed every GET route the admin is (the QA loop's included)
    viewer = {"X-API-Key": keys["manager"]}
    with TestClient(create_app(settings)) as client:
        ev = {"id": client.get("/evaluations", headers=admin).json()["items"][0]["evaluation_id"]}
        evaluation = client.get(f"/evaluations/{ev['id']}", headers=admin).json()
        costly = next(f for f in evaluation["findings"] if f["status"] in ("missed", "violation"))
        appeal = client.post(
            f"/evaluations/{ev['id']}/appeals",
            headers={"X-API-Key": keys["agent"]},
            json={
                "target": "finding",
                "finding_id": costly["id"],
                "reason": f"客户号码 {NUMBERS[0]}",
            },
        )
        assert appeal.status_code == 201, appeal.text
        session = client.post(
            "/calibrations",
            headers=viewer,
            json={"name": "校准", "evaluation_ids": [ev["id"]], "reviewers": ["r1", "r2"]},
        )
        assert session.status_code == 201, session.text
        # the finding whose evidence holds the numbers, reviewed; and one the machine missed,
        # added with the whole call as its evidence: both reach rule precision's examples
        finding = next(f for f in evaluation["findings"] if _leaks(str(f["evidence"])))
        confirmed = client.post(
            f"/evaluations/{ev['id']}/reviews",
            headers=reviewer,
            json={
                "target": "finding",
                "action": "override",
                "finding_id": finding["id"],
                "value": next(s for s in finding["allowed_statuses"] if s != finding["status"]),
                "comment": "复核",
            },
        )
        assert confirmed.status_code == 201, confirmed.text
        leaked = {"POST review": _leaks(confirmed.text)} if _leaks(confirmed.text) else {}
        added = client.post(
            f"/evaluations/{ev['id']}/reviews",
            headers=reviewer,
            json={
                "target": "finding",
                "action": "add",
                "rule_id": "shirk",
                "value": "violation",
                "start": 0,
                "end": 26,
                "comment": "漏检",
            },
        )
        assert added.status_code == 201, added.text
        review_id = added.json()["id"]
        # a stored knowledge base, and a project that started from p's wrap-up (its highlights
        # carry the number); made after the reviews so the wrap-up holds them
        kb = (RUBRICS / "kb" / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
        assert client.post(
            "/knowledge-bases", content=kb.encode(), headers={**admin, **YAML}
        ).status_code in (200, 201)
        carried = client.post("/projects/q/from-wrapup/p", headers=admin)
        assert carried.status_code == 201, carried.text
        with store.session() as s:  # p itself as if it had started from such a project
            s.add(ProjectCarryover(project="p", source_project="q", body=carried.json()))
            s.commit()
        fill = {
            "recording_id": rec.id,
            "evaluation_id": ev["id"],
            "review_id": review_id,
            "job_id": job.id,
            "rubric_id": RUBRIC_ID,
            "version": 1,
            "project": "p",
            "from": 1,
            "to": 1,
            "team": "t",
            "appeal_id": appeal.json()["id"],
            "session_id": session.json()["id"],
            "kb_id": "changxiang-plan",
            "q": "回执发到",  # /search: a hit of the passed call, its number in the line
        }
        urls = []
        for path, required in _get_routes(client.app):
            url = path.format(**fill)
            query = {name: fill[name] for name in required}
            urls.append((url, query))
        urls += [
            ("/projects/p/wrapup", {"format": "markdown"}),
            ("/rules/precision", {"rubric_id": RUBRIC_ID, "project": "p"}),
        ]
        # the number is in the data each of these answers with (checked on the admin's answer)
        carriers = {
            f"/recordings/{rec.id}/transcript",
            f"/evaluations/{ev['id']}",
            f"/reviews/{review_id}",
            f"/jobs/{job.id}",
            "/jobs",
            "/projects/p/trial",
            "/projects/p/wrapup",
            "/projects/p/carried-over",
            "/rules/precision",
            "/search",
            "/appeals",
            f"/appeals/{appeal.json()['id']}",
        }
        seen = set()
        for url, query in urls:
            raw = client.get(url, params=query, headers=admin)
            masked = client.get(url, params=query, headers=viewer)
            assert masked.status_code == raw.status_code, (url, masked.text)
            if not url.endswith("/audio"):  # no audio file in this test: 410 for both
                assert raw.status_code == 200, (url, query, raw.text)
            if _leaks(masked.text):
                leaked[url + ("?format=markdown" if query.get("format") else "")] = _leaks(
                    masked.text
                )
            if url in carriers and _leaks(raw.text):
                seen.add(url)
            if "json" in masked.headers["content-type"]:
                masked.json()  # still JSON
            assert int(masked.headers["content-length"]) == len(masked.content)
        assert not leaked, leaked  # route -> the raw numbers a viewer was sent
        assert seen == carriers, carriers - seen  # the admin sees them raw where they are
        # the web pages with the viewer's cookie (its key's name holds a number, shown on each)
        pages = [
            "/queue",
            "/dashboard",
            "/trial",
            "/wrapup",
            "/precision",
            "/rubric-versions",
            f"/calls/{ev['id']}",
        ]
        for secret, raw_seen in ((keys["viewer"], False), (keys["admin"], True)):
            client.cookies.clear()
            signed = web_sign_in(client, api_key=secret)
            assert signed.status_code == 303
            for page in pages:
                r = client.get(page)
                assert r.status_code == 200 and "text/html" in r.headers["content-type"], page
                assert bool(_leaks(r.text)) == raw_seen, (page, _leaks(r.text))
            # the pages' own reads (the cookie stands in for the key) are masked too
            r = client.get(f"/evaluations/{ev['id']}")
            assert bool(_leaks(r.text)) == raw_seen
        client.cookies.clear()
        # the masked text keeps the masked form and the rest of what was said
        shown = client.get(f"/recordings/{rec.id}/transcript", headers=viewer).json()
        assert shown[1]["text"] == "我考虑一下吧，你打我手机一三八****五六七八"
        assert "每月九十六元，合约期是十二个月" in shown[5]["text"]
        markdown = client.get("/projects/p/wrapup", params={"format": "markdown"}, headers=reviewer)
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert "一三八****五六七八" in markdown.text and not _leaks(markdown.text)
