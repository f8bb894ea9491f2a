"""Customers' questions, refusals and drop-off in the trial report, the in-flight report and the
wrap-up; highlight proposals (lines agents invented that precede acceptance) and reviewers'
decisions on highlight lines. Calls are stored from the dev corpus's reference transcripts
(no recognition) or made by hand."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation
from qa_service.app.keys import create_key
from qa_service.config import Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.metrics.models import HighlightDecisionIn
from qa_service.metrics.reports import decide_highlight, inflight_report, trial_report
from qa_service.metrics.voice import Detector, Kind
from qa_service.metrics.wrapup import to_markdown, wrapup_report
from qa_service.rules.rubric import parse_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from tests.support import DEV, need


def dev_calls():
    need(DEV.exists(), f"dev corpus not found at {DEV}")
    out = {}
    for path in sorted(DEV.glob("*.ref.json")):
        ref = json.loads(path.read_text(encoding="utf-8"))
        utts = [U(t["role"], t["start"], t["end"], t["text"]) for t in ref["turns"]]
        out[ref["id"]] = (utts, ref["duration"])
    return out


def store_calls(store, rubric, calls, phase="trial", start=None):
    scorer = Scorer(rubric)
    ids = {}
    for i, (cid, (utts, duration)) in enumerate(sorted(calls.items())):
        meta = CallMetadata(
            agent_id=f"A{i % 4}",
            project="dev",
            phase=phase,
            call_time=start + timedelta(minutes=10 * i) if start else None,
        )
        rec = store.recordings.save_transcript(
            f"{phase}{i:060x}", cid, meta, duration, 2, "stereo", "reference", utts
        )
        record_evaluation(store, rec.id, evaluate(cid, utts, duration, scorer))
        ids[cid] = rec.id
    return ids


def test_trial_report_lists_customers_questions_on_dev_calls(tmp_path, dev_rubric, dev_labels):
    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    calls = dev_calls()
    recordings = store_calls(store, dev_rubric, calls)
    with store.session() as s:
        report = trial_report(s, dev_rubric, "dev")
    voice = report.customer_voice
    assert voice is not None and voice.calls == len(calls) == 16

    # what customers said, read utterance by utterance with the same general words
    bare = Detector()

    def calls_saying(words):
        return {
            cid
            for cid, (utts, _) in calls.items()
            if any(u.role == "customer" and words in u.text for u in utts)
        }

    by_label = {g.label: g for g in voice.questions}
    fee = next(g for g in voice.questions if "手续费" in g.label)
    assert fee.calls == len(calls_saying("手续费")) and fee.after_section == "closing"
    start = next(g for g in voice.questions if "下个月开始算" in g.label)
    assert start.calls == len(calls_saying("下个月开始算")) == 3
    assert start.share_of_calls == round(3 / 16, 4)
    assert {x.recording_id for x in start.examples} <= {
        recordings[c] for c in calls_saying("下个月开始算")
    }
    ex = start.examples[0]
    utts = calls[next(c for c, r in recordings.items() if r == ex.recording_id)][0]
    assert any(u.start == ex.start and u.text == ex.text for u in utts)
    # backchannels are no questions, whatever their question mark
    said = [v for g in voice.questions + voice.refusals for v in g.variants]
    assert not any(w in v for v in said for w in ("然后呢", "还有呢", "这样啊"))
    assert all(bare.kind(v).kind != Kind.BACKCHANNEL for v in said)
    assert any("哪位" in label for label in by_label)

    # refusals the rubric does not name (不需要，谢谢) next to its objections
    refusals = {g.label: g for g in voice.refusals}
    plain = next(g for label, g in refusals.items() if "不需要" in label)
    assert plain.objection_id is None and plain.calls == len(calls_saying("不需要"))
    fraud = next(g for g in voice.refusals if g.objection_id == "fraud_suspect")
    assert fraud.calls == len(calls_saying("骗")) and len(fraud.variants) == 2
    assert fraud.objection_name == "怀疑诈骗"
    # one objection of the rubric is one reason, in whatever words (以后再说 / 考虑一下)
    hesitate = [g for g in voice.refusals if g.objection_id == "think_about_it"]
    assert len(hesitate) == 1
    assert hesitate[0].calls == len(calls_saying("以后再说") | calls_saying("考虑一下"))

    # drop-off: every call that ended in refusal, once, after the section said last
    refused = sum(label["outcome"] == "refusal" for label in dev_labels.values())
    assert sum(d.refused_after for d in voice.drop_off) == refused
    worst = max(voice.drop_off, key=lambda d: d.refused_after)
    assert worst.section_id == "closing" and worst.refused_share == round(
        worst.refused_after / worst.reached, 4
    )
    assert "backchannel" in voice.rule or "嗯" in voice.rule

    # the wrap-up carries the same, in Chinese in its Markdown
    with store.session() as s:
        wrapped = wrapup_report(s, "dev", dev_rubric)
    assert wrapped.customer_voice == voice
    text = to_markdown(wrapped)
    assert "客户问题与需求" in text and "流失环节" in text and fee.label in text


def test_inflight_report_has_the_customers_of_its_widest_window(tmp_path, dev_rubric):
    store = Store(f"sqlite:///{tmp_path / 'qa.db'}")
    calls = dev_calls()
    # ten minutes apart: the first 6 hours hold all 16 calls
    store_calls(store, dev_rubric, calls, phase="production", start=datetime(2026, 11, 23, 9))
    with store.session() as s:
        without = inflight_report(s, "dev")
        report = inflight_report(s, "dev", rubric=dev_rubric)
    assert without.customer_voice is None
    assert report.customer_voice is not None and report.customer_voice.calls == 16
    assert any("手续费" in g.label for g in report.customer_voice.questions)


RUBRIC = """
id: hl
script_sections:
  - {id: intro, kind: product_intro, any: [给您介绍一下]}
  - {id: closing, kind: closing, any: [为您办理]}
