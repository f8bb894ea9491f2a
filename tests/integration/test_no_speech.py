"""Recordings with no speech (silence, noise) through the real model, the store, the KPIs and
the API: not graded (grade no_speech, no score, a warning), counted apart from every KPI,
listed and flagged for a person."""

import json
import wave
from datetime import datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.scoring import QAService
from qa_service.config import NO_SPEECH_WARNING
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.metrics.kpis import common_errors, kpi_rows
from qa_service.review.reviews import ReviewRequest, create_review
from qa_service.rules.rubric import load_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.rollups import rebuild
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation
from tests.integration.test_api import hdr, make_api
from tests.support import RUBRICS

BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])
RUBRIC_YAML = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
GROUPS = ("agent", "project", "day", "hour", "rubric")


def write_wav(path, samples: np.ndarray, rate: int = 8000) -> str:
    """Stereo 16-bit PCM from float samples in [-1, 1] (frames x 2)."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return str(path)


def test_silence_and_noise_are_not_graded_listed_and_flagged(tmp_path, sqlite_url, recognizer):
    inbox = tmp_path / "calls"
    inbox.mkdir()
    rng = np.random.default_rng(7)
    silence = write_wav(inbox / "p_A1_20261120-093000.wav", np.zeros((8000, 2)))  # 1 s
    noise = write_wav(  # loud hiss and mains hum on both channels
        inbox / "p_A2_20261120-094000.wav",
        rng.normal(0, 0.2, (12 * 8000, 2))
        + 0.1 * np.sin(2 * np.pi * 50 * np.arange(12 * 8000) / 8000)[:, None],
    )
    settings, key = make_api(tmp_path, sqlite_url, redis_url=None)
    store = Store(sqlite_url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    service = QAService(store, settings, recognizer)
    outcomes = service.score_files([silence, noise], rubric)
    for outcome in outcomes:
        assert outcome.error is None
        printed = outcome.to_dict()  # what `qa-service score --format json` prints
        assert printed["grade"] == "no_speech", printed
        assert "score" in printed and printed["score"] is None
        assert printed["findings"] == [] and printed["asr_confidence"] == 0.0
        assert NO_SPEECH_WARNING in printed["warnings"]
        assert json.loads(json.dumps(printed))["score"] is None
    with TestClient(create_app(settings)) as client:
        viewer = hdr(key["viewer"])
        listed = client.get("/evaluations", params={"project": "p"}, headers=viewer).json()
        assert listed["total"] == 2
        assert {(i["grade"], i["score"], i["machine_score"]) for i in listed["items"]} == {
            ("no_speech", None, None)
        }
        only = client.get("/evaluations", params={"grade": "no_speech"}, headers=viewer).json()
        assert only["total"] == 2
        flagged = client.get("/flagged", params={"project": "p"}, headers=viewer).json()
        assert flagged["total"] == 2
        for item in flagged["items"]:
            assert "no_speech" in item["reasons"] and item["score"] is None
        one = client.get(f"/evaluations/{flagged['items'][0]['evaluation_id']}", headers=viewer)
        body = one.json()
        assert body["grade"] == "no_speech" and body["score"] is None
        assert body["machine"]["score"] is None and body["asr_confidence"] == 0.0
        assert NO_SPEECH_WARNING in body["warnings"] and body["findings"] == []
        kpis = client.get("/kpis", params={"group_by": "project"}, headers=viewer).json()
        assert kpis == [
            {"project": "p", "evaluated": 0, "passed": 0, "excellent": 0, "success": 0}
            | {"fatal": 0, "no_speech": 2, "listened": 0, "listened_passed": 0, "calling_hours": 0}
        ]
        assert client.get("/kpis/errors", headers=viewer).json() == []


def _store_call(store, rubric, sha, agent, when, utterances, duration=60.0):
    rec = store.recordings.save_transcript(
        sha * 32,
        f"{sha}.wav",
        CallMetadata(project="p", agent_id=agent, call_time=when),
        duration,
        2,
        "stereo",
        "embedded",
        utterances,
    )
    return record_evaluation(store, rec.id, evaluate(f"{sha}.wav", utterances, duration, rubric))


GOOD = [
    U("agent", 0.5, 3.0, "您好，请问是王先生吗？我是电信客服。"),
    U("customer", 3.5, 4.5, "是我，什么事？"),
    U("agent", 5.0, 12.0, "您的畅享套餐可以升级，每月九十六元，合约期十二个月。"),
    U("customer", 13.0, 14.0, "好的，那就办吧。"),
    U("agent", 15.0, 18.0, "好的，已为您办理，祝您生活愉快，再见。"),
]
CURT = [U("agent", 0.5, 3.0, "喂，办个套餐吗？"), U("customer", 3.5, 4.5, "不需要。")]


def _everything(store, since=None, until=None):
    return {
        **{
            group: [
                r.model_dump(exclude={"no_speech"})
                for r in store.read(kpi_rows, group, since=since, until=until)
            ]
            for group in GROUPS
        },
        "errors": [
            e.model_dump(exclude={"example_recordings"})
            for e in store.read(common_errors, since=since, until=until)
        ],
    }


@BACKENDS
def test_kpis_are_the_same_with_a_no_speech_call(request, backend):
    """Pass rate, excellent rate, averages and common errors over a set of calls do not move
    when a silent call joins it (in an agent-hour with other calls, and alone in its own);
    the rollups rebuilt from scratch agree, and `no_speech` counts it."""
    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url)
    rubric = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    store.rubrics.save(rubric, RUBRIC_YAML)
    scorer = Scorer(rubric)
    _store_call(store, scorer, "a1", "A1", datetime(2026, 11, 20, 9, 10), GOOD)
    _store_call(store, scorer, "a2", "A1", datetime(2026, 11, 20, 9, 40), CURT)
    _store_call(store, scorer, "b1", "A2", datetime(2026, 11, 21, 14, 5), CURT)
    ragged = (datetime(2026, 11, 20, 9, 20), datetime(2026, 11, 21, 14, 30))
    before, before_ragged = _everything(store), _everything(store, *ragged)
    assert before["agent"][0]["evaluated"] == 2 and before["errors"]

    silent = _store_call(store, scorer, "c1", "A1", datetime(2026, 11, 20, 9, 50), [], 1.0)
    alone = _store_call(store, scorer, "c2", "A3", datetime(2026, 11, 22, 8, 0), [], 43.0)
    assert silent.grade == alone.grade == "no_speech" and silent.asr_confidence == 0.0

    def same(after, wanted):
        for group in GROUPS:  # A3 and 2026-11-22 have only a silent call: a row counting it
            rows = [r for r in after[group] if r["evaluated"]]
            assert rows == wanted[group], group
        assert after["errors"] == wanted["errors"]

    same(_everything(store), before)
    same(_everything(store, *ragged), before_ragged)
    counts = {r.agent: r.no_speech for r in store.read(kpi_rows, "agent")}
    assert counts == {"A1": 1, "A2": 0, "A3": 1}
    (a3,) = [r for r in store.read(kpi_rows, "agent") if r.agent == "A3"]
    assert a3.evaluated == 0 and a3.pass_rate is None and a3.average_talk_seconds is None
    with store.session() as s:
        rebuild(s)
        s.commit()
    same(_everything(store), before)
    assert {r.agent: r.no_speech for r in store.read(kpi_rows, "agent")} == counts

    # A reviewer adding a finding does not grade the call; overriding its grade does.
    def review(**kw):
        with store.session() as s:
            create_review(s, silent.id, ReviewRequest(**kw), "qa")
            s.commit()
        with store.session() as s:
            return s.get(Evaluation, silent.id)

    ev = review(
        target="finding",
        action="add",
        rule_id="shirk",
        value="violation",
        start=0.1,
        end=0.5,
        comment="heard it",
    )
    assert ev.effective_grade == "no_speech"
    same(_everything(store), before)
    ev = review(target="grade", action="override", value="fail", comment="the agent hung up")
    assert ev.effective_grade == "fail"
    (a1,) = [r for r in store.read(kpi_rows, "agent") if r.agent == "A1"]
    assert (a1.evaluated, a1.no_speech) == (3, 0)
    with store.session() as s:
        rebuild(s)
        s.commit()
    assert [r.model_dump() for r in store.read(kpi_rows, "agent")][0] == a1.model_dump()
