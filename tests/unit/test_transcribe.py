"""Recognition helpers that need no model: VAD spans from probabilities, the packing of
chunks into windows (coverage, word assignment, trimming) and the noise-filler filter."""

import numpy as np
from faster_whisper.transcribe import Word
from faster_whisper.vad import VadOptions

from qa_service.asr.audio import SAMPLE_RATE
from qa_service.asr.transcribe import (
    NOISE_CAPTIONS,
    VAD_FRAME,
    Chunk,
    _Packing,
    frame_loudness,
    speech_spans,
    spurious,
    trim_to_loudness,
    words_short,
)
from qa_service.config import EDGE_QUIET_S, JOIN_GAP_S, TRIM_PAD_S
from qa_service.rules.normalize import normalize_plain

FRAME_S = VAD_FRAME / SAMPLE_RATE


def frames(*runs):
    """Probabilities from (value, seconds) runs."""
    return np.concatenate([np.full(round(seconds / FRAME_S), value) for value, seconds in runs])


def test_speech_spans_open_close_and_pad():
    options = VadOptions(
        threshold=0.35, min_speech_duration_ms=150, min_silence_duration_ms=400, speech_pad_ms=150
    )
    probs = frames(
        (0.0, 1.0), (0.8, 1.0), (0.25, 0.3), (0.8, 0.5), (0.0, 2.0), (0.9, 0.1), (0.0, 1.0)
    )
    length = len(probs) * VAD_FRAME
    spans = [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in speech_spans(probs, options, length)]
    # 0.3 s between neg (0.2) and threshold does not close; a 0.1 s blip is too short
    assert len(spans) == 1
    start, end = spans[0]
    assert abs(start - (1.0 - 0.15)) < FRAME_S and abs(end - (2.8 + 0.15)) < FRAME_S


def packing(chunks):
    samples = np.zeros(20 * SAMPLE_RATE, np.float32)
    return _Packing([(samples, chunks)])


def test_coverage_weighs_sure_speech_and_words_go_to_their_chunk():
    chunks = [
        Chunk(1.0, 3.0, voiced=1.5),
        Chunk(5.0, 9.0, voiced=0.1),
        Chunk(10.0, 11.0, voiced=0.8),
    ]
    plan = packing(chunks)
    first, third = plan.offsets[0], plan.offsets[2]
    words = [
        Word(first + 0.2, first + 0.6, "您好", 0.9),
        Word(third + 0.1, third + 0.5, "好的", 0.8),
    ]
    # the long chunk of noise (little sure speech) without words does not make the window doubtful
    assert plan.coverage(words, 0) > 0.9
    assert plan.coverage(words[:1], 0) < 0.7
    plan.assign(words)
    assert [c.text for c in chunks] == ["您好", "", "好的"]


def test_chunk_edges_held_open_by_quieter_babble_are_cut():
    # 10 s of babble 18 dB under a 1.5 s reply, then 1.2 s of it after: both edges go
    loudness = frames((-30.0, 10.0), (-12.0, 1.5), (-30.0, 1.2))
    span = (0, len(loudness) * VAD_FRAME)
    start, end = trim_to_loudness(span, loudness)
    assert abs(start / SAMPLE_RATE - (10.0 - TRIM_PAD_S)) < 2 * FRAME_S
    assert abs(end / SAMPLE_RATE - (11.5 + TRIM_PAD_S)) < 2 * FRAME_S
    # a soft start shorter than EDGE_QUIET_S, a soft tail only 6 dB down, a chunk loud
    # throughout: kept as the VAD made them
    soft_onset = frames((-30.0, EDGE_QUIET_S - 0.2), (-12.0, 2.0), (-18.0, 3.0))
    kept = (0, len(soft_onset) * VAD_FRAME)
    assert trim_to_loudness(kept, soft_onset) == kept
    loud = frames((-12.0, 4.0))
    assert trim_to_loudness((0, len(loud) * VAD_FRAME), loud) == (0, len(loud) * VAD_FRAME)


def test_loudness_ignores_the_dips_between_syllables():
    syllable, dip = np.full(VAD_FRAME * 4, 0.1, np.float32), np.zeros(VAD_FRAME, np.float32)
    level = frame_loudness(np.concatenate([syllable, dip, syllable]))
    assert len(level) == 9 and level.min() > -25  # the 32 ms dip reads as loud as its neighbours


