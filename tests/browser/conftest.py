"""Browser-test fixtures: the sample calls scored once per session with the real model, the
service on a free port in a thread, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support import ROOT, RUBRICS, SAMPLES, need, wait_for

CHROMIUM = os.environ.get("QA_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "browser" / "screenshots"
# The network is closed: nothing in the background may try to reach it.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="session")
def web_data(tmp_path_factory, recognizer):
    """A database with every sample call scored by the real model against its campaign's rubric,
    each rubric active for its project, and one key per role."""
    from qa_service.app.keys import create_key
    from qa_service.app.scoring import QAService, find_audio
    from qa_service.config import Settings
    from qa_service.rules.rubric import load_rubric
    from qa_service.storage.store import Store

    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'web.db'}"
    settings = Settings(
        database_url=url, storage_dir=folder / "data", session_secret="browser-tests"
    )
    store = Store(url)
    service = QAService(store, settings, recognizer)
    projects = {}
    for path in sorted(RUBRICS.glob("*.yaml")):
        rubric = load_rubric(path)
        files = list(find_audio([SAMPLES / rubric.id]))
        if not files:
            continue
        store.rubrics.save(rubric, path.read_text(encoding="utf-8"))
        for outcome in service.score_files(files, rubric):
            assert outcome.error is None, outcome.error
            project = outcome.result.project
            if project not in projects:
                store.rubrics.activate(project, rubric.id, rubric.version)
                projects[project] = rubric.id
    roles = {
        role: create_key(store, role, f"测试{role}")[1] for role in ("viewer", "reviewer", "admin")
    }
    return {
        "settings": settings,
        "store": store,
        "keys": roles,
        "projects": projects,
        "people": make_people(store, service, folder),
    }


PASSWORD = "浏览器测试密码123"


def make_people(store, service, folder) -> dict:
    """People who sign in with a password: an agent with calls of their own (two hand-made
    calls, the oldest of the database, so no other test's "first call" is theirs), a QA
    manager and two reviewers."""
    from datetime import datetime

    from qa_service.app.people import create_user
    from qa_service.domain.metadata import CallMetadata
    from qa_service.files import sha256_of
    from qa_service.rules.rubric import load_rubric
    from tests.integration.test_reviews import GOOD, RUDE
    from tests.support import write_wav

    agent_id = "B001"
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    for i, utterances in enumerate((RUDE, GOOD)):
        path = write_wav(folder / f"agent-own-{i}.wav", 12.0 + i)
        meta = CallMetadata(
            agent_id=agent_id,
            project="telecom-upgrade",
            call_time=datetime(2026, 11, 1, 9 + i),
            # the good one is a trial call: a passed success whose lines the library keeps
            phase="trial" if i else "production",
        )
        sidecar = {**meta.__dict__, "call_time": meta.call_time.isoformat()}
        path.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
        store.recordings.save_transcript(
            sha256_of(path), str(path), meta, 13.0, 2, "stereo", "hand-made", utterances
        )
        assert service.score_file(path, rubric).error is None
    people = {
        "agent": create_user(store, "坐席小李", PASSWORD, "agent", agent_id=agent_id),
        "manager": create_user(store, "主管老周", PASSWORD, "manager"),
        "reviewer": create_user(store, "质检员甲", PASSWORD, "reviewer"),
        "reviewer2": create_user(store, "质检员乙", PASSWORD, "reviewer"),
    }
    return {role: {"name": u.name, "agent_id": u.agent_id} for role, u in people.items()}


@pytest.fixture(scope="session")
def server(web_data):
    """`qa-service serve`'s app on a free local port, in this process (a thread)."""
    import uvicorn

    from qa_service.api import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = uvicorn.Config(
        create_app(web_data["settings"]), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    assert wait_for(lambda: srv.started, timeout=30), "the service did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    need(
        Path(CHROMIUM).exists(),
        f"Chromium not found at {CHROMIUM} (make test installs it: "
        "apt-get install chromium chromium-driver)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright is not installed (pip install -e '.[test]')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def signed_in(browser, server, web_data):
    """sign_in(role) -> a page signed in through the form with that role's key."""
    contexts = []

    def sign_in(role="reviewer", path="/queue"):
        context = browser.new_context(
            viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        page.goto(server + path)
        page.click(".key-login summary")  # keys sign in under 使用 API 密钥登录
        page.fill("#api_key", web_data["keys"][role])
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
        return page

    yield sign_in
    for c in contexts:
        c.close()


@pytest.fixture
def shot():
    def save(page, name):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)

    return save


@pytest.fixture
def api_get(server, web_data):
    """api_get(path, role="viewer") -> the JSON the API answers with that role's header key."""
    import httpx

    def get(path, role="viewer"):
        r = httpx.get(server + path, headers={"X-API-Key": web_data["keys"][role]}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    return get


@pytest.fixture
def flagged_call(api_get):
    """flagged_call(fatal) -> a flagged call the machine failed, with or without a fatal finding,
    that has a missed/violated finding with evidence (int8 decoding differs by CPU, so which
    sample call that is differs by machine: chosen by what was found, never by name)."""
    bad = {"missed", "violation", "unhandled"}

    def has_bad_evidence(item):
        findings = api_get(f"/evaluations/{item['evaluation_id']}")["findings"]
        return any(f["status"] in bad and f.get("evidence") for f in findings)

    def pick(fatal):
        items = api_get("/flagged?page_size=100")["items"]
        failed = [i for i in items if bool(i["fatal"]) == fatal and i["grade"] == "fail"]
        assert failed, f"no failed sample call with fatal={fatal} among {len(items)} flagged"
        return next((i for i in failed if has_bad_evidence(i)), failed[0])

    return pick


@pytest.fixture
def open_call(server):
    """open_call(page, evaluation_id): the call page, loaded, its audio's metadata known."""

    def go(page, evaluation_id):
        page.goto(f"{server}/calls/{evaluation_id}")
        page.wait_for_selector("body[data-loaded='1']", state="attached")
        page.wait_for_function("() => document.getElementById('audio').readyState >= 1")

    return go


@pytest.fixture(scope="session")
def seeded(server, web_data):
    """The QA loop's data on top of the scored sample calls (once a session: the page
    screenshots and the tests of what they showed share it); returns what the pages open on."""
    from qa_service.app.keys import create_key
    from qa_service.app.people import authenticate
    from qa_service.worker.nightly import run_bulletins
    from tests.browser import test_customer_voice as voice

    store, people = web_data["store"], web_data["people"]
    admin = {"X-API-Key": web_data["keys"]["admin"]}

    def call(method, path, **kw):
        r = httpx.request(method, server + path, headers=kw.pop("headers", admin), **kw)
        assert r.status_code < 300, (path, r.text)
        return r.json()

    if voice.PROJECT not in {r["id"] for r in call("GET", "/rubrics")}:
        _voice_project(store, voice)  # customers' words (客户之声) in a trial project
    yaml_type = {**admin, "content-type": "application/yaml"}
    for kb in ("telecom-data-upgrade", "contract-care-call"):
        text = (RUBRICS / "kb" / f"{kb}.yaml").read_text(encoding="utf-8")
        call("POST", "/knowledge-bases", content=text.encode(), headers=yaml_type)
    text = (RUBRICS / "care-call.yaml").read_text(encoding="utf-8")  # a second version
    text = re.sub(r"^version: \d+", "version: 9", text, flags=re.M)
    text = text.replace("pass_score: 80", "pass_score: 70")
    call("POST", "/rubrics", content=text.encode(), headers=yaml_type)
    run_bulletins(store, datetime(2026, 11, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))

    reviewers = [people["reviewer"]["name"], people["reviewer2"]["name"]]
    plan = call(
        "POST",
        "/plans",
        json={
            "project": "telecom-upgrade",
            "name": "电信升级每周抽检",
            "criteria": {"random_percent": 100, "per": "week", "min_per_agent": 1},
            "reviewers": [{"name": n, "quota": 3} for n in reviewers],
        },
    )
    for day in ("2026-11-20", "2026-11-01"):
        call("POST", f"/plans/{plan['id']}/run", params={"day": day})
    calls = call("GET", "/evaluations", params={"page_size": 200})["items"]
    telecom = [c["evaluation_id"] for c in calls if c["project"] == "telecom-upgrade"]
    calibration = call(
        "POST",
        "/calibrations",
        json={
            "name": "十一月校准",
            "evaluation_ids": telecom[:2],
            "reviewers": reviewers,
        },
    )

    def key_of(name, role):  # an API key acting as this person
        user = authenticate(store, name, PASSWORD)
        return {"X-API-Key": create_key(store, role, name, user_id=user.id)[1]}

    # both reviewers judge the first call; the second disagrees on its last rule
    for n, name in enumerate(reviewers):
        mine = key_of(name, "reviewer")
        first = call("GET", f"/calibrations/{calibration['id']}", headers=mine)["calls"][0]
        values = {i["rule_id"]: i["allowed"][0] for i in first["items"]}
        values[first["items"][-2]["rule_id"]] = first["items"][-2]["allowed"][n % 2 - 1]
        call(
            "PUT",
            f"/calibrations/{calibration['id']}/scores",
            headers=mine,
            json={"evaluation_id": first["evaluation_id"], "values": values},
        )

    agent_id = people["agent"]["agent_id"]
    agent = key_of(people["agent"]["name"], "agent")
    own = [c for c in calls if c["agent_id"] == agent_id]
    bad = [
        (c["evaluation_id"], f["id"])
        for c in own
        for f in call("GET", f"/evaluations/{c['evaluation_id']}")["findings"]
        if f["source"] == "machine" and f["status"] in ("missed", "violation", "unhandled")
    ]
    reasons = ["这句话是客户说的，不是我说的", "我已经说明了资费，录音里能听到", "客户没有异议"]
    appeals = []
    for ev, fid in bad:  # a finding another test appealed and had ruled is not appealed again
        r = httpx.post(
            f"{server}/evaluations/{ev}/appeals",
            headers=agent,
            json={"target": "finding", "finding_id": fid, "reason": reasons[len(appeals)]},
        )
        if r.status_code == 201:
            appeals.append(r.json())
        if len(appeals) == len(reasons):
            break
    assert appeals, f"no finding to appeal among {agent_id}'s calls"
    for appeal in appeals[:2]:
        call("POST", f"/appeals/{appeal['id']}/assign", json={"reviewer": reviewers[0]})
    reviewer = key_of(reviewers[0], "reviewer")
    call(
        "POST",
        f"/appeals/{appeals[0]['id']}/ruling",
        headers=reviewer,
        json={"decision": "upheld", "comment": "复听确认：坐席确实漏说了资费"},
    )
    flagged = call("GET", "/flagged", params={"page_size": 100})["items"]
    worst = min(flagged, key=lambda i: i["score"] if i["score"] is not None else 999)
    return {
        "call": worst["evaluation_id"],
        "own_call": min(own, key=lambda c: c["score"] or 0)["evaluation_id"],
        "calibration": calibration["id"],
        "typed": [
            *web_data["projects"],
            *(c["agent_id"] or "" for c in calls),
            *(r["id"] for r in call("GET", "/rubrics")),
            *(k["id"] for k in call("GET", "/knowledge-bases")),
            voice.PROJECT,
            *[f"测试{role}" for role in ("viewer", "reviewer", "admin")],
        ],
    }


def _voice_project(store, voice):
    """test_customer_voice's hand-made trial calls (its fixture belongs to its module)."""
    from qa_service.app.evaluations import record_evaluation
    from qa_service.domain.metadata import CallMetadata
    from qa_service.rules.rubric import parse_rubric
    from qa_service.rules.scoring import Scorer, evaluate

    rubric = parse_rubric(voice.RUBRIC, "voice-web")
    store.rubrics.save(rubric, voice.RUBRIC)
    store.rubrics.activate(voice.PROJECT, rubric.id, rubric.version)
    for i, utts in enumerate(voice.CALLS):
        meta = CallMetadata(agent_id=f"V{i}", project=voice.PROJECT, phase="trial")
        rec = store.recordings.save_transcript(
            f"{0xE00 + i:064x}", f"voice-{i}", meta, 20.0, 2, "stereo", "hand-made", utts
        )
        record_evaluation(store, rec.id, evaluate(f"voice-{i}", utts, 20.0, Scorer(rubric)))


# These modules store calls without audio (and a bulletin) in the session's shared server:
# they run after the modules that count its calls or play their audio.
ADDS_CALLS = (
    "test_customer_voice.py",
    "test_guide_map_labels.py",
    "test_knowledge_bulletin.py",
    "test_page_screenshots.py",
    "test_pages_named.py",
)


# Screenshots of every page (docs/web-pages.md) are taken when asked, not in `make test`:
# deselected otherwise, so that no test of the layer is ever skipped.
SCREENSHOTS_ONLY = "test_page_screenshots.py"


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("QA_PAGE_SCREENSHOTS"):
        dropped = [item for item in items if item.path.name == SCREENSHOTS_ONLY]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if item.path.name != SCREENSHOTS_ONLY]
    # stable: the rest keep their order; these run last, in ADDS_CALLS's order (the voice
    # project's own test before the shared QA-loop data adds calls to that project)
    items.sort(
        key=lambda item: ADDS_CALLS.index(item.path.name) + 1 if item.path.name in ADDS_CALLS else 0
    )


def sign_in(browser, server, web_data, viewport, who):
    """A new browser context and its page at `viewport` (zh-CN, Asia/Shanghai), signed in as a
    person of web_data's people, as "admin" (its API key), or not at all (`who` None)."""
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    if who is None:
        return context, page
    page.goto(server + "/login")
    if who == "admin":
        page.click(".key-login summary")
        page.fill("#api_key", web_data["keys"]["admin"])
    else:
        page.fill("#name", web_data["people"][who]["name"])
        page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)
    return context, page
