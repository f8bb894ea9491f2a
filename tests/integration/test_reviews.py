"""Reviews that stick, on SQLite and PostgreSQL: a reviewed finding, a reviewed grade
and an added finding survive scoring the same file again, `rescore`, POST rescore; a v2 rubric
carries them over or marks them; a withdrawal brings the machine's result back. KPIs follow the
reviewed result and the rollups stay equal to a rebuild after every step. Calls are hand-made
transcripts stored under the hash of a real file, so scoring the file reuses them (no ASR)."""

import re
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from qa_service.api import create_app
from qa_service.app.evaluations import record_evaluation, record_evaluations
from qa_service.app.keys import create_key
from qa_service.app.scoring import QAService
from qa_service.config import Settings, to_utc
from qa_service.domain.enums import COSTLY
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance as U
from qa_service.files import sha256_of
from qa_service.metrics.kpis import kpi_rows
from qa_service.rules.rubric import parse_rubric
from qa_service.storage.store import Store
from tests.support import RUBRICS, assert_rollups_match_rebuild, said, wait_for, write_wav

BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])
RUBRIC_ID = "telecom-data-upgrade"
V1_YAML = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
GOOD = [
    U("agent", 0.5, 2.0, "您好，我是中国电信客户经理，给您介绍一下畅享套餐"),
    U(
        "agent",
        2.5,
        8.0,
        "每个月只要九十六元，三百分钟，合约期一年，预存一百六十八元，可以免费退订",
    ),
    U("agent", 8.5, 10.0, "性价比很高，别家的都一样，为您办理"),
    U("customer", 10.5, 11.0, "那就办吧"),
    U("agent", 11.5, 12.0, "再见"),
]
RUDE = GOOD[:2] + [U("agent", 8.5, 10.0, "你烦不烦"), U("customer", 10.5, 11.0, "不需要")]
SHORT = GOOD[:1] + [U("customer", 2.5, 3.0, "不需要"), U("agent", 3.5, 4.0, "好的")]


def v2_of(v1_text: str) -> str:
    """Version 2 of a rubric: drops `disparage` and doubles `monthly_fee`'s weight."""
    data = yaml.safe_load(v1_text)
    data["version"] = 2
    data["forbidden_phrases"] = [r for r in data["forbidden_phrases"] if r["id"] != "disparage"]
    for point in data["mandatory_points"]:
        if point["id"] == "monthly_fee":
            point["weight"] = 20
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def kpis(store):
    with store.session() as s:
        return {
            r.agent: (r.evaluated, r.passed, r.excellent, r.fatal)
            for r in kpi_rows(s, "agent", project="p")
        }


def expected_kpis(results):
    """KPIs counted by hand from {agent: [(grade, fatal)]}."""
    return {
        agent: (
            len(calls),
            sum(g in ("pass", "excellent") for g, _ in calls),
            sum(g == "excellent" for g, _ in calls),
            sum(f for _, f in calls),
        )
        for agent, calls in results.items()
    }


def deductions(ev, drop=(), extra=0.0, weights=None):
    """The machine's findings of an evaluation summed by hand: each bad rule once, minus the
    rules a reviewer cleared, plus what a reviewer added (and re-weighted rules)."""
    cost = {}
    for f in ev["findings"]:
        if f["source"] == "machine" and f["machine_status"] in COSTLY and f["rule_id"] not in drop:
            cost[f["rule_id"]] = max(cost.get(f["rule_id"], 0), f["machine_deduction"])
    return 100 - sum(cost.values()) - extra


