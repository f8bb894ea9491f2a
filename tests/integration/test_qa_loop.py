"""The QA department's loop on SQLite and PostgreSQL, through the API: people and what they may
see, an agent's appeal from filing to ruling, second opinions, who may withdraw a review,
sampling plans and review tasks, and 监听合格率 beside the machine's pass rate. Calls are
hand-made transcripts stored under the hash of a real file (no ASR)."""

import re
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import select

from qa_service.api import create_app
from qa_service.app.keys import create_key
from qa_service.app.people import create_user
from qa_service.app.scoring import QAService
from qa_service.config import Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.files import sha256_of
from qa_service.i18n import message, name_of
from qa_service.rules.rubric import parse_rubric
from qa_service.storage.store import Store
from qa_service.storage.tables import Evaluation
from tests.integration.test_reviews import GOOD, RUDE, SHORT, V1_YAML, v2_of
from tests.support import assert_rollups_match_rebuild, said, wait_for, write_wav

BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"])
PASSWORD = "correct horse battery"
# (agent, call center time, utterances): A1's rude call fails with a fatal finding
CALLS = {
    "a1_good": ("A1", "2026-11-20T09:10:00", GOOD),
    "a1_rude": ("A1", "2026-11-20T09:40:00", RUDE),
    "a2_short": ("A2", "2026-11-20T10:05:00", SHORT),
    "a2_good": ("A2", "2026-11-20T11:00:00", GOOD),
}


def finished(client, admin, job_id):
    """Wait for a job the API runs in a thread of its own (embedded mode)."""
    assert wait_for(
        lambda: client.get(f"/jobs/{job_id}", headers=admin).json()["status"] == "finished",
        timeout=120,
    ), client.get(f"/jobs/{job_id}", headers=admin).json()


@pytest.fixture(params=["sqlite", "postgres"])
def world(request, tmp_path):
    url = request.getfixturevalue(f"{request.param}_url")
    store = Store(url)
    v1 = parse_rubric(V1_YAML, "v1")
    store.rubrics.save(v1, V1_YAML)
    store.rubrics.activate("p", v1.id, v1.version)
    service = QAService(store, Settings(database_url=url, redis_url=""))
    ids = {}
    for i, (name, (agent, when, utts)) in enumerate(CALLS.items()):
        path = write_wav(tmp_path / f"{name}.wav", 1.0 + i / 10)
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
        service.score_file(path, v1)
        rec = store.recordings.by_sha(sha256_of(path))
        ev = next(e for e in store.evaluations.all() if e.recording_id == rec.id)
        ids[name] = (rec.id, ev.id)
    people = {}
    for name, role, extra in (
        ("a1", "agent", {"agent_id": "A1"}),
        ("a2", "agent", {"agent_id": "A2"}),
        ("lead", "team_lead", {"team": "t1"}),
        ("r1", "reviewer", {}),
        ("r2", "reviewer", {}),
        ("boss", "manager", {}),
    ):
        user = create_user(store, name, PASSWORD, role, **extra)
        people[name] = {"X-API-Key": create_key(store, role, name, user_id=user.id)[1]}
    store.people.set_team("t1", ["A1"])
    settings = Settings(database_url=url, redis_url="", storage_dir=tmp_path / "storage")
    with TestClient(create_app(settings)) as client:
        yield store, client, people, ids, service, tmp_path