attitude_errors:
  - {id: rude, any: [你烦不烦], deduct: 100, severity: fatal}
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


HAND_CALLS = {
    # the invented line, then acceptance, in two calls that pass
    "c1": _call(("给您介绍一下畅享套餐", "嗯"), (INVENTED, "那就办吧"), ("为您办理", "好的")),
    "c2": _call(("给您介绍一下畅享套餐", "嗯"), ("这个月办理还多送您一个视频会员哦", "那就办吧")),
    # lines not in the script after which nobody accepts
    "c3": _call(("给您介绍一下畅享套餐", "嗯"), ("我们的网络覆盖全国各地城市", "不需要")),
    "c4": _call(
        ("给您介绍一下畅享套餐", "嗯"), ("我们的网络覆盖全国各地城市", "嗯"), ("为您办理", "不需要")
    ),
    # two fatal calls: their line preceded acceptance twice, yet is no example to propose
    "c5": _call(
        ("你烦不烦", "嗯"), ("每个月都有专人回访您的使用", "那就办吧"), ("为您办理", "那就办吧")
    ),
    "c6": _call(("你烦不烦", "嗯"), ("每个月都有专人回访您的使用", "那就办吧")),
}


@pytest.fixture(params=["sqlite", "postgres"])
def hand_store(request):
    store = Store(request.getfixturevalue(f"{request.param}_url"))
    rubric = parse_rubric(RUBRIC, "hl")
    scorer = Scorer(rubric)
    ids = {}
    for i, (cid, utts) in enumerate(HAND_CALLS.items()):
        rec = store.recordings.save_transcript(
            f"{i:064x}", cid, CallMetadata(project="p", phase="trial"), 20.0, 2, "stereo", "x", utts
        )
        record_evaluation(store, rec.id, evaluate(cid, utts, 20.0, scorer))
        ids[cid] = rec.id
    return store, rubric, ids


def test_lines_agents_invented_that_precede_acceptance_are_proposed(hand_store):
    store, rubric, ids = hand_store
    with store.session() as s:
        report = trial_report(s, rubric, "p")
    # agent lines and the ones the customer's next utterance accepted, counted by hand
    lines = [u for utts in HAND_CALLS.values() for u in utts if u.role == "agent"]
    accepted = (
        6  # c1: invented, 为您办理 (好的); c2: invented; c5: 每个月..., 为您办理; c6: 每个月...
    )
    assert report.acceptance_after_lines == round(accepted / len(lines), 4)
    assert len(report.highlight_proposals) == 1, report.highlight_proposals
    p = report.highlight_proposals[0]
    assert p.asr_text in (INVENTED, INVENTED + "哦") and p.said == 2 and p.accepted_after == 2
    assert p.acceptance_rate == 1.0 and p.lift == round(1.0 / (accepted / len(lines)), 2)
    assert {x.recording_id for x in p.examples} == {ids["c1"], ids["c2"]}
    assert p.status == "proposed"
    # the network line never preceded acceptance; the fatal call's line is not proposed
    assert all("网络" not in q.text and "回访" not in q.text for q in report.highlight_proposals)
    # the library: only calls that passed without a fatal finding and ended in success
    fatal = {ids["c5"], ids["c6"]}
    assert report.highlights and all(
        x.recording_id not in fatal for h in report.highlights for x in h.examples
    )
    assert all(h.reason != "agent_line" for h in report.highlights)