@BACKENDS
def test_reviews_survive_rescoring_and_versions(request, tmp_path, backend):
    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url)
    v1 = parse_rubric(V1_YAML, "v1")
    store.rubrics.save(v1, V1_YAML)
    service = QAService(store, Settings(database_url=url, redis_url=""))
    calls = {
        "good": ("A1", "2026-11-20T09:10:00", GOOD, 1.0),
        "rude": ("A1", "2026-11-20T09:40:00", RUDE, 1.2),
        "short": ("A2", "2026-11-21T10:05:00", SHORT, 1.4),
        "plain": ("A2", "2026-11-21T11:00:00", GOOD, 1.6),
    }
    paths = {}
    for name, (agent, when, utts, seconds) in calls.items():
        path = write_wav(tmp_path / f"{name}.wav", seconds)
        store.recordings.save_transcript(
            sha256_of(path),
            str(path),
            CallMetadata(agent_id=agent, project="p", call_time=datetime.fromisoformat(when)),
            30.0,
            2,
            "stereo",
            "hand-made",
            utts,
        )
        outcome = service.score_file(path, v1)
        assert outcome.error is None and not outcome.transcribed  # the stored transcript was used
        paths[name] = path

    settings = Settings(database_url=url, redis_url="", storage_dir=tmp_path / "storage")
    _, reviewer = create_key(store, "reviewer", "质检员小王")
    _, admin = create_key(store, "admin", "admin")
    hdr, adm = {"X-API-Key": reviewer}, {"X-API-Key": admin}
    with TestClient(create_app(settings)) as client:

        def evaluation(name, version=1):
            ev = next(
                e
                for e in store.evaluations.all()
                if e.rubric_version == version
                and e.recording_id == store.recordings.by_sha(sha256_of(paths[name])).id
            )
            return client.get(f"/evaluations/{ev.id}", headers=hdr).json()

        def post(ev, body, status=201):
            r = client.post(f"/evaluations/{ev['id']}/reviews", headers=hdr, json=body)
            assert r.status_code == status, r.text
            return r.json()

        rude, good, short = evaluation("rude"), evaluation("good"), evaluation("short")
        assert (
            rude["machine"] == {"score": 0.0, "grade": "fail", "fatal": True}
            and rude["reviewed"] is None
        )
        rude_finding = next(f for f in rude["findings"] if f["rule_id"] == "rude")

        # Refused, with reasons: no comment, a status of another category, no finding named,
        # confirm with another value, an addition of a rule the machine always reports.
        assert (
            "理由"  # 改判和补充必须填写理由: a comment is required (the message catalog's zh-CN)
            in post(
                rude,
                {
                    "target": "finding",
                    "action": "override",
                    "finding_id": rude_finding["id"],
                    "value": "dismissed",
                },
                422,
            )["detail"]
        )
        greeting = next(f for f in short["findings"] if f["rule_id"] == "greeting")
        assert (
            "'hit', 'missed'"  # the allowed states, quoted as codes in any language
            in post(
                short,
                {
                    "target": "finding",
                    "action": "override",
                    "finding_id": greeting["id"],
                    "value": "violation",
                    "comment": "x",
                },
                422,
            )["detail"]
        )
        assert re.fullmatch(
            said("{a} or {b} is required for a finding review", a="finding_id", b="rule_id"),
            post(short, {"target": "finding", "action": "confirm"}, 422)["detail"],
        )
        assert re.fullmatch(
            said("confirm keeps the current {what} {current}; use override to set {value}"),
            post(
                short,
                {
                    "target": "finding",
                    "action": "confirm",
                    "finding_id": greeting["id"],
                    "value": "missed",
                },
                422,
            )["detail"],
        )
        post(
            short,
            {
                "target": "finding",
                "action": "add",
                "rule_id": "greeting",
                "value": "missed",
                "start": 0,
                "end": 1,
                "comment": "x",
            },
            409,
        )
        post(
            short,
            {
                "target": "finding",
                "action": "add",
                "rule_id": "no_such_rule",
                "value": "violation",
                "start": 0,
                "end": 1,
                "comment": "x",
            },
            422,
        )

        # 1. A finding overridden: the fatal `rude` dismissed moves score, grade and fatal.
        answer = post(
            rude,
            {
                "target": "finding",
                "action": "override",
                "finding_id": rude_finding["id"],
                "value": "dismissed",
                "comment": "客户先骂人，坐席复述",
            },
        )
        assert answer["machine_value"] == "violation" and answer["state"] == "applied"
        rude = answer["evaluation"]
        assert (
            rude["reviewed"]["score"] == deductions(rude, drop={"rude"})
            and rude["reviewed"]["fatal"] is False
        )
        assert rude["machine"]["score"] == 0.0 and rude["score"] == rude["reviewed"]["score"]
        # 2. A finding the machine missed, added: 诋毁同行 (deduct 20) over "别家的都一样".
        good = post(
            good,
            {
                "target": "finding",
                "action": "add",
                "rule_id": "disparage",
                "value": "violation",
                "start": 8.5,
                "end": 10.0,
                "comment": "暗指别家骗人",
            },
        )["evaluation"]
        added = next(f for f in good["findings"] if f["source"] == "reviewer")
        assert (
            added["status"] == "violation"
            and added["machine_status"] is None
            and added["deduction"] == 20
        )
        assert "别家的都一样" in added["evidence"][0]["text"]
        assert good["reviewed"]["score"] == deductions(good, extra=20)
        # 3. A point the machine missed is there after all, and the grade is overridden.
        monthly = next(f for f in short["findings"] if f["rule_id"] == "monthly_fee")
        assert monthly["machine_status"] == "missed"
        post(
            short,
            {
                "target": "finding",
                "action": "override",
                "finding_id": monthly["id"],
                "value": "hit",
                "comment": "说了月费，识别漏了",
            },
        )
        short = post(
            short,
            {
                "target": "grade",
                "action": "override",
                "value": "excellent",
                "comment": "试呼通话，按优秀计",
            },
        )["evaluation"]
        assert short["reviewed"]["score"] == deductions(short, drop={"monthly_fee"})
        assert short["reviewed"]["grade_override"] == "excellent" and short["grade"] == "excellent"
        assert short["reviewed"]["computed_grade"] == "fail"

        expected = expected_kpis(
            {
                "A1": [(good["grade"], False), ("pass" if rude["score"] >= 80 else "fail", False)],
                "A2": [("excellent", False), (evaluation("plain")["grade"], False)],
            }
        )
        assert kpis(store) == expected
        assert_rollups_match_rebuild(store)
        reviewed = {n: evaluation(n) for n in ("rude", "good", "short")}
        trail = client.get(f"/evaluations/{short['id']}", headers=hdr).json()["reviews"]

        def unchanged():
            for n, before in reviewed.items():
                now = evaluation(n)
                assert (now["reviewed"], now["score"], now["grade"], now["needs_rereview"]) == (
                    before["reviewed"],
                    before["score"],
                    before["grade"],
                    0,
                ), n
                assert [r["state"] for r in now["reviews"]] == ["applied"] * len(now["reviews"])
            assert client.get(f"/evaluations/{short['id']}", headers=hdr).json()["reviews"] == trail
            assert kpis(store) == expected
            assert_rollups_match_rebuild(store)

        # 4. The same file scored again, `rescore` of the project, POST rescore: nothing moves.
        assert service.score_file(paths["rude"], v1).error is None
        unchanged()
        from qa_service.cli import app as cli

        result = CliRunner().invoke(
            cli,
            [
                "rescore",
                "--rubric",
                str(RUBRICS / "telecom-data-upgrade.yaml"),
                "--project",
                "p",
                "--db",
                url,
                "--format",
                "json",
            ],
        )
        assert result.exit_code == 0, result.output
        unchanged()
        since = max(e.created_at for e in store.evaluations.all())
        r = client.post(f"/rubrics/{RUBRIC_ID}/1/rescore", params={"project": "p"}, headers=adm)
        assert r.status_code == 202, r.text
        assert wait_for(
            lambda: min(e.created_at for e in store.evaluations.all()) > since, timeout=60
        )
        unchanged()

        # 5. Version 2 (drops `disparage`, doubles `monthly_fee`): carried over or marked.
        r = client.post(
            "/rubrics",
            headers={**adm, "Content-Type": "application/yaml"},
            content=v2_of(V1_YAML).encode("utf-8"),
        )
        assert r.status_code == 201, r.text
        r = client.post(f"/rubrics/{RUBRIC_ID}/2/rescore", params={"project": "p"}, headers=adm)
        assert r.status_code == 202
        assert wait_for(
            lambda: sum(e.rubric_version == 2 for e in store.evaluations.all()) == 4, timeout=60
        )
        rude2, good2, short2 = evaluation("rude", 2), evaluation("good", 2), evaluation("short", 2)
        assert rude2["current"] and rude2["reviewed"]["score"] == deductions(rude2, drop={"rude"})
        states = {r["rule_id"] or "grade": (r["state"], r["reason"]) for r in short2["reviews"]}
        assert states == {
            "monthly_fee": ("applied", None),
            "grade": ("needs_rereview", "rubric_version_changed"),
        }
        assert short2["reviewed"]["score"] == deductions(short2, drop={"monthly_fee"})
        assert short2["reviewed"]["score"] - short2["machine"]["score"] == 20  # the new weight
        assert (
            short2["grade"] == short2["reviewed"]["computed_grade"] == "fail"
            and short2["needs_rereview"] == 1
        )
        assert [(r["state"], r["reason"]) for r in good2["reviews"]] == [
            ("needs_rereview", "rule_removed")
        ]
        assert good2["reviewed"] is None and good2["needs_rereview"] == 1
        assert not any(f["source"] == "reviewer" for f in good2["findings"])
        assert good2["grade"] == good2["machine"]["grade"]
        # the v1 evaluations keep their reviews as they were
        assert (
            evaluation("short")["grade"] == "excellent"
            and evaluation("good")["reviewed"] == reviewed["good"]["reviewed"]
        )
        listed = client.get(
            "/evaluations", params={"project": "p", "needs_rereview": True}, headers=hdr
        ).json()
        assert sorted(i["evaluation_id"] for i in listed["items"]) == sorted(
            [good2["id"], short2["id"]]
        )
        expected = expected_kpis(
            {
                "A1": [(good2["grade"], False), (rude2["grade"], False)],
                "A2": [("fail", False), (evaluation("plain", 2)["grade"], False)],
            }
        )
        assert kpis(store) == expected
        assert_rollups_match_rebuild(store)

        # 6. Withdraw the `rude` dismissal: the machine's fail and fatal are back in the KPIs.
        review_id = next(r["id"] for r in rude2["reviews"] if r["rule_id"] == "rude")
        r = client.post(
            f"/reviews/{review_id}/withdraw", headers=hdr, json={"comment": "复听后确认态度恶劣"}
        )
        assert r.status_code == 200, r.text
        assert (
            r.json()["withdrawn_by"].startswith("质检员小王") and r.json()["state"] == "withdrawn"
        )
        assert client.post(f"/reviews/{review_id}/withdraw", headers=hdr).status_code == 409
        rude2 = evaluation("rude", 2)
        assert rude2["reviewed"] is None and (rude2["grade"], rude2["fatal"]) == ("fail", True)
        assert [r["state"] for r in rude2["reviews"]] == ["withdrawn"]
        expected["A1"] = expected_kpis({"A1": [(good2["grade"], False), ("fail", True)]})["A1"]
        assert kpis(store) == expected
        assert_rollups_match_rebuild(store)
        # the trail keeps all of it: who, when, from what, to what, withdrawn by whom
        trail = client.get(f"/reviews/{review_id}", headers=hdr).json()
        assert (trail["old_value"], trail["new_value"], trail["comment"]) == (
            "violation",
            "dismissed",
            "客户先骂人，坐席复述",
        )
        assert trail["withdraw_comment"] == "复听后确认态度恶劣" and trail["withdrawn_at"]


