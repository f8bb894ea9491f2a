"""Next project from the last (项目总结积累): a new project starts from an earlier project's
wrap-up (its highlight scripts, common errors, refusal reasons, product facts agents got wrong,
and whatever else the wrap-up lists, such as customers' questions), kept with the new project
so its trial team does not start from nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qa_service.metrics.models import CarriedOver, VersionRef, WrapupReport

CARRIED = ("highlights", "common_errors", "refusal_reasons", "product_fact_violations")
# Sections that describe the earlier project itself, not what the next one starts from.
NOT_CARRIED = ("kpis", "kpis_by_phase", "kpis_by_day", "guide_map", "period", "setup")


def carry_over(report: WrapupReport, project: str, when: datetime) -> CarriedOver:
    data = report.model_dump(mode="json")
    other: dict[str, list[Any]] = {
        k: v
        for k, v in data.items()
        if isinstance(v, list) and k not in CARRIED and k not in NOT_CARRIED
    }
    return CarriedOver(
        project=project,
        source_project=report.project,
        source_rubric=VersionRef(id=report.rubric.id, version=report.rubric.version),
        carried_at=when,
        highlights=report.highlights,
        common_errors=report.common_errors,
        refusal_reasons=report.refusal_reasons,
        product_fact_violations=report.product_fact_violations,
        other=other,
    )
