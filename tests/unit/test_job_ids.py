"""Job ids are the idempotency keys: different rubrics must never share one."""

from qa_service.app.dispatch import score_job_id
from qa_service.rules.rubric import parse_rubric

SHA = "a" * 64


def rubric(rubric_id: str, version: int = 1):
    return parse_rubric(f"id: {rubric_id}\nname: x\nversion: {version}\n", "test")


def test_job_ids_are_injective():
    ids = {
        score_job_id(SHA, rubric(r, v))
        for r in ("care_call", "care-call", "care.call", "关怀回访", "营销外呼", "满意度调查")
        for v in (1, 2)
    }
    assert len(ids) == 12
    for job_id in ids:  # what rq accepts in a job id
        assert job_id.replace("_", "").replace("-", "").isascii() and len(job_id) <= 200
    assert score_job_id(SHA, rubric("关怀回访")) == score_job_id(SHA, rubric("关怀回访"))