@BACKENDS
def test_upload_answer_and_job_carry_ids(request, tmp_path, backend):
    """The upload answers with the recording id; the finished job row names the evaluation."""
    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url)
    v1 = parse_rubric(V1_YAML, "v1")
    store.rubrics.save(v1, V1_YAML)
    path = write_wav(tmp_path / "p_A7_20261120-091000.wav", 2.0)
    store.recordings.save_transcript(
        sha256_of(path), str(path), CallMetadata(), 2.0, 2, "stereo", "hand-made", GOOD
    )
    settings = Settings(database_url=url, redis_url="", storage_dir=tmp_path / "storage")
    _, reviewer = create_key(store, "reviewer", "r")
    with TestClient(create_app(settings)) as client:
        with open(path, "rb") as f:
            r = client.post(
                "/recordings",
                headers={"X-API-Key": reviewer},
                files={"file": (path.name, f, "audio/wav")},
                data={"rubric_id": RUBRIC_ID, "rubric_version": "1", "project": "p"},
            )
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["recording_id"] == store.recordings.by_sha(sha256_of(path)).id
        assert wait_for(
            lambda: (
                client.get(f"/jobs/{body['job_id']}", headers={"X-API-Key": reviewer}).json()[
                    "status"
                ]
                == "finished"
            ),
            timeout=60,
        )
        job = client.get(f"/jobs/{body['job_id']}", headers={"X-API-Key": reviewer}).json()
        (ev,) = store.evaluations.all()
        assert (job["recording_id"], job["evaluation_id"]) == (body["recording_id"], ev.id)