def test_people_see_their_own_calls_only(world):
    """Another agent's evaluation, recording, transcript, audio and review answer 404, not
    403; lists and KPIs hold only the caller's agents; staff reports are 403 to agents."""
    store, client, people, ids, _, _ = world
    a1, lead = people["a1"], people["lead"]
    other_rec, other_ev = ids["a2_short"]
    own_rec, own_ev = ids["a1_rude"]
    for path in (
        f"/evaluations/{other_ev}",
        f"/recordings/{other_rec}",
        f"/recordings/{other_rec}/transcript",
        f"/recordings/{other_rec}/audio",
    ):
        for who in (a1, lead):
            r = client.get(path, headers=who)
            assert r.status_code == 404, (path, r.status_code, r.text)
        assert client.get(path, headers=people["r1"]).status_code == 200, path
    assert client.get(f"/evaluations/{own_ev}", headers=a1).status_code == 200
    assert client.get(f"/recordings/{own_rec}/transcript", headers=lead).status_code == 200
    listed = client.get("/evaluations", headers=a1).json()
    assert listed["total"] == 2 and {i["agent_id"] for i in listed["items"]} == {"A1"}
    assert {i["agent_id"] for i in client.get("/flagged", headers=lead).json()["items"]} == {"A1"}
    assert client.get("/flagged?agent=A2", headers=a1).json()["total"] == 0
    kpis = client.get("/kpis?group_by=agent", headers=a1).json()
    assert [row["agent"] for row in kpis] == ["A1"] and kpis[0]["evaluated"] == 2
    # 每小时呼叫次数: A1's two calls fell in one hour (09:10, 09:40), A2's in two (10:05, 11:00)
    staff = {r["agent"]: r for r in client.get("/kpis?group_by=agent", headers=people["r1"]).json()}
    assert (staff["A1"]["calling_hours"], staff["A1"]["calls_per_hour"]) == (1, 2.0)
    assert (staff["A2"]["calling_hours"], staff["A2"]["calls_per_hour"]) == (2, 1.0)
    by_hour = client.get(
        "/kpis?group_by=hour&since=2026-11-20T09:30:00&until=2026-11-21T00:00:00",
        headers=people["r1"],
    ).json()  # a range that cuts 09:00: the ragged end counts as its hour
    assert {r["hour"]: r["calls_per_hour"] for r in by_hour} == {9: 1.0, 10: 1.0, 11: 1.0}
    assert [
        r["agent"] for r in client.get("/kpis?group_by=agent", headers=people["r1"]).json()
    ] == [
        "A1",
        "A2",
    ]
    for path in ("/review-sample", "/rules/precision?rubric_id=telecom-data-upgrade", "/jobs"):
        assert client.get(path, headers=a1).status_code == 403, path
    me = client.get("/me", headers=lead).json()
    assert me["role"] == "team_lead" and me["agents"] == ["A1"] and me["role_name"] == "组长"
    # a person made inactive: their key stops at the next request
    user = store.people.by_name("a2")
    r = client.patch(
        f"/users/{user.id}", headers=people["boss"], json={"active": False}
    )  # a manager may not
    assert r.status_code == 403
    admin = {"X-API-Key": create_key(store, "admin", "admin")[1]}
    assert (
        client.patch(f"/users/{user.id}", headers=admin, json={"active": False}).status_code == 200
    )
    assert client.get("/me", headers=people["a2"]).status_code == 401


