"""Calls named as people know them (storage/callrefs.py): the reports and pages' APIs name a
call by its agent and call time, a hand-made call without one by its file name; with them the
wrap-up's knowledge base by its own name, the list of all calls with why a call is flagged,
a call with its rubric's title and a rubric diff's fields by label."""

import re
from datetime import datetime

from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.config import Settings, get_settings
from qa_service.domain.metadata import CallMetadata
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.callrefs import call_name, call_refs
from qa_service.storage.store import Store
from tests.integration.test_bulletin import GOOD, RUDE
from tests.support import RUBRICS

PROJECT = "named-calls"


def _seed(tmp_path) -> tuple[Store, list[int]]:
    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    path = RUBRICS / "telecom-data-upgrade.yaml"
    rubric = load_rubric(path)
    store.rubrics.save(rubric, path.read_text(encoding="utf-8"))
    store.rubrics.activate(PROJECT, rubric.id, rubric.version)
    scorer = Scorer(rubric)
    ids = []
    # (agent, call time in the call center's zone or none, file, transcript)
    calls = [
        ("A1", "2026-12-01T09:05:00", "in/2026/a1-0905.wav", RUDE),
        ("A2", None, "hand/made-1.wav", RUDE),
        ("A1", "2026-12-01T10:30:00", "in/2026/a1-1030.wav", GOOD),
    ]
    for i, (agent, when, name, utts) in enumerate(calls):
        meta = CallMetadata(
            agent_id=agent,
            project=PROJECT,
            call_time=datetime.fromisoformat(when) if when else None,
            phase="production",
        )
        rec = store.recordings.save_transcript(
            f"{0xCA11 + i:064x}", name, meta, 10.0, 2, "stereo", "x", utts
        )
        record_evaluation(store, rec.id, evaluate(name, utts, 10.0, scorer))
        ids.append(rec.id)
    return store, ids


def test_calls_are_named_by_agent_and_time_or_file(tmp_path):
    get_settings.cache_clear()
    store, (timed, hand, _good) = _seed(tmp_path)
    with store.session() as s:
        refs = call_refs(s, [timed, hand, 99999])
    assert set(refs) == {timed, hand}  # a recording not stored is not named
    assert refs[timed].file_name is None  # only a call without a call time shows its file
    assert refs[hand].file_name == "made-1.wav" and refs[hand].call_time is None
    assert call_name(refs[timed], timed) == "A1 · 12-01 09:05"
    assert call_name(refs[hand], hand) == "A2 · 文件 made-1.wav"
    assert call_name(None, 7) == "#7"

    viewer = {"X-API-Key": create_key(store, "viewer", "v")[1]}
    admin = {"X-API-Key": create_key(store, "admin", "a")[1]}
    settings = Settings(database_url=store.url, redis_url=None, storage_dir=tmp_path / "s")
    with TestClient(create_app(settings)) as client:
        errors = client.get("/kpis/errors", headers=viewer).json()
        rude = next(e for e in errors if e["rule_id"] == "rude")
        assert [c["recording_id"] for c in rude["example_calls"]] == rude["example_recordings"]
        named = {c["recording_id"]: c for c in rude["example_calls"]}
        assert named[timed]["agent_id"] == "A1"
        assert named[timed]["call_time"].startswith("2026-12-01T09:05:00+08:00")
        assert named[hand]["file_name"] == "made-1.wav"

        wrapup = client.get(f"/projects/{PROJECT}/wrapup", headers=viewer).json()
        assert wrapup["rubric"]["knowledge_base"] == "kb/telecom-data-upgrade.yaml"
        assert wrapup["rubric"]["knowledge_base_name"] == "畅享套餐"
        assert wrapup["rubric"]["knowledge_base_version"] == 1
        trends = [c for e in wrapup["common_errors"] for c in e["example_calls"]]
        assert trends and all(c["agent_id"] for c in trends)
        markdown = client.get(f"/projects/{PROJECT}/wrapup?format=markdown", headers=viewer).text
        assert "A1 · 12-01 09:05" in markdown and "A2 · 文件 made-1.wav" in markdown
        assert "知识库 畅享套餐 v1" in markdown and "kb/telecom-data-upgrade.yaml" not in markdown

        # 全部通话: a failed call says why it is flagged, as the flagged list does
        items = client.get(f"/evaluations?project={PROJECT}", headers=viewer).json()["items"]
        flagged = {
            i["evaluation_id"]: i["reasons"]
            for i in client.get("/flagged?page_size=100", headers=viewer).json()["items"]
        }
        assert any(i["grade"] == "fail" for i in items)
        for item in items:
            assert item["reasons"] == flagged.get(item["evaluation_id"], [])

        call = client.get(f"/evaluations/{items[0]['evaluation_id']}", headers=viewer).json()
        assert call["rubric_name"] == "畅享套餐升级外呼营销"

        # a rubric diff's fields by label, the YAML key beside it
        text = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
        text = re.sub(r"^version: \d+", "version: 2", text, flags=re.M)
        text = text.replace("pass_score: 80", "pass_score: 75")
        yaml_type = {**admin, "content-type": "application/yaml"}
        assert client.post("/rubrics", content=text.encode(), headers=yaml_type).status_code < 300
        diff = client.get("/rubrics/telecom-data-upgrade/diff?from=1&to=2", headers=viewer).json()
        (field,) = next(r for r in diff["rules"] if r["rule_id"] == "scoring")["fields"]
        assert (field["field"], field["label"]) == ("pass_score", "合格分")