@BACKENDS
def test_browse_and_review_sample(request, backend):
    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url)
    v1 = parse_rubric(V1_YAML, "v1")
    store.rubrics.save(v1, V1_YAML)
    service = QAService(store, Settings(database_url=url, redis_url=""))
    from qa_service.rules.scoring import evaluate

    scorer = service.scorer(v1)
    for i in range(40):
        utts = (GOOD, RUDE, SHORT)[i % 3]
        rec = store.recordings.save_transcript(
            f"{i:064x}",
            f"c{i}.wav",
            CallMetadata(
                agent_id=f"A{i % 4}",
                project="p" if i < 30 else "q",
                call_time=datetime(2026, 11, 20 + i % 3, 9, i),
            ),
            30.0,
            2,
            "stereo",
            "x",
            utts,
        )
        record_evaluation(store, rec.id, evaluate(f"c{i}.wav", utts, 30.0, scorer))
    settings = Settings(database_url=url, redis_url="")
    _, viewer = create_key(store, "viewer", "v")
    hdr = {"X-API-Key": viewer}
    with TestClient(create_app(settings)) as client:
        page = client.get(
            "/evaluations", params={"project": "p", "page_size": 7}, headers=hdr
        ).json()
        assert page["total"] == 30 and len(page["items"]) == 7
        times = [i["call_time"] for i in page["items"]]
        assert times == sorted(times, reverse=True)
        passing = client.get(
            "/evaluations", params={"project": "p", "grade": "fail", "page_size": 500}, headers=hdr
        ).json()
        expected = [
            e for e in store.evaluations.all() if e.project == "p" and e.effective_grade == "fail"
        ]
        assert passing["total"] == len(expected) > 0
        day = client.get(
            "/evaluations",
            params={
                "since": "2026-11-21T00:00:00",
                "until": "2026-11-22T00:00:00",
                "agent": "A1",
                "page_size": 500,
            },
            headers=hdr,
        ).json()
        assert day["total"] == sum(
            1 for e in store.evaluations.all() if e.agent_id == "A1" and e.called_at.day == 21
        )
        assert (
            client.get("/evaluations", params={"reviewed": True}, headers=hdr).json()["total"] == 0
        )

        sample = client.get(
            "/review-sample", params={"project": "p", "percent": 10}, headers=hdr
        ).json()
        assert (sample["population"], sample["sample_size"]) == (30, 3)
        again = client.get(
            "/review-sample", params={"project": "p", "percent": 10}, headers=hdr
        ).json()
        assert [i["evaluation_id"] for i in again["items"]] == [
            i["evaluation_id"] for i in sample["items"]
        ]
        other = client.get(
            "/review-sample", params={"project": "p", "percent": 10, "seed": "2026-11"}, headers=hdr
        ).json()
        assert other["sample_size"] == 3
        assert {i["project"] for i in sample["items"]} == {"p"}
        small = client.get(
            "/review-sample", params={"project": "q", "percent": 1}, headers=hdr
        ).json()
        assert small["sample_size"] == 1  # at least one call
        assert client.get("/review-sample", params={"percent": 0}, headers=hdr).status_code == 422