def test_an_appeal_from_filing_to_ruling(world):
    """Agent files → manager assigns → reviewer rules → the agent sees it; the ruling moves
    the score, the KPIs and rule precision, survives rescoring, and is final."""
    store, client, people, ids, service, _ = world
    a1, boss, r1, r2 = people["a1"], people["boss"], people["r1"], people["r2"]
    _, rude_ev = ids["a1_rude"]
    ev = client.get(f"/evaluations/{rude_ev}", headers=a1).json()
    rude = next(f for f in ev["findings"] if f["rule_id"] == "rude")
    assert ev["grade"] == "fail" and rude["status"] == "violation"
    body = {"target": "finding", "finding_id": rude["id"], "reason": "我没有说过这句话，是客户说的"}

    # refused: another agent's call (404), a finding that costs nothing, no reason
    assert (
        client.post(f"/evaluations/{ids['a2_short'][1]}/appeals", headers=a1, json=body).status_code
        == 404
    )
    cheap = next(f for f in ev["findings"] if f["status"] in ("hit", "dismissed"))
    r = client.post(
        f"/evaluations/{rude_ev}/appeals",
        headers=a1,
        json={**body, "finding_id": cheap["id"]},
    )
    assert r.status_code == 422 and r.json()["detail"] == message(
        "finding {finding} is {status}: it costs nothing to appeal",
        finding=cheap["id"],
        status=name_of(cheap["status"]),
    ), r.text
    assert client.post(f"/evaluations/{rude_ev}/appeals", headers=r1, json=body).status_code == 422

    filed = client.post(f"/evaluations/{rude_ev}/appeals", headers=a1, json=body)
    assert filed.status_code == 201, filed.text
    appeal = filed.json()
    assert appeal["rule_name"] == rude["name"]  # pages show the rule's name, not its id
    assert (appeal["state"], appeal["contested_by"], appeal["contested_value"]) == (
        "filed",
        "machine",
        "violation",
    )
    again = client.post(f"/evaluations/{rude_ev}/appeals", headers=people["lead"], json=body)
    assert again.status_code == 409 and again.json()["detail"] == message(
        "appeal {id} on the same {target} is open already ({state})",
        id=appeal["id"],
        target=name_of("finding"),
        state=name_of("filed"),
    )
    assert client.get(f"/appeals/{appeal['id']}", headers=people["a2"]).status_code == 404

    # the manager assigns; a reviewer may not; only the assignee rules
    assert (
        client.post(
            f"/appeals/{appeal['id']}/assign", headers=r1, json={"reviewer": "r1"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/appeals/{appeal['id']}/assign", headers=boss, json={"reviewer": "a2"}
        ).status_code
        == 422
    )
    assigned = client.post(f"/appeals/{appeal['id']}/assign", headers=boss, json={"reviewer": "r1"})
    assert assigned.status_code == 200 and assigned.json()["state"] == "assigned"
    ruling = {"decision": "overturned", "comment": "复听：这句是客户说的，坐席无态度问题"}
    wrong = client.post(f"/appeals/{appeal['id']}/ruling", headers=r2, json=ruling)
    assert wrong.status_code == 409 and wrong.json()["detail"] == message(
        "appeal {id} is assigned to {who}: only the assigned reviewer rules on it",
        id=appeal["id"],
        who="r1",
    )
    precision_before = client.get(
        "/rules/precision?rubric_id=telecom-data-upgrade", headers=boss
    ).json()
    ruled = client.post(f"/appeals/{appeal['id']}/ruling", headers=r1, json=ruling)
    assert ruled.status_code == 200, ruled.text
    assert ruled.json()["state"] == "overturned" and ruled.json()["review_id"]

    after = client.get(f"/evaluations/{rude_ev}", headers=a1).json()
    finding = next(f for f in after["findings"] if f["rule_id"] == "rude")
    assert (
        finding["status"] == "dismissed" and after["reviewed"]["score"] > after["machine"]["score"]
    )
    assert not after["reviewed"]["fatal"]
    trail = next(r for r in after["reviews"] if r["appeal_id"] == appeal["id"])
    assert trail["state"] == "applied" and trail["reviewer"] == "r1"
    precision = client.get("/rules/precision?rubric_id=telecom-data-upgrade", headers=boss).json()

    def rude_row(report):
        return next((r for r in report["rules"] if r["rule_id"] == "rude"), {"overturned": 0})

    assert rude_row(precision)["overturned"] == rude_row(precision_before)["overturned"] + 1
    kpi = client.get("/kpis?group_by=agent", headers=a1).json()[0]
    assert kpi["fatal"] == 0
    assert_rollups_match_rebuild(store)

    # final: no second appeal, no withdrawal, a later reviewer's confirm is a second opinion
    assert client.post(f"/evaluations/{rude_ev}/appeals", headers=a1, json=body).status_code == 409
    r = client.post(f"/reviews/{trail['id']}/withdraw", headers=boss, json={"comment": "x"})
    assert r.status_code == 409 and r.json()["detail"] == message(
        "review {review} is the final ruling of appeal {appeal}; it stands",
        review=trail["id"],
        appeal=appeal["id"],
    )
    client.post(
        f"/evaluations/{rude_ev}/reviews",
        headers=r2,
        json={
            "target": "finding",
            "action": "override",
            "finding_id": finding["id"],
            "value": "violation",
            "comment": "我觉得是坐席",
        },
    )
    still = client.get(f"/evaluations/{rude_ev}", headers=a1).json()
    assert next(f for f in still["findings"] if f["rule_id"] == "rude")["status"] == "dismissed"

    # the agent reads the ruling; it survives scoring the call again
    seen = client.post(f"/appeals/{appeal['id']}/seen", headers=a1)
    assert seen.status_code == 200 and seen.json()["seen_at"]
    mine = client.get("/appeals", headers=a1).json()
    assert [a["id"] for a in mine] == [appeal["id"]] and mine[0]["ruling_comment"] == ruling[
        "comment"
    ]
    r = client.post(
        "/rubrics/telecom-data-upgrade/1/rescore",
        headers={"X-API-Key": create_key(store, "admin")[1]},
    )
    assert r.status_code == 202, r.text
    finished(client, {"X-API-Key": create_key(store, "admin")[1]}, r.json()["job_id"])
    rescored = client.get("/evaluations?agent=A1&current=true", headers=a1).json()["items"]
    current = next(i for i in rescored if i["recording_id"] == ids["a1_rude"][0])
    assert current["fatal"] is False and current["reviewed"]

    rates = client.get("/appeals/rates", headers=boss).json()
    rude_rate = next(r for r in rates["by_rule"] if r["key"] == "rude")
    assert rude_rate["overturn_rate"] == 1.0 and rude_rate["name"] == rude["name"]
    agent_row = next(r for r in rates["by_agent"] if r["key"] == "A1")
    assert agent_row["appeals"] == 1 and agent_row["appeal_rate"] == 0.5


def test_appeal_window_and_grade_appeals(world):
    store, client, people, ids, _, _ = world
    a1 = people["a1"]
    _, rude_ev = ids["a1_rude"]
    _, good_ev = ids["a1_good"]
    r = client.post(
        f"/evaluations/{good_ev}/appeals", headers=a1, json={"target": "grade", "reason": "x"}
    )
    assert r.status_code == 422 and r.json()["detail"] == message(
        "evaluation {id} is graded {grade}: only a fail grade is appealed (a finding that costs "
        "points is appealed on its own)",
        id=good_ev,
        grade=name_of(client.get(f"/evaluations/{good_ev}", headers=a1).json()["grade"]),
    )
    with store.session() as s:
        s.exec(
            update(Evaluation)
            .where(Evaluation.id == rude_ev)
            .values(created_at=datetime.utcnow() - timedelta(days=8))
        )
        s.commit()
    late = client.post(
        f"/evaluations/{rude_ev}/appeals", headers=a1, json={"target": "grade", "reason": "晚了"}
    )
    window = said(
        "the appeal window of evaluation {id} has closed: appeals are filed within {days:g} days "
        "of scoring (scored {when})",
        id=rude_ev,
    )
    assert late.status_code == 409 and re.fullmatch(window, late.json()["detail"]), late.text


def test_second_opinions_and_who_withdraws(world):
    """A confirm by another reviewer never replaces an override silently: the override stands,
    the confirm is a second opinion in the trail, precision counts the override. Only a
    review's author or a QA manager withdraws it."""
    store, client, people, ids, _, _ = world
    r1, r2, boss = people["r1"], people["r2"], people["boss"]
    _, rude_ev = ids["a1_rude"]
    ev = client.get(f"/evaluations/{rude_ev}", headers=r1).json()
    rude = next(f for f in ev["findings"] if f["rule_id"] == "rude")
    first = client.post(
        f"/evaluations/{rude_ev}/reviews",
        headers=r1,
        json={
            "target": "finding",
            "action": "override",
            "finding_id": rude["id"],
            "value": "dismissed",
            "comment": "客户说的",
        },
    ).json()
    second = client.post(
        f"/evaluations/{rude_ev}/reviews",
        headers=r2,
        json={"target": "finding", "action": "confirm", "finding_id": rude["id"]},
    )
    assert second.status_code == 201, second.text
    states = {r["id"]: r["state"] for r in second.json()["evaluation"]["reviews"]}
    assert states[first["id"]] == "applied" and states[second.json()["id"]] == "second_opinion"
    report = client.get("/rules/precision?rubric_id=telecom-data-upgrade", headers=r1).json()
    assert next(r for r in report["rules"] if r["rule_id"] == "rude")["overturned"] == 1
    # the review of A1's call is not there for another agent; A1 reads it
    assert client.get(f"/reviews/{first['id']}", headers=people["a2"]).status_code == 404
    assert client.get(f"/reviews/{first['id']}", headers=people["a1"]).status_code == 200
    r = client.post(f"/evaluations/{rude_ev}/acknowledge", headers=people["a2"])
    assert r.status_code == 404
    assert (
        client.post(f"/evaluations/{rude_ev}/acknowledge", headers=people["a1"]).status_code == 200
    )
    r = client.post(f"/reviews/{first['id']}/withdraw", headers=r2, json={"comment": "x"})
    head, tail = message(
        "review {review} is {who}'s: only its author or a QA manager may withdraw it",
        review=first["id"],
        who="\0",
    ).split("\0")
    detail = r.json()["detail"]
    assert r.status_code == 403 and detail.startswith(head) and detail.endswith(tail), detail
    assert (
        client.post(
            f"/reviews/{first['id']}/withdraw", headers=boss, json={"comment": "经复核撤回"}
        ).status_code
        == 200
    )


def test_sampling_plan_tasks_and_listened_pass_rate(world):
    """A plan's tasks within quotas; a reviewer claims and completes; 监听合格率 counts the
    calls listened to, beside the machine's pass rate over all of them."""
    store, client, people, ids, _, _ = world
    boss, r1, r2 = people["boss"], people["r1"], people["r2"]
    plan = client.post(
        "/plans",
        headers=boss,
        json={
            "project": "p",
            "name": "每日抽检",
            "criteria": {"fatal": True, "low_confidence": False, "min_per_agent": 1},
            "reviewers": [{"name": "r1", "quota": 1}, {"name": "r2", "quota": 1}],
            "seed": "s",
        },
    )
    assert plan.status_code == 201, plan.text
    bad = client.post(
        "/plans",
        headers=boss,
        json={"project": "p", "name": "x", "reviewers": [{"name": "a1", "quota": 1}]},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == message("{name} is no active reviewer", name="'a1'")
    run = client.post(f"/plans/{plan.json()['id']}/run?day=2026-11-20", headers=boss).json()
    # the fatal call, then one call of A2 (A1's minimum is met by its fatal call)
    assert run["created"] == 2 and run["by_reason"] == {"fatal": 1, "agent_minimum": 1}
    assert run["by_reviewer"] == {"r1": 1, "r2": 1}
    again = client.post(f"/plans/{plan.json()['id']}/run?day=2026-11-20", headers=boss).json()
    assert again["created"] == 0  # a run makes its tasks once
    mine = client.get("/tasks", headers=r1).json()
    task = next(t for t in mine if t["assignee"] == "r1")
    assert client.post(f"/tasks/{task['id']}/claim", headers=r2).status_code == 409
    assert client.post(f"/tasks/{task['id']}/claim", headers=r1).json()["state"] == "in_progress"
    done = client.post(f"/tasks/{task['id']}/done", headers=r1).json()
    assert done["state"] == "done" and done["done_by"] == "r1"
    other = next(t for t in client.get("/tasks", headers=r2).json() if t["assignee"] == "r2")
    client.post(f"/tasks/{other['id']}/done", headers=r2)
    listened = {
        t["recording_id"]: t["grade"]
        for t in (done, client.get("/tasks?state=done&mine=false", headers=boss).json()[0])
    }
    row = client.get("/kpis?group_by=project", headers=boss).json()[0]
    machine_passed = sum(
        client.get(f"/evaluations/{ev}", headers=boss).json()["grade"] in ("pass", "excellent")
        for _, ev in ids.values()
    )
    assert row["evaluated"] == 4 and row["pass_rate"] == machine_passed / 4
    assert row["listened"] == 2
    heard_pass = sum(
        client.get(f"/recordings/{rec}", headers=boss).json()["evaluations"][0]["grade"]
        in ("pass", "excellent")
        for rec in {done["recording_id"], other["recording_id"]}
    )
    assert row["listened_passed"] == heard_pass and row["listened_pass_rate"] == heard_pass / 2
    # the flagged queue marks what was listened to; reviewed=false leaves it out
    heard = {done["recording_id"], other["recording_id"]}
    flagged = client.get("/flagged", headers=boss).json()["items"]
    assert flagged and all(i["reviewed"] == (i["recording_id"] in heard) for i in flagged)
    waiting = client.get("/flagged?reviewed=false", headers=boss).json()["items"]
    assert {i["recording_id"] for i in waiting} == {i["recording_id"] for i in flagged} - heard
    load = {w["reviewer"]: w for w in client.get("/tasks/workload", headers=boss).json()}
    assert load["r1"]["done"] == 1 and load["r2"]["done"] == 1
    assert client.get("/tasks/workload", headers=r1).status_code == 403
    assert listened


def test_a_grade_review_a_new_version_cannot_carry_becomes_a_task(world):
    store, client, people, ids, service, _ = world
    r1 = people["r1"]
    _, good_ev = ids["a2_good"]
    r = client.post(
        f"/evaluations/{good_ev}/reviews",
        headers=r1,
        json={"target": "grade", "action": "override", "value": "excellent", "comment": "很好"},
    )
    assert r.status_code == 201, r.text
    admin = {"X-API-Key": create_key(store, "admin")[1]}
    up = client.post(
        "/rubrics",
        headers={**admin, "Content-Type": "application/yaml"},
        content=v2_of(V1_YAML).encode(),
    )
    assert up.status_code == 201, up.text
    assert (
        client.post("/rubrics/telecom-data-upgrade/2/activate?project=p", headers=admin).status_code
        == 200
    )
    rescore = client.post("/rubrics/telecom-data-upgrade/2/rescore", headers=admin)
    assert rescore.status_code == 202, rescore.text
    finished(client, admin, rescore.json()["job_id"])
    tasks = client.get("/tasks?mine=false", headers=people["boss"]).json()
    rereview = [t for t in tasks if t["reason"] == "rereview"]
    assert [t["recording_id"] for t in rereview] == [ids["a2_good"][0]], tasks
    assert rereview[0]["state"] == "unassigned"


def test_a_calibration_session(world):
    """Two reviewers judge two calls blind; the report's agreement, deviations and machine
    agreement are what the judgements give; closing applies the consensus as reviews."""
    store, client, people, ids, _, _ = world
    boss, r1, r2 = people["boss"], people["r1"], people["r2"]
    rude_ev, good_ev = ids["a1_rude"][1], ids["a1_good"][1]
    created = client.post(
        "/calibrations",
        headers=boss,
        json={
            "name": "十一月校准",
            "evaluation_ids": [rude_ev, good_ev],
            "reviewers": ["r1", "r2"],
        },
    )
    assert created.status_code == 201, created.text
    cal = created.json()
    assert client.get(f"/calibrations/{cal['id']}", headers=people["a1"]).status_code == 403
    view = client.get(f"/calibrations/{cal['id']}", headers=r1).json()
    rude_items = {i["rule_id"]: i for i in view["calls"][0]["items"]}
    assert "rude" in rude_items and all(i["machine"] is None for i in rude_items.values())  # blind
    named = client.get(f"/evaluations/{rude_ev}", headers=r1).json()["findings"]
    rude_name = next(f["name"] for f in named if f["rule_id"] == "rude")
    assert rude_items["rude"]["name"] == rude_name  # the form shows names, not rule ids
    machine = client.get(f"/evaluations/{rude_ev}", headers=boss).json()
    assert next(f for f in machine["findings"] if f["rule_id"] == "rude")["status"] == "violation"

    def put(who, ev, values):
        r = client.put(
            f"/calibrations/{cal['id']}/scores",
            headers=who,
            json={"evaluation_id": ev, "values": values},
        )
        assert r.status_code == 200, r.text

    # rude call: both dismiss `rude` (against the machine), both say fail; good call: they
    # differ on the grade
    put(r1, rude_ev, {"rude": "dismissed", "grade": "fail"})
    put(r2, rude_ev, {"rude": "dismissed", "grade": "fail"})
    put(r1, good_ev, {"grade": "pass"})
    put(r2, good_ev, {"grade": "excellent"})
    bad = client.put(
        f"/calibrations/{cal['id']}/scores",
        headers=r1,
        json={"evaluation_id": rude_ev, "values": {"rude": "missed"}},
    )
    assert bad.status_code == 422 and "dismissed" in bad.json()["detail"]
    assert client.get(f"/calibrations/{cal['id']}/report", headers=r1).status_code == 422
    report = client.get(f"/calibrations/{cal['id']}/report", headers=boss).json()
    # items judged by both: rude@rude, grade@rude (alike), grade@good (unlike)
    assert report["overall"]["items"] == 3 and report["overall"]["percent"] == round(2 / 3, 4)
    assert report["per_rule"]["rude"]["percent"] == 1.0
    assert report["rule_names"]["rude"] == rude_name
    assert report["per_rule"]["grade"]["percent"] == 0.5
    assert report["deviation"] == {"r1": 0.0, "r2": 0.0}  # the tie on the good call has none
    # consensus items: rude (machine: violation, wrong) and the rude call's grade (fail: right)
    assert report["machine"] == 0.5
    closed = client.post(f"/calibrations/{cal['id']}/close", headers=boss, json={"apply": True})
    assert closed.status_code == 200 and closed.json()["reviews"] == 1, closed.text
    after = client.get(f"/evaluations/{rude_ev}", headers=boss).json()
    assert next(f for f in after["findings"] if f["rule_id"] == "rude")["status"] == "dismissed"
    assert any(r["reviewer"].startswith("校准") for r in after["reviews"])
    again = client.post(f"/calibrations/{cal['id']}/close", headers=boss, json={"apply": True})
    assert again.status_code == 409


def _week_of_calls(store, seed_calls=6):
    """A generated week (Mon 2026-11-16 .. Sun 11-22) of 4 agents x `seed_calls` calls a day;
    every 7th call fatal, every 11th with doubtful recognition."""
    from qa_service.config import to_utc
    from qa_service.storage.tables import Recording

    n = 0
    with store.session() as s:
        for day in range(7):
            for agent in ("B1", "B2", "B3", "B4"):
                for k in range(seed_calls):
                    n += 1
                    when = to_utc(datetime(2026, 11, 16 + day, 9 + k))
                    rec = Recording(
                        sha256=f"{n:064d}",
                        source_path=f"/x/{n}.wav",
                        duration=60,
                        channels=2,
                        agent_id=agent,
                        project="week",
                        call_time=when,
                    )
                    s.add(rec)
                    s.flush()
                    fatal = n % 7 == 0
                    s.add(
                        Evaluation(
                            recording_id=rec.id,
                            rubric_id="r",
                            rubric_version=1,
                            score=0 if fatal else 60 + n % 40,
                            grade="fail" if fatal else "pass",
                            fatal=fatal,
                            asr_confidence=0.4 if n % 11 == 0 else 0.95,
                            project="week",
                            agent_id=agent,
                            called_at=when,
                            duration=60 + n,
                        )
                    )
        s.commit()
    return n


def test_plan_quotas_and_agent_minimums_over_a_generated_week(world):
    """A weekly plan over 168 generated calls: every fatal and doubtful call picked, at least 3
    per agent, a seeded 10 % random share that another seed changes, no reviewer past their
    quota (the rest waits unassigned), and a second run of the week adds nothing."""
    from qa_service.review import tasks
    from qa_service.storage.tables import ReviewTask, SamplingPlan

    store, client, people, *_ = world
    total = _week_of_calls(store)
    criteria = {"fatal": True, "low_confidence": True, "random_percent": 10, "min_per_agent": 3}
    with store.session() as s:
        plan = SamplingPlan(
            project="week",
            name="周抽检",
            criteria={**criteria, "per": "week"},
            reviewers=[{"name": "r1", "quota": 10}, {"name": "r2", "quota": 5}],
            seed="2026-w47",
        )
        s.add(plan)
        s.commit()
        s.refresh(plan)
        run = tasks.run_plan(s, plan, date(2026, 11, 19), low_confidence=0.6)  # a Thursday
        s.commit()
        made = list(s.exec(select(ReviewTask).where(ReviewTask.plan_id == plan.id)).all())
        evs = {
            e.recording_id: e
            for e in s.exec(select(Evaluation).where(Evaluation.project == "week")).all()
        }
    assert run.candidates == total == 168
    picked = {t.recording_id for t in made}
    assert {r for r, e in evs.items() if e.fatal} <= picked
    assert {r for r, e in evs.items() if e.asr_confidence < 0.6} <= picked
    per_agent = {a: sum(evs[r].agent_id == a for r in picked) for a in ("B1", "B2", "B3", "B4")}
    assert min(per_agent.values()) >= 3, per_agent
    load = {name: sum(t.assignee == name for t in made) for name in ("r1", "r2")}
    assert load == {"r1": 10, "r2": 5}
    assert sum(t.assignee is None and t.state == "unassigned" for t in made) == len(made) - 15
    # the random share: exactly the calls whose seeded rank is under 10 % of the range
    from qa_service.domain.sampling import SAMPLE_PRIME, sample_rank

    seed = f"2026-w47|{run.run}"
    ranked = {
        r
        for r in evs
        if sample_rank(seed, r) < 0.10 * SAMPLE_PRIME
        and r not in {r2 for r2, e in evs.items() if e.fatal or e.asr_confidence < 0.6}
    }
    assert {t.recording_id for t in made if t.reason == "random"} == ranked
    assert 0 < len(ranked) < 40
    with store.session() as s:
        again = tasks.run_plan(s, s.get(SamplingPlan, plan.id), date(2026, 11, 22), 0.6)
        assert again.created == [] and again.run == run.run  # the same week: nothing new


def test_the_nightly_job_runs_the_plans(world):
    """The night scores the day before and runs every active plan for it (in the call center's
    zone): tasks appear without anyone pressing 生成任务."""
    from qa_service.worker.nightly import run_plans

    store, client, people, ids, *_ = world
    client.post(
        "/plans",
        headers=people["boss"],
        json={
            "project": "p",
            "name": "夜间",
            "criteria": {"fatal": True},
            "reviewers": [{"name": "r1", "quota": 5}],
        },
    )
    lines = run_plans(store, date(2026, 11, 20), 0.6)
    made = said(
        "{project} {plan}: {n} tasks of {candidates} calls ({run})",
        project="p",
        plan="夜间",
        n=1,
        candidates=4,
    )
    assert len(lines) == 1 and re.fullmatch(made, lines[0]), lines
    again = said(
        "{project} {plan}: {n} tasks of {candidates} calls ({run})", project="p", plan="夜间", n=0
    )
    assert re.fullmatch(again, run_plans(store, date(2026, 11, 20), 0.6)[0])
    tasks = client.get("/tasks", headers=people["r1"]).json()
    assert [t["recording_id"] for t in tasks] == [ids["a1_rude"][0]]


def test_common_error_shares_count_calls_of_rubrics_with_the_rule(world):
    """A survey's calls do not dilute a marketing rule's share: a rule's share is over the calls
    of the rubrics that have it (4 telecom calls, 3 survey calls)."""
    from tests.support import RUBRICS

    store, client, people, _, service, tmp_path = world
    text = (RUBRICS / "satisfaction-survey.yaml").read_text(encoding="utf-8")
    survey = parse_rubric(text, "survey")
    store.rubrics.save(survey, text)
    for i in range(3):
        path = write_wav(tmp_path / f"survey{i}.wav", 2.0 + i / 10)
        store.recordings.save_transcript(
            sha256_of(path),
            str(path),
            CallMetadata(agent_id="S1", project="s", call_time=datetime(2026, 11, 20, 14, i)),
            30.0,
            2,
            "stereo",
            "hand-made",
            SHORT,
        )
        service.score_file(path, survey)
    telecom = parse_rubric(V1_YAML).rule_ids()
    errors = client.get("/kpis/errors", headers=people["boss"]).json()
    only_telecom = [e for e in errors if e["rule_id"] not in survey.rule_ids()]
    assert only_telecom, errors
    for e in errors:
        calls = 4 * (e["rule_id"] in telecom) + 3 * (e["rule_id"] in survey.rule_ids())
        assert e["share"] == round(e["count"] / calls, 4), e
    # project s has no active rubric (scored as the CLI scores): its trial report reads the
    # rubric its calls were scored with, as the wrap-up does (it was a 422)
    trial = client.get("/projects/s/trial?phase=production", headers=people["boss"])
    assert trial.status_code == 200, trial.text
