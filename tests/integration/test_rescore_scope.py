"""Rescoring without a project touches only what the rubric is for, and never moves a
call's current evaluation away from its project's active rubric version."""

import pytest

from qa_service.app.evaluations import record_evaluation
from qa_service.app.rescoring import rescore_scope
from qa_service.app.scoring import QAService
from qa_service.config import Settings
from qa_service.domain.metadata import CallMetadata
from qa_service.domain.results import Utterance
from qa_service.i18n import message
from qa_service.rules.rubric import load_rubric, parse_rubric
from qa_service.rules.scoring import Scorer, evaluate
from qa_service.storage.store import Store
from tests.support import RUBRICS

CALL = [
    Utterance("agent", 0.0, 3.0, "您好，我是电信客服小王，给您介绍一下畅享套餐升级", 0.9),
    Utterance("customer", 3.5, 5.0, "好的，你说", 0.9),
]
TELECOM = (RUBRICS / "telecom-data-upgrade.yaml").read_text(encoding="utf-8")
CARE = "id: 关怀回访\nname: 关怀回访\nversion: 1\nproject_type: care\n"


def current(store, recording_id):
    return [
        (e.rubric_id, e.rubric_version)
        for e in store.evaluations.of_recording(recording_id)
        if e.is_current
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rescore_scope_and_current(request, tmp_path, backend):
    store = Store(request.getfixturevalue(f"{backend}_url"))
    v1 = load_rubric(RUBRICS / "telecom-data-upgrade.yaml")
    v2 = parse_rubric(TELECOM.replace("version: 1", "version: 2", 1), "v2")
    care = parse_rubric(CARE, "care")
    store.rubrics.save(v1, TELECOM)
    store.rubrics.save(v2, TELECOM.replace("version: 1", "version: 2", 1))
    store.rubrics.save(care, CARE)
    store.rubrics.activate("telecom", v1.id, 1)
    store.rubrics.activate("care", care.id, 1)
    recs = {}
    for name, project, rubric in (
        ("marketing", "telecom", v1),
        ("care", "care", care),
        ("unscored", "telecom", None),
    ):
        rec = store.recordings.save_transcript(
            name.ljust(64, "0"),
            f"{name}.wav",
            CallMetadata(project=project, agent_id="A1"),
            5.0,
            2,
            "stereo",
            "test",
            CALL,
        )
        if rubric:
            record_evaluation(store, rec.id, evaluate(f"{name}.wav", CALL, 5.0, Scorer(rubric)))
        recs[name] = rec.id
    service = QAService(store, Settings(database_url=store.url))
    # no project: the calls evaluated with this rubric and those of projects where it is
    # active, never the care campaign's call
    chosen, scope = rescore_scope(store, v1.id)
    assert sorted(r.id for r in chosen) == sorted([recs["marketing"], recs["unscored"]])
    assert scope == message(
        "{n} recording(s): those already evaluated with rubric {rubric} and the recordings of "
        "project(s) {projects} where it is active (give a project to rescore another)",
        n=2,
        rubric=v1.id,
        projects="telecom",
    )
    service.rescore(v2)
    assert current(store, recs["care"]) == [("关怀回访", 1)]
    # v2 is not active for telecom yet: v1 stays current
    assert current(store, recs["marketing"]) == [(v1.id, 1)]
    store.rubrics.activate("telecom", v1.id, 2)
    service.rescore(v2, "telecom")
    assert current(store, recs["marketing"]) == [(v1.id, 2)]
    service.rescore(v1)  # an older version again: it is stored, current does not move back
    assert current(store, recs["marketing"]) == [(v1.id, 2)]
    assert {
        (e.rubric_id, e.rubric_version) for e in store.evaluations.of_recording(recs["marketing"])
    } == {(v1.id, 1), (v1.id, 2)}