def test_rule_precision_on_a_hand_built_set(sqlite_url):
    """Six calls reviewed by hand; the counts and precision computed by hand."""
    from qa_service.review import quality, reviews
    from qa_service.review.reviews import ReviewRequest

    store = Store(sqlite_url)
    v1 = parse_rubric(V1_YAML, "v1")
    store.rubrics.save(v1, V1_YAML)
    service = QAService(store, Settings(database_url=sqlite_url, redis_url=""))
    from qa_service.rules.scoring import evaluate

    evs = []
    for i, utts in enumerate([RUDE, RUDE, RUDE, RUDE, SHORT, GOOD]):
        rec = store.recordings.save_transcript(
            f"{i:064x}",
            f"c{i}.wav",
            CallMetadata(agent_id="A1", project="p", call_time=datetime(2026, 11, 20, 9, i)),
            30.0,
            2,
            "stereo",
            "x",
            utts,
        )
        evs.append(
            record_evaluation(store, rec.id, evaluate(f"c{i}.wav", utts, 30.0, service.scorer(v1)))
        )
    with store.session() as s:

        def review(ev, **kw):
            return reviews.create_review(s, ev.id, ReviewRequest(**kw), "qa")

        rude = dict(target="finding", rule_id="rude")
        review(evs[0], action="confirm", **rude)
        review(evs[1], action="confirm", **rude)
        review(evs[2], action="override", value="dismissed", comment="joke", **rude)
        first = review(evs[3], action="override", value="dismissed", comment="joke", **rude)
        # the newest decides: back to the machine's violation, so confirmed, not overturned
        review(evs[3], action="override", value="violation", comment="复听确认", **rude)
        withdrawn = review(
            evs[0], action="override", value="hit", comment="x", target="finding", rule_id="closing"
        )
        reviews.withdraw_review(s, withdrawn.id, "qa")  # withdrawn: not counted
        review(
            evs[4],
            action="override",
            value="hit",
            comment="said it",
            target="finding",
            rule_id="monthly_fee",
        )
        review(evs[4], action="confirm", target="finding", rule_id="prestore")
        review(
            evs[5],
            action="add",
            value="violation",
            comment="别家",
            target="finding",
            rule_id="disparage",
            start=8.5,
            end=10.0,
        )
        review(
            evs[5],
            action="override",
            value="missed",
            comment="没说清楚",
            target="finding",
            rule_id="cancel_rule",
        )
        review(
            evs[4], action="override", value="pass", comment="grade", target="grade"
        )  # not a rule
        s.commit()
        report = quality.rule_precision(s, RUBRIC_ID, project="p")
        rules = {r.rule_id: r for r in report.rules}
        assert set(rules) == {"rude", "monthly_fee", "prestore", "disparage", "cancel_rule"}
        assert {
            k: getattr(rules["rude"], k)
            for k in ("confirmed", "overturned", "added", "turned_bad", "precision")
        } == {"confirmed": 3, "overturned": 1, "added": 0, "turned_bad": 0, "precision": 0.75}
        assert [e.evaluation_id for e in rules["rude"].overturned_examples] == [evs[2].id]
        assert rules["rude"].overturned_examples[0].evidence_text == "你烦不烦"
        assert (rules["monthly_fee"].overturned, rules["monthly_fee"].precision) == (1, 0.0)
        assert (rules["prestore"].confirmed, rules["prestore"].precision) == (1, 1.0)
        assert (rules["disparage"].added, rules["disparage"].precision) == (1, None)
        assert "别家的都一样" in rules["disparage"].added_examples[0].evidence_text
        assert (
            rules["cancel_rule"].turned_bad,
            rules["cancel_rule"].added_examples[0].machine_status,
        ) == (1, "hit")
        assert [r.rule_id for r in report.rules] == [
            "monthly_fee",
            "rude",
            "prestore",
            "cancel_rule",
            "disparage",
        ]
        assert first.id not in [e.review_id for e in rules["rude"].overturned_examples]
        assert quality.rule_precision(s, RUBRIC_ID, project="other").rules == []
        # since: a stored (UTC) time, or one with an offset; the calls were at 09:0i Shanghai time
        since = to_utc(datetime(2026, 11, 20, 9, 4))
        assert quality.rule_precision(s, RUBRIC_ID, since=since).versions == [1]
        assert {r.rule_id for r in quality.rule_precision(s, RUBRIC_ID, since=since).rules} == {
            "monthly_fee",
            "prestore",
            "disparage",
            "cancel_rule",
        }
        shanghai = datetime(2026, 11, 20, 9, 4, tzinfo=ZoneInfo("Asia/Shanghai"))
        assert (
            quality.rule_precision(s, RUBRIC_ID, since=shanghai).rules
            == quality.rule_precision(s, RUBRIC_ID, since=since).rules
        )
        assert quality.rule_precision(s, RUBRIC_ID, from_version=2).rules == []
    assert Counter(e.reviewed for e in store.evaluations.all()) == {True: 6}


