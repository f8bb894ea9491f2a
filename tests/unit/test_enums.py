"""The str Enums are their strings: stored, compared and written to JSON as the spec's values."""

import json

from qa_service.domain.enums import (
    COSTLY,
    GRADED,
    PASSING,
    Category,
    FindingStatus,
    Grade,
    JobState,
    SectionKind,
)


def test_members_are_their_values():
    assert Grade.PASS == "pass" and f"{Grade.FAIL}" == "fail" and str(JobState.FAILED) == "failed"
    assert json.dumps({"grade": Grade.EXCELLENT}) == '{"grade": "excellent"}'
    assert Grade("excellent") is Grade.EXCELLENT


def test_the_spec_vocabulary():
    # the spec's grades, extended by one outside them: a call with no speech is not graded
    assert GRADED == ("excellent", "pass", "fail")
    assert Grade.values() == (*GRADED, "no_speech")
    assert set(COSTLY) == {"missed", "violation", "unhandled"}
    assert set(PASSING) == {"pass", "excellent"}
    assert {"hit", "missed", "violation", "handled", "unhandled"} <= set(FindingStatus.values())
    assert set(Category.values()) >= {
        "script_section",
        "mandatory_point",
        "forbidden_phrase",
        "attitude_error",
        "objection",
        "silence",
        "interruption",
        "speech_rate",
    }
    assert len(SectionKind) == 6
