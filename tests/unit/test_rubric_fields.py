"""Every field a rubric rule or its scoring settings can have has a label people read
(版本对比 names a changed field by it), translated."""

from __future__ import annotations

import pydantic

from qa_service.i18n import translate
from qa_service.rules import rubric
from qa_service.rules.field_labels import FIELD_LABELS, field_label


def _rule_models() -> list[type[pydantic.BaseModel]]:
    return [
        c
        for c in vars(rubric).values()
        if isinstance(c, type)
        and issubclass(c, pydantic.BaseModel)
        and c.__module__ == rubric.__name__
        and c is not rubric.Rubric
    ]


def test_every_rule_field_has_a_label():
    fields = {f for model in _rule_models() for f in model.model_fields}
    assert {"pass_score", "deduct", "weight", "any"} <= fields
    missing = sorted(fields - set(FIELD_LABELS))
    assert not missing, f"rubric fields without a label (rules/field_labels.py): {missing}"


def test_a_label_reads_in_chinese_and_an_unknown_key_as_itself():
    assert translate(FIELD_LABELS["pass_score"], "zh_CN") == "合格分"
    assert field_label("pass_score") == "合格分"
    assert field_label("no_such_key") == "no_such_key"
