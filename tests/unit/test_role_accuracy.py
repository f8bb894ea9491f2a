"""Mono role accuracy as the benchmarks measure it (benchmarks/scoring_accuracy.heard_role)."""

from benchmarks.scoring_accuracy import heard_role


def turn(role, start, end):
    return {"role": role, "start": start, "end": end, "text": ""}


def test_two_turns_of_one_speaker_joined_into_one_utterance_are_both_right():
    # the agent's 好的，那不打扰您了 and 那就先这样 … 拜拜, joined once roles are known
    heard = [("customer", 68.5, 70.9), ("agent", 71.3, 77.3)]
    assert heard_role(turn("agent", 71.1, 72.8), heard) == "agent"
    assert heard_role(turn("agent", 73.3, 77.1), heard) == "agent"


def test_a_turn_inside_the_other_speakers_utterance_is_wrong():
    heard = [("customer", 68.5, 73.2), ("agent", 73.5, 77.3)]
    assert heard_role(turn("customer", 68.3, 70.6), heard) == "customer"
    assert heard_role(turn("agent", 71.1, 72.8), heard) == "customer"


def test_a_turn_nobody_heard_has_no_role():
    assert heard_role(turn("customer", 55.7, 56.1), [("agent", 48.9, 55.4)]) is None
