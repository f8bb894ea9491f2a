"""Laying reviews over machine findings (qa_service.review.reviews.plan and the reviewed score),
with hand-made rows: no database."""

from datetime import datetime

from qa_service.review.reviews import (
    Catalog,
    RuleInfo,
    allowed_statuses,
    plan,
    reviewed_findings,
    reviewed_score,
)
from qa_service.rules.rubric import Scoring
from qa_service.storage.tables import Evaluation, FindingRow, Review

CATALOG = Catalog(
    {
        "opening": RuleInfo("opening", "script_section", "开场白", 5),
        "rude": RuleInfo("rude", "attitude_error", "态度恶劣", 100, "fatal"),
        "disparage": RuleInfo("disparage", "forbidden_phrase", "诋毁同行", 20),
        "silence": RuleInfo("silence", "silence", "静音", 5, max_deduct=10),
    },
    Scoring(total=100, pass_score=80, excellent_score=95),
)
EV = Evaluation(id=1, recording_id=1, rubric_id="r", rubric_version=2, score=0, grade="fail")


def finding(id, rule, category, status, deduction, start=None, severity="normal"):
    evidence = (
        [{"role": "agent", "start": start, "end": start + 1, "text": "x"}]
        if start is not None
        else []
    )
    return FindingRow(
        id=id,
        evaluation_id=1,
        rule_id=rule,
        category=category,
        status=status,
        deduction=deduction,
        severity=severity,
        evidence=evidence,
    )


def review(
    id,
    rule,
    new,
    action="override",
    category=None,
    version=2,
    start=None,
    withdrawn=False,
    target="finding",
):
    return Review(
        id=id,
        recording_id=1,
        rubric_id="r",
        rubric_version=version,
        evaluation_id=1,
        target=target,
        action=action,
        rule_id=rule,
        category=category,
        start=start,
        end=None if start is None else start + 1,
        new_value=new,
        reviewer="qa",
        withdrawn_at=datetime(2026, 11, 25) if withdrawn else None,
    )


MACHINE = [
    finding(1, "opening", "script_section", "missed", 5),
    finding(2, "rude", "attitude_error", "violation", 100, start=3.0, severity="fatal"),
    finding(3, "silence", "silence", "violation", 5, start=10.0),
    finding(4, "silence", "silence", "violation", 5, start=20.0),
    finding(5, "silence", "silence", "violation", 0, start=30.0),
]


def score(reviews):
    p = plan(EV, MACHINE, reviews, CATALOG)
    return p, reviewed_score(reviewed_findings(MACHINE, p, CATALOG), p, CATALOG.scoring)


def test_machine_result_when_nothing_applies():
    p, (points, grade, fatal, _) = score([])
    assert (points, grade, fatal) == (0.0, "fail", True) and not p.applied


def test_dismissing_a_fatal_finding_moves_score_grade_and_fatal():
    p, (points, grade, fatal, computed) = score(
        [review(10, "rude", "dismissed", category="attitude_error")]
    )
    assert p.states == {10: ("applied", None)}
    assert (points, grade, fatal) == (100 - 5 - 10, "pass", False)


def test_per_occurrence_cap_recomputed_after_a_dismissal():
    """Three silences at 5 each, capped at 10: dismissing the first moves the third into the cap."""
    reviews = [
        review(10, "rude", "dismissed", category="attitude_error"),
        review(11, "silence", "dismissed", category="silence", start=10.2),
    ]
    p, _ = score(reviews)
    found = {f.row.id: f.deduction for f in reviewed_findings(MACHINE, p, CATALOG) if f.row}
    assert (found[3], found[4], found[5]) == (0.0, 5.0, 5.0)
    assert p.statuses[3] == ("dismissed", 11) and 4 not in p.statuses


def test_an_added_finding_costs_its_rule_and_a_grade_review_wins():
    reviews = [
        review(10, "rude", "dismissed", category="attitude_error"),
        review(12, "disparage", "violation", action="add", category="forbidden_phrase", start=40.0),
        review(13, None, "excellent", target="grade"),
    ]
    p, (points, grade, fatal, computed) = score(reviews)
    assert (points, computed, grade) == (100 - 5 - 10 - 20, "fail", "excellent")
    assert [r.id for r in p.additions] == [12]


def test_removed_rules_changed_categories_and_other_versions_need_rereview():
    reviews = [
        review(20, "gone", "dismissed", category="forbidden_phrase"),
        review(21, "opening", "hit", category="mandatory_point"),
        review(22, None, "pass", target="grade", version=1),
        review(23, "silence", "dismissed", category="silence", start=99.0),
    ]
    p = plan(EV, MACHINE, reviews, CATALOG)
    assert p.states == {
        20: ("needs_rereview", "rule_removed"),
        21: ("needs_rereview", "category_changed"),
        22: ("needs_rereview", "rubric_version_changed"),
        23: ("needs_rereview", "finding_gone"),
    }
    assert p.needs_rereview == 4 and not p.applied


def test_newest_review_decides_withdrawn_ones_do_not():
    reviews = [
        review(30, "opening", "hit", category="script_section"),
        review(31, "opening", "missed", category="script_section"),
        review(32, "opening", "hit", category="script_section", withdrawn=True),
        review(33, None, "pass", target="grade", version=1),
        review(34, None, "fail", target="grade", version=2),
    ]
    p = plan(EV, MACHINE, reviews, CATALOG)
    assert p.states == {
        30: ("superseded", None),
        31: ("applied", None),
        32: ("withdrawn", None),
        33: ("superseded", None),
        34: ("applied", None),
    }
    assert p.statuses[1] == ("missed", 31) and p.grade.id == 34


def test_allowed_statuses_per_category():
    assert allowed_statuses("script_section") == ["hit", "missed"]
    assert allowed_statuses("silence") == ["violation", "dismissed"]
    assert allowed_statuses("objection") == ["handled", "unhandled"]