@BACKENDS
def test_migration_0005_converts_old_reviews(request, backend):
    """Reviews made before 0005 pointed at finding rows; they now name recording and rule, and
    rescoring the call (which used to fail on PostgreSQL) applies them again."""
    from sqlalchemy import create_engine, text

    from qa_service.rules.scoring import Scorer, evaluate
    from qa_service.storage.migrate import upgrade

    url = request.getfixturevalue(f"{backend}_url")
    engine = create_engine(url)
    upgrade(engine, "0004")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO recording (id, sha256, source_path, duration, channels, separation,"
                " agent_id, project, call_time, phase, asr_model, created_at) VALUES"
                " (1, 'a', 'a.wav', 30, 2, 'stereo', 'A1', 'p', '2026-11-20 09:15:00',"
                " 'production', 'x', '2026-11-21 00:00:00')"
            )
        )
        c.execute(
            text(
                "INSERT INTO evaluation (id, recording_id, rubric_id, rubric_version, score, grade,"
                " fatal, outcome, created_at, reviewed_grade, asr_confidence, is_current, project,"
                " agent_id, phase, called_at, duration) VALUES"
                " (1, 1, 'telecom-data-upgrade', 1, 0, 'fail', true, 'refusal',"
                " '2026-11-21 01:00:00', 'pass', 0.9, true, 'p', 'A1', 'production',"
                " '2026-11-20 09:15:00', 30)"
            )
        )
        c.execute(
            text(
                "INSERT INTO finding (id, evaluation_id, rule_id, category, status, deduction,"
                " name, severity, detail, evidence, reviewed_status) VALUES"
                " (7, 1, 'rude', 'attitude_error', 'violation', 100, '态度恶劣', 'fatal', '', '[]',"
                " 'dismissed')"
            )
        )
        c.execute(
            text(
                "INSERT INTO review (id, evaluation_id, finding_id, reviewer, target, action,"
                " old_value, new_value, comment, created_at) VALUES"
                " (1, 1, NULL, 'qa', 'grade', 'override', 'fail', 'pass', 'ok',"
                " '2026-11-21 02:00:00'),"
                " (2, 1, 7, 'qa', 'finding', 'override', 'violation', 'dismissed', 'joke',"
                " '2026-11-21 02:01:00')"
            )
        )
    engine.dispose()
    store = Store(url)
    with store.session() as s:
        from qa_service.storage.tables import Review

        rows = s.exec(select(Review).order_by(Review.id)).all()
    assert [
        (
            r.recording_id,
            r.rubric_version,
            r.target,
            r.rule_id,
            r.category,
            r.machine_value,
            r.new_value,
        )
        for r in rows
    ] == [
        (1, 1, "grade", None, None, "fail", "pass"),
        (1, 1, "finding", "rude", "attitude_error", "violation", "dismissed"),
    ]
    v1 = parse_rubric(V1_YAML, "v1")
    store.rubrics.save(v1, V1_YAML)
    record_evaluation(store, 1, evaluate("a.wav", RUDE, 30.0, Scorer(v1)))  # rescoring: no error
    (ev,) = store.evaluations.all()
    assert (ev.grade, ev.fatal, ev.reviewed_grade, ev.reviewed_fatal) == (
        "fail",
        True,
        "pass",
        False,
    )
    rude = next(f for f in store.evaluations.findings(ev.id) if f.rule_id == "rude")
    assert (rude.status, rude.reviewed_status, rude.review_id) == ("violation", "dismissed", 2)
    with store.session() as s:  # new reviews get new ids after the converted ones
        from qa_service.review.reviews import ReviewRequest, create_review

        assert create_review(s, ev.id, ReviewRequest("grade", "confirm"), "qa").id == 3
        s.commit()


