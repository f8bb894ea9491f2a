"""A call with no speech to judge (silence, noise, a dead line) is not graded: grade
no_speech, no score, no findings, a warning, and no KPI counts it (hand-made transcripts)."""

from qa_service.config import NO_SPEECH_MIN_CHARS, NO_SPEECH_WARNING
from qa_service.domain.enums import FlagReason, Grade
from qa_service.domain.evaluation import CallEvaluation
from qa_service.domain.results import Utterance as U
from qa_service.metrics.models import KpiRow
from qa_service.review.models import EvaluationItem
from qa_service.review.queues import evaluation_item
from qa_service.rules.checks import Call
from qa_service.rules.rubric import parse_rubric
from qa_service.rules.scoring import Scorer, evaluate, no_speech
from qa_service.storage.rollups import KpiSums
from qa_service.storage.tables import Evaluation
from tests.unit.test_checks import GOOD, SCORER, run


def test_an_empty_transcript_is_not_graded():
    result = evaluate("silence.wav", [], 1.0, SCORER, warnings=["a recognition warning"])
    assert result.grade == Grade.NO_SPEECH and not result.fatal
    assert result.findings == [] and result.highlights == []  # no "greeting missed" and the like
    assert result.outcome == "unknown"
    assert result.warnings == ["a recognition warning", NO_SPEECH_WARNING]
    out = CallEvaluation.of_result(result).to_json()
    assert out["grade"] == "no_speech" and out["score"] is None  # null, not 25 or 0
    assert out["asr_confidence"] == 0.0 and NO_SPEECH_WARNING in out["warnings"]
    assert out["findings"] == []


def test_a_dead_line_is_not_graded():
    """The agent says 喂? 喂? into nothing: punctuation does not count as speech."""
    utts = [U("agent", 0.5, 1.0, "喂？"), U("agent", 3.0, 3.5, "喂？……")]
    assert run(utts, duration=30.0).grade == Grade.NO_SPEECH
    assert run([U("customer", 0.5, 1.0, "嗯。")], duration=30.0).grade == Grade.NO_SPEECH


def test_the_threshold_is_on_total_speech():
    """NO_SPEECH_MIN_CHARS characters, both speakers together, are enough to grade a call."""
    assert NO_SPEECH_MIN_CHARS == 4
    assert not no_speech([U("agent", 0, 1, "喂喂"), U("customer", 1, 2, "你好")])
    assert no_speech([U("agent", 0, 1, "喂喂"), U("customer", 1, 2, "嗯")])


def test_a_customer_talking_to_a_silent_agent_is_graded():
    """The agent never speaks while the customer does: that is the agent's failure."""
    utts = [U("customer", 0.5, 3.0, "喂，你好，有人吗？"), U("customer", 5.0, 7.0, "喂？说话啊")]
    result = run(utts)
    assert result.grade == Grade.FAIL and result.score < 80
    assert any(f.status == "missed" for f in result.findings)


def test_a_fatal_phrase_in_little_speech_is_never_hidden():
    rubric = parse_rubric("""
id: short
version: 1
forbidden_phrases:
  - {id: curse, any: [滚], severity: fatal, deduct: 100}
""")
    scorer = Scorer(rubric, 0.85)
    assert scorer.evaluate(Call([U("agent", 0.5, 1.0, "滚！")], 5.0)).grade == Grade.FAIL
    assert scorer.evaluate(Call([U("agent", 0.5, 1.0, "喂？")], 5.0)).grade == Grade.NO_SPEECH
    assert (
        run([U("agent", 0.5, 1.0, "滚")], duration=5.0).grade == Grade.NO_SPEECH
    )  # not fatal there


def test_a_normal_call_is_unaffected():
    result = run(GOOD)
    assert result.grade == Grade.EXCELLENT and result.score == 100.0 and result.warnings == []
    out = CallEvaluation.of_result(result).to_json()
    assert out["score"] == 100.0 and "asr_confidence" not in out


def test_no_speech_counts_in_no_kpi():
    graded = [KpiSums.of_call("pass", "success", False, 60.0), KpiSums.of_call("fail", "", 0, 30)]
    without = KpiSums()
    for call in graded:
        without.add(call)
    with_it = KpiSums().add(without).add(KpiSums.of_call(Grade.NO_SPEECH, "unknown", False, 9.0))
    a, b = KpiRow.of_sums(without), KpiRow.of_sums(with_it)
    assert a.model_dump(exclude={"no_speech"}) == b.model_dump(exclude={"no_speech"})
    assert (a.no_speech, b.no_speech, b.evaluated, b.average_talk_seconds) == (0, 1, 2, 45.0)
    only = KpiRow.of_sums(KpiSums.of_call(Grade.NO_SPEECH, "unknown", False, 9.0))
    assert only.evaluated == 0 and only.pass_rate is None and only.no_speech == 1


def test_a_silent_call_is_flagged_with_its_reason_and_listed_without_score():
    ev = Evaluation(
        id=1, recording_id=1, rubric_id="r", rubric_version=1, score=0.0, grade=Grade.NO_SPEECH
    )
    assert FlagReason.NO_SPEECH in ev.flag_reasons(low_confidence=0.5)
    graded = Evaluation(
        id=2, recording_id=2, rubric_id="r", rubric_version=1, score=25, grade="fail"
    )
    assert FlagReason.NO_SPEECH not in graded.flag_reasons(low_confidence=0.5)
    item = evaluation_item(ev)
    assert isinstance(item, EvaluationItem)
    assert item.grade == "no_speech" and item.score is None and item.machine_score is None
    assert evaluation_item(graded).score == 25


def test_the_call_object_is_what_the_rules_see():
    """Hand-made Call objects go through the same rule (Scorer.evaluate)."""
    assert SCORER.evaluate(Call([], 1.0)).grade == Grade.NO_SPEECH
