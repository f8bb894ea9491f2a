"""Knowledge bases stored and versioned in the database (API), rubrics naming them by id, the
audited script of a project and 三统一 (SQLite and PostgreSQL)."""

import json
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation, FindingRow
from qa_service.worker import jobs
from tests.support import RUBRICS, SAMPLES

PROJECT = "合约关怀-十二月"
KB_TEXT = (RUBRICS / "kb" / "contract-care-call.yaml").read_text(encoding="utf-8")
# The care rubric naming its knowledge base by id: no file of that name exists anywhere.
RUBRIC_TEXT = (
    (RUBRICS / "care-call.yaml")
    .read_text(encoding="utf-8")
    .replace("knowledge_base: kb/contract-care-call.yaml", "knowledge_base: contract-care")
)
SCRIPTS = RUBRICS / "scripts"
YAML = {"Content-Type": "application/yaml"}


def c007_turns() -> list[U]:
    ref = json.loads(
        (SAMPLES / "contract-care-call" / "care_C007_20261121-113000.ref.json").read_text(
            encoding="utf-8"
        )
    )
    return [U(t["role"], t["start"], t["end"], t["text"]) for t in ref["turns"]]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_knowledge_bases_versions_scripts_and_unified(request, tmp_path, backend):
    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url)
    admin = {"X-API-Key": create_key(store, "admin", "a")[1]}
    viewer = {"X-API-Key": create_key(store, "viewer", "v")[1]}
    settings = Settings(database_url=url, redis_url=None, storage_dir=tmp_path / "s")
    assert "knowledge_base: contract-care\n" in RUBRIC_TEXT
    with TestClient(create_app(settings)) as client:
        # A rubric naming a knowledge base not stored (and no such file) is refused.
        r = client.post("/rubrics", content=RUBRIC_TEXT.encode(), headers=admin | YAML)
        assert r.status_code == 422, r.text

        r = client.post("/knowledge-bases", content=KB_TEXT.encode(), headers=admin | YAML)
        assert r.status_code == 201, r.text
        assert r.json()["id"] == "contract-care" and r.json()["version"] == 1
        again = client.post("/knowledge-bases", content=KB_TEXT.encode(), headers=admin | YAML)
        assert again.status_code == 200 and again.json()["created"] is False
        changed = KB_TEXT.replace("value: 128", "value: 138")
        r = client.post("/knowledge-bases", content=changed.encode(), headers=admin | YAML)
        assert r.status_code == 409 and "`version`" in r.json()["detail"]
        r = client.post(
            "/knowledge-bases", content=b"id: x\nfacts: [{id: a}]\n", headers=admin | YAML
        )
        assert r.status_code == 422 and r.json()["problems"]
        assert (
            client.post("/knowledge-bases", content=KB_TEXT.encode(), headers=viewer | YAML)
        ).status_code == 403
        v2 = changed.replace("version: 1", "version: 2")
        assert (
            client.post("/knowledge-bases", content=v2.encode(), headers=admin | YAML)
        ).status_code == 201

        listed = client.get("/knowledge-bases", headers=viewer).json()
        assert [(k["id"], k["version"]) for k in listed] == [
            ("contract-care", 1),
            ("contract-care", 2),
        ]
        detail = client.get("/knowledge-bases/contract-care/2", headers=viewer).json()
        facts = {f["id"]: f["value"] for f in detail["facts"]}
        assert facts["price_after_expiry"] == "138元" and facts["auto_renewal"] == "否"
        assert client.get("/knowledge-bases/contract-care/9", headers=viewer).status_code == 404

        # Now the rubric is accepted: its knowledge base resolves by id from the database.
        r = client.post("/rubrics", content=RUBRIC_TEXT.encode(), headers=admin | YAML)
        assert r.status_code == 201, r.text
        rubric = store.rubrics.load("contract-care-call", 1)
        assert (rubric.knowledge.id, rubric.knowledge_version) == ("contract-care", 2)

        # Activating without an audited script warns (三统一), and goes ahead.
        r = client.post(
            "/rubrics/contract-care-call/1/activate", params={"project": PROJECT}, headers=admin
        )
        assert r.status_code == 200 and "没有存档的已核查脚本" in " ".join(r.json()["warnings"])
        r = client.post(
            "/knowledge-bases/contract-care/1/activate",
            params={"project": PROJECT},
            headers=admin,
        )
        assert r.status_code == 200 and r.json()["warnings"]
        # The project runs version 1; other projects read the newest.
        assert store.rubrics.load("contract-care-call", 1, project=PROJECT).knowledge_version == 1
        assert store.rubrics.load("contract-care-call", 1, project="other").knowledge_version == 2
        # parsed once per process, each load its own rubric: attaching to one leaves the other
        ours = store.rubrics.load("contract-care-call", 1, project=PROJECT)
        theirs = store.rubrics.load("contract-care-call", 1, project="other")
        assert (ours.knowledge_version, theirs.knowledge_version) == (1, 2)

        # The planted script: stored with its audit, which quotes the script's own words.
        planted = (SCRIPTS / "contract-care-call.planted.md").read_text(encoding="utf-8")
        r = client.post(
            f"/projects/{PROJECT}/script",
            json={"script": planted, "name": "planted.md"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        stored = r.json()
        assert stored["version"] == 1 and stored["clean"] is False
        assert stored["knowledge_base"] == {"id": "contract-care", "version": 1}
        renewal = [f for f in stored["audit"]["facts"] if f["fact"] == "auto_renewal"]
        assert renewal and renewal[0]["words"] == "到期后会自动续约"
        assert renewal[0]["said"] == "是" and renewal[0]["kb_value"] == "否"
        r = client.post(
            "/rubrics/contract-care-call/1/activate", params={"project": PROJECT}, headers=admin
        )
        assert "未通过核查" in " ".join(r.json()["warnings"])
        setup = client.get(f"/projects/{PROJECT}/setup", headers=viewer).json()
        assert setup["unified"] is False and setup["script"]["clean"] is False

        clean = (SCRIPTS / "contract-care-call.md").read_text(encoding="utf-8")
        r = client.post(
            f"/projects/{PROJECT}/script", json={"script": clean, "name": "v2.md"}, headers=admin
        )
        assert r.status_code == 201 and r.json()["clean"] is True and r.json()["version"] == 2
        r = client.post(
            "/rubrics/contract-care-call/1/activate", params={"project": PROJECT}, headers=admin
        )
        assert r.json()["warnings"] == []
        setup = client.get(f"/projects/{PROJECT}/setup", headers=viewer).json()
        assert setup["unified"] is True, setup
        assert (setup["rubric"], setup["knowledge_base"], setup["script"]["version"]) == (
            {"id": "contract-care-call", "version": 1},
            {"id": "contract-care", "version": 1},
            2,
        )
        # A knowledge-base version the script was not audited with warns.
        r = client.post(
            "/knowledge-bases/contract-care/2/activate",
            params={"project": PROJECT},
            headers=admin,
        )
        assert "知识库是 contract-care v1" in " ".join(r.json()["warnings"])
        client.post(
            "/knowledge-bases/contract-care/1/activate",
            params={"project": PROJECT},
            headers=admin,
        )

        # C007 scored with the stored rubric: the auto-renewal claim is caught, in its words.
        scored = store.rubrics.load("contract-care-call", 1, project=PROJECT)
        turns = c007_turns()
        meta = CallMetadata(
            agent_id="C007", project=PROJECT, call_time=datetime(2026, 12, 1, 11, 30)
        )
        rec = store.recordings.save_transcript(
            "c7" * 32, "c007.mp3", meta, 40.0, 2, "stereo", "x", turns
        )
        result = evaluate("c007.mp3", turns, 40.0, Scorer(scored))
        fact = [f for f in result.findings if f.rule_id == "product_fact.auto_renewal"]
        assert fact and fact[0].evidence[0].matched == "到期后自动续约"
        record_evaluation(store, rec.id, result)

        wrapup = client.get(f"/projects/{PROJECT}/wrapup", headers=viewer)
        assert wrapup.status_code == 200, wrapup.text
        body = wrapup.json()
        assert [v["rule_id"] for v in body["product_fact_violations"]] == [
            "product_fact.auto_renewal"
        ]
        assert body["setup"]["unified"] is True
        markdown = client.get(
            f"/projects/{PROJECT}/wrapup", params={"format": "markdown"}, headers=viewer
        ).text
        assert "contract-care v1" in markdown and "contract-care-call v1" in markdown

        # The policy changes (v3: contracts renew by themselves): rescoring the project reads
        # the version it runs, and the claim is no longer wrong.
        v3 = KB_TEXT.replace("version: 1", "version: 3").replace("value: false", "value: true")
        assert v3.count("value: true") == 1
        client.post("/knowledge-bases", content=v3.encode(), headers=admin | YAML)
        jobs.configure(settings)
        jobs.rescore_project("contract-care-call", 1, PROJECT)
        assert fact_rules(store) == ["product_fact.auto_renewal"]  # still v1 for the project
        client.post(
            "/knowledge-bases/contract-care/3/activate",
            params={"project": PROJECT},
            headers=admin,
        )
        assert store.rubrics.load("contract-care-call", 1, project=PROJECT).knowledge_version == 3
        jobs.rescore_project("contract-care-call", 1, PROJECT)
        assert fact_rules(store) == []


def fact_rules(store: Store) -> list[str]:
    with store.session() as s:
        return sorted(
            f.rule_id
            for f in s.exec(
                select(FindingRow)
                .join(Evaluation, Evaluation.id == FindingRow.evaluation_id)
                .where(Evaluation.project == PROJECT, Evaluation.is_current)
            ).all()
            if f.rule_id.startswith("product_fact")
        )


def test_trial_report_of_a_project_without_an_active_rubric(tmp_path, sqlite_url):
    """A project scored outside the API (the CLI) has no active rubric: its trial report is
    read with the rubric its calls were scored with."""
    store = Store(sqlite_url)
    viewer = {"X-API-Key": create_key(store, "viewer", "v")[1]}
    rubric = load_rubric(RUBRICS / "care-call.yaml")
    store.rubrics.save(rubric, (RUBRICS / "care-call.yaml").read_text(encoding="utf-8"))
    turns = c007_turns()
    for i in range(2):
        meta = CallMetadata(
            agent_id=f"A{i}",
            project="cli-care",
            call_time=datetime(2026, 12, 1, 9 + i),
            phase="trial",
        )
        rec = store.recordings.save_transcript(
            f"{i:064x}", f"c{i}.mp3", meta, 40.0, 2, "stereo", "x", turns
        )
        record_evaluation(store, rec.id, evaluate(f"c{i}.mp3", turns, 40.0, Scorer(rubric)))
    assert store.rubrics.active_in("cli-care") is None
    settings = Settings(database_url=sqlite_url, redis_url=None, storage_dir=tmp_path / "s")
    with TestClient(create_app(settings)) as client:
        r = client.get("/projects/cli-care/trial", headers=viewer)
        assert r.status_code == 200, r.text
        assert r.json()["rubric"]["id"] == "contract-care-call"
        setup = client.get("/projects/cli-care/setup", headers=viewer).json()
        assert setup["rubric"] == {"id": "contract-care-call", "version": 1}
        assert setup["unified"] is False and setup["script"] is None