def test_compare_rubric_versions_on_the_dev_corpus(sqlite_url, dev_transcripts):
    """The 16 dev calls scored by v1 and by a v2 that drops `disparage` and doubles
    `monthly_fee`: the endpoint's grade changes, distributions and rates against the scorer's
    own results counted here."""
    from statistics import median

    from qa_service.rules.scoring import Scorer, evaluate
    from tests.support import DEV

    v1_yaml = (DEV / "rubric.yaml").read_text(encoding="utf-8")
    v2_text = v2_of(v1_yaml)
    v1, v2 = parse_rubric(v1_yaml, "v1"), parse_rubric(v2_text, "v2")
    store = Store(sqlite_url)
    store.rubrics.save(v1, v1_yaml)
    store.rubrics.save(v2, v2_text)
    results = {}
    for i, (cid, t) in enumerate(sorted(dev_transcripts.items())):
        project = "trial" if i % 2 else "prod"
        rec = store.recordings.save_transcript(
            f"{i:064x}",
            cid,
            CallMetadata(agent_id="A1", project=project),
            t.duration,
            2,
            "stereo",
            "x",
            t.utterances,
        )
        pair = [evaluate(cid, t.utterances, t.duration, Scorer(r)) for r in (v1, v2)]
        record_evaluations(store, [(rec.id, pair[0])])
        record_evaluations(store, [(rec.id, pair[1])])
        results[rec.id] = (project, pair)
    settings = Settings(database_url=sqlite_url, redis_url="")
    _, viewer = create_key(store, "viewer", "v")
    with TestClient(create_app(settings)) as client:
        r = client.get(
            f"/rubrics/{v1.id}/compare", params={"from": 1, "to": 2}, headers={"X-API-Key": viewer}
        )
        assert r.status_code == 200, r.text
        got = r.json()
        assert (
            client.get(
                f"/rubrics/{v1.id}/compare",
                params={"from": 1, "to": 3},
                headers={"X-API-Key": viewer},
            ).status_code
            == 404
        )
        trial = client.get(
            f"/rubrics/{v1.id}/compare",
            params={"from": 1, "to": 2, "project": "trial"},
            headers={"X-API-Key": viewer},
        ).json()
    assert got["calls"] == len(dev_transcripts) == 16 and trial["calls"] == 8
    changed = {
        rid: (a.grade, b.grade) for rid, (_, (a, b)) in results.items() if a.grade != b.grade
    }
    assert {
        c["recording_id"]: (c["from"]["grade"], c["to"]["grade"]) for c in got["changed_grade"]
    } == changed
    assert got["changed_grade_count"] == len(changed)
    for side, index in (("from", 0), ("to", 1)):
        scores = [pair[index].score for _, pair in results.values()]
        assert got["grades"][side] == {
            g: sum(p[index].grade == g for _, p in results.values())
            for g in ("excellent", "pass", "fail")
        }
        assert got["scores"][side]["median"] == median(scores) and got["scores"][side][
            "min"
        ] == min(scores)
        assert sum(b["count"] for b in got["scores"][side]["histogram"]) == 16
    rules = {r["rule_id"]: r for r in got["rules"]}
    assert rules["disparage"]["to"] is None and rules["disparage"]["from"] is not None
    missed = sum(
        any(f.rule_id == "monthly_fee" and f.status == "missed" for f in p[0].findings)
        for _, p in results.values()
    )
    assert rules["monthly_fee"]["from"]["bad"] == rules["monthly_fee"]["to"]["bad"] == missed
    assert rules["monthly_fee"]["from"]["bad_rate"] == round(missed / 16, 4)
    greeting_hits = sum(
        any(f.rule_id == "greeting" and f.status == "hit" for f in p[1].findings)
        for _, p in results.values()
    )
    assert rules["greeting"]["to"]["hit"] == greeting_hits


