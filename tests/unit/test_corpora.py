"""The check corpora of corpus/ (issue 24): every rubric loads to the spec, every label names
a script, a recording and rules of its rubric, and the scripts and labels are what
corpus/make_scripts.py writes (so a reworded line keeps its labels true)."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from qa_service.rules.knowledge import knowledge_of
from qa_service.rules.rubric import load_rubric
from tests.support import ROOT

CORPUS = ROOT / "corpus"
PRODUCTS = ("car-insurance-renewal", "wealth-care-offer")


def make_scripts():
    spec = importlib.util.spec_from_file_location("make_scripts", CORPUS / "make_scripts.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("product", PRODUCTS)
def test_rubrics_load_and_labels_name_their_rules_and_recordings(product):
    folder = CORPUS / product
    labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    for name in ("rubric.yaml", "rubric-similar.yaml"):
        rubric = load_rubric(folder / name)
        assert knowledge_of(rubric) is not None
        sections = {s.id for s in rubric.script_sections}
        points = {p.id for p in rubric.mandatory_points}
        objections = {o.id for o in rubric.objections}
        attitude = {a.id for a in rubric.attitude_errors}
        forbidden = {f.id for f in rubric.forbidden_phrases}
        for label in labels:
            assert set(label["sections"]) <= sections, label["id"]
            assert set(label["points"]) <= points, label["id"]
            assert set(label["objections"]) <= objections, label["id"]
            assert set(label["attitude"]) <= attitude, label["id"]
            assert set(label["forbidden"]) <= forbidden, label["id"]
            assert label["outcome"] in ("success", "refusal", "unknown")
    for label in labels:
        assert (folder / label["audio"]).is_file(), label["audio"]
        ref = json.loads((folder / f"{label['id']}.ref.json").read_text(encoding="utf-8"))
        assert ref["channels"] == label["channels"]
    # both kinds of agent, both layouts, every outcome
    assert {x["agent"] for x in labels} == {"plain", "para"}
    assert {x["channels"] for x in labels} == {"stereo", "mono"}
    assert {x["outcome"] for x in labels} == {"success", "refusal", "unknown"}


def test_scripts_and_labels_are_what_the_generator_writes():
    module = make_scripts()
    for product, spec in module.PRODUCTS.items():
        folder = CORPUS / product
        labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
        for n, plan in enumerate(module.PLANS):
            script, label = module.build_call(spec, n, plan)
            stored = yaml.safe_load((folder / f"{script['id']}.yaml").read_text("utf-8"))
            assert stored == json.loads(json.dumps(script)), script["id"]
            assert labels[n] == json.loads(json.dumps(label)), script["id"]