def test_reviewers_accept_with_their_wording_and_reject(hand_store):
    store, rubric, ids = hand_store
    with store.session() as s:
        report = trial_report(s, rubric, "p")
    proposal = report.highlight_proposals[0]
    closing = next(h for h in report.highlights if h.reason == "closing")
    with store.session() as s:
        decide_highlight(
            s,
            "p",
            HighlightDecisionIn(
                asr_text=proposal.asr_text,
                decision="accepted",
                text="这个月办理，还多送您一个视频会员",
                lift=proposal.lift,
                calls=proposal.calls,
            ),
            "r1",
        )
        decide_highlight(
            s, "p", HighlightDecisionIn(asr_text=closing.text, decision="rejected"), "r1"
        )
    with store.session() as s:
        again = trial_report(s, rubric, "p")
    decided = again.highlight_proposals[0]
    assert decided.status == "accepted" and decided.decided_by == "r1"
    assert (
        decided.text == "这个月办理，还多送您一个视频会员" and decided.asr_text == proposal.asr_text
    )
    joined = [h for h in again.highlights if h.reason == "agent_line"]
    assert [h.text for h in joined] == [decided.text] and joined[0].asr_text == proposal.asr_text
    assert all(h.key != closing.key for h in again.highlights)  # rejected: left out
    # a new decision on the same line replaces the old
    with store.session() as s:
        decide_highlight(
            s,
            "p",
            HighlightDecisionIn(asr_text=closing.text, decision="accepted", text="为您办理好吗"),
            "r2",
        )
        third = trial_report(s, rubric, "p")
    back = next(h for h in third.highlights if h.key == closing.key)
    assert back.text == "为您办理好吗" and back.asr_text == closing.text


def test_highlight_decision_routes(hand_store, tmp_path):
    store, rubric, ids = hand_store
    store.rubrics.save(rubric, RUBRIC)
    keys = {
        role: {"X-API-Key": create_key(store, role, role)[1]} for role in ("viewer", "reviewer")
    }
    settings = Settings(
        database_url=str(store.engine.url), redis_url="", storage_dir=tmp_path / "s"
    )
    with TestClient(create_app(settings)) as client:
        trial = client.get("/projects/p/trial", headers=keys["viewer"]).json()
        line = trial["highlight_proposals"][0]["asr_text"]
        body = {"asr_text": line, "decision": "accepted", "text": "多送您一个视频会员"}
        assert (
            client.post(
                "/projects/p/highlight-proposals", json=body, headers=keys["viewer"]
            ).status_code
            == 403
        )
        r = client.post("/projects/p/highlight-proposals", json=body, headers=keys["reviewer"])
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted" and r.json()["text"] == "多送您一个视频会员"
        listed = client.get("/projects/p/highlight-proposals", headers=keys["viewer"]).json()
        assert [x["asr_text"] for x in listed] == [line]
        bad = client.post(
            "/projects/p/highlight-proposals",
            json={"asr_text": line, "decision": "maybe"},
            headers=keys["reviewer"],
        )
        assert bad.status_code == 422 and "decision" in bad.text
        empty = client.post(
            "/projects/p/highlight-proposals",
            json={"asr_text": "？？", "decision": "rejected"},
            headers=keys["reviewer"],
        )
        assert empty.status_code in (400, 422) and "asr_text" in empty.text
        assert (
            client.get("/projects/nope/highlight-proposals", headers=keys["viewer"]).status_code
            == 404
        )
        trial = client.get("/projects/p/trial", headers=keys["viewer"]).json()
        assert trial["highlight_proposals"][0]["status"] == "accepted"
        assert trial["customer_voice"]["refusals"], trial["customer_voice"]