@BACKENDS
def test_review_sample_past_the_parameter_limit_is_paged_in_sql(request, backend):
    """70,000 calls (more than PostgreSQL's 65,535 bound parameters): a 99% sample answers a
    page, not a false 'database unavailable'; the sample is the calls of smallest sample_rank
    (computed by the database, the same as in Python), reproducible, and pages do not overlap."""
    from sqlalchemy import insert

    from qa_service.domain.sampling import sample_rank
    from qa_service.storage.tables import Evaluation, Recording

    url = request.getfixturevalue(f"{backend}_url")
    store = Store(url, migrate=True)
    n, t0 = 70_000, datetime(2026, 11, 1)
    calls = [
        (i, "big" if i <= n else "small", i <= n + 50, t0 + timedelta(seconds=i))
        for i in range(1, n + 101)  # 50 more in another project, 50 no longer current
    ]
    with store.engine.begin() as conn:
        conn.execute(
            insert(Recording.__table__),
            [
                dict(id=i, sha256=f"{i:064x}", source_path=f"{i}.wav", duration=30.0,
                     channels=2, separation="stereo", phase="production", asr_model="",
                     asr_warnings=[], created_at=when, project=project, agent_id="A1",
                     call_time=when)
                for i, project, _, when in calls
            ],
        )  # fmt: skip
        conn.execute(
            insert(Evaluation.__table__),
            [
                dict(id=i, recording_id=i, rubric_id="r", rubric_version=1, score=90.0,
                     grade="pass", fatal=False, outcome="unknown", created_at=when,
                     needs_rereview=0, asr_confidence=1.0, is_current=current,
                     project="big" if i > n + 50 else project, agent_id="A1",
                     phase="production", called_at=when, duration=30.0)
                for i, project, current, when in calls
            ],
        )  # fmt: skip
    # rows written past the service: their rollups (what the population is counted from) too
    store.evaluations.rebuild_rollups()
    _, viewer = create_key(store, "viewer", "v")
    settings = Settings(database_url=url, redis_url="")
    with TestClient(create_app(settings)) as client:

        def sample(**params):
            r = client.get(
                "/review-sample", params={"project": "big", **params}, headers={"X-API-Key": viewer}
            )
            assert r.status_code == 200, r.text
            return r.json()

        big = sample(percent=99, page_size=500)
        assert (big["population"], big["sample_size"], big["total"]) == (n, 69_300, 69_300)
        assert (big["page"], big["page_size"], len(big["items"])) == (1, 500, 500)
        again = sample(percent=99, page_size=500)
        assert again["items"] == big["items"]
        last = sample(percent=99, page_size=500, page=139)
        assert len(last["items"]) == 69_300 - 138 * 500
        assert sample(percent=99, page_size=500, page=140)["items"] == []
        first_ids = {i["evaluation_id"] for i in big["items"]}
        assert first_ids.isdisjoint(i["evaluation_id"] for i in last["items"])

        # 1%: both pages together are exactly the 700 calls of smallest rank, newest first
        for seed in ("", "2026-11"):
            pages = [sample(percent=1, seed=seed, page_size=500, page=p) for p in (1, 2)]
            items = [i for page in pages for i in page["items"]]
            ids = [i["evaluation_id"] for i in items]
            assert len(ids) == len(set(ids)) == 700 == pages[0]["total"]
            expected = sorted(range(1, n + 1), key=lambda i: (sample_rank(seed, i), i))[:700]
            assert set(ids) == set(expected)
            assert ids == sorted(ids, reverse=True)  # called_at grows with the id here
            assert {i["project"] for i in items} == {"big"}
        assert pages[0]["items"] != sample(percent=1, page_size=500)["items"]  # another seed
        r = client.get("/review-sample", params={"page_size": 501}, headers={"X-API-Key": viewer})
        assert r.status_code == 422