def test_chunk_held_open_by_noise_is_trimmed_to_its_words():
    chunks = [Chunk(2.0, 10.0, voiced=1.0), Chunk(12.0, 13.0, voiced=0.8)]
    plan = packing(chunks)
    at = plan.offsets[0]
    plan.assign(
        [
            Word(at + 5.0, at + 5.4, "什么", 0.8),
            Word(at + 5.4, at + 5.8, "事", 0.8),
            Word(plan.offsets[1] + 0.1, plan.offsets[1] + 0.9, "好的", 0.9),
        ]
    )
    assert abs(chunks[0].start - 6.8) < 1e-6 and abs(chunks[0].end - 8.0) < 1e-6
    assert (chunks[1].start, chunks[1].end) == (12.0, 13.0)  # tight chunks keep the VAD's times
    assert plan.offsets[1] == 8.0 + JOIN_GAP_S


def test_hotwords_and_captions_heard_in_noise_are_dropped():
    fillers = sorted(
        {normalize_plain(x) for x in ("续约", "提速", "五百兆续约", *NOISE_CAPTIONS)},
        key=len,
        reverse=True,
    )
    assert spurious("续约 提速 五百兆续约", 0.3, fillers)
    assert spurious("作词 作曲", 0.42, fillers)
    assert not spurious("续约 提速 五百兆续约", 0.9, fillers)  # heard with confidence: kept
    assert not spurious("我想问一下续约的事情", 0.4, fillers)  # a sentence around the hotword
    assert not spurious("谢谢", 0.3, fillers)


def test_a_turn_keeps_its_first_word():
    """Whisper timed the 不 of "不需要" into the chunk before (a "嗯" it skipped)."""
    chunks = [
        Chunk(1.0, 2.0, voiced=0.5),
        Chunk(5.0, 5.6, voiced=0.4),
        Chunk(9.0, 11.0, voiced=1.5),
    ]
    plan = packing(chunks)
    second, third = plan.offsets[1], plan.offsets[2]
    plan.assign(
        [
            Word(0.1, 0.6, " 什么事", 0.9),
            Word(second + 0.1, third - 0.1, " 不", 0.02),
            Word(third - 0.1, third + 0.8, "需要", 0.9),
            Word(third + 1.0, third + 1.4, " 谢谢", 0.9),
        ]
    )
    assert [c.text for c in chunks] == ["什么事", "", "不需要 谢谢"]
    chunks = [Chunk(1.0, 2.0, voiced=0.5), Chunk(9.0, 11.0, voiced=1.5)]
    plan = packing(chunks)
    at = plan.offsets[1]
    plan.assign([Word(0.1, 0.5, " 嗯", 0.6), Word(at + 0.1, at + 0.8, " 你说", 0.9)])
    assert [c.text for c in chunks] == ["嗯", "你说"]  # a filler keeps its own chunk
    chunks = [Chunk(1.0, 2.0, voiced=0.5), Chunk(9.0, 11.0, voiced=1.5)]
    plan = packing(chunks)
    at = plan.offsets[1]
    plan.assign(
        [
            Word(0.1, 0.5, "算吗", 0.9),
            Word(0.5, at - 0.05, "不", 0.3),  # no spaces at all
            Word(at + 0.1, at + 0.8, "需要", 0.9),
            Word(at + 0.8, at + 1.2, "谢谢", 0.9),
        ]
    )
    assert [c.text for c in chunks] == ["算吗", "不需要谢谢"]


def test_a_channel_with_far_fewer_utterances_than_speech_is_named():
    """Words lost across windows (or dropped as noise fillers) show over the whole channel:
    a warning names the shortfall; a channel that kept its words, or with too little sure
    speech to judge, has none."""
    heard = [
        Chunk(1.0, 3.0, "您好", voiced=1.5),
        Chunk(5.0, 7.0, "", voiced=1.6),
        Chunk(8.0, 10.0, "", voiced=1.8),
        Chunk(11.0, 12.0, "", voiced=0.8),
    ]
    short = words_short(heard)
    assert short and "1 of 4" in short and "26%" in short
    heard[1].text = heard[2].text = "好的"
    assert words_short(heard) is None
    assert words_short([Chunk(1.0, 2.0, "", voiced=1.0), Chunk(3.0, 4.0, "", voiced=0.9)]) is None
