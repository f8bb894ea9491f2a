"""Crosstalk removal on synthetic channels: bursts of coloured noise that alternate like
turns, each side leaking into the other."""

import numpy as np

from qa_service.asr.audio import SAMPLE_RATE
from qa_service.asr.crosstalk import find_leaks, may_leak, mostly_leak, remove_leak, separate


def turns(seed: int, seconds: float, first_on: bool) -> np.ndarray:
    """Low-passed noise switched on every other 2 s (the other side talks in between)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    x = np.convolve(rng.normal(0, 0.1, n), np.ones(4) / 4, mode="same")
    on = (np.arange(n) // (2 * SAMPLE_RATE)) % 2 == (0 if first_on else 1)
    return (x * on).astype(np.float32)


def leak(samples: np.ndarray, delay_s: float, gain: float) -> np.ndarray:
    shift = int(delay_s * SAMPLE_RATE)
    return gain * np.concatenate([np.zeros(shift, np.float32), samples[:-shift]])


def db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20)


def test_leak_found_in_both_directions_and_removed():
    a, b = turns(1, 20, True), turns(2, 20, False)
    left, right = a + leak(b, 0.04, 0.126), b + leak(a, 0.06, 0.1)
    into_left, into_right = find_leaks(left, right)
    assert into_left.lag == int(0.04 * SAMPLE_RATE) and into_right.lag == int(0.06 * SAMPLE_RATE)
    assert abs(20 * np.log10(into_left.gain) + 18) < 1.5
    cleaned = remove_leak(left, right, into_left)
    quiet = slice(2 * SAMPLE_RATE + 1000, 4 * SAMPLE_RATE)  # left's speaker silent
    assert db(cleaned[quiet]) < db(left[quiet]) - 25
    talking = slice(1000, 2 * SAMPLE_RATE)  # left's own speech is untouched
    assert abs(db(cleaned[talking]) - db(a[talking])) < 0.1
    assert mostly_leak(cleaned, left, 2.1, 3.9) and not mostly_leak(cleaned, left, 0.1, 1.9)


def test_real_overlap_survives():
    a, b = turns(3, 20, True), turns(4, 20, False)
    a[int(2.0 * SAMPLE_RATE) : int(3.0 * SAMPLE_RATE)] += turns(5, 1, True)  # talks over b
    left, right = a + leak(b, 0.04, 0.126), b + leak(a, 0.04, 0.126)
    cleaned_left, _, notes = separate(left, right)
    assert len(notes) == 2
    assert not mostly_leak(cleaned_left, left, 2.0, 3.0)


def test_independent_channels_and_mono_mixes_are_left_alone():
    a, b = turns(6, 20, True), turns(7, 20, False)
    assert find_leaks(a, b) == (None, None)
    left, right, notes = separate(a, b)
    assert left is a and right is b and not notes
    mix = a + b
    assert find_leaks(mix, 0.9 * mix) == (None, None)  # one signal twice: no leak to remove


def test_the_4khz_screen_passes_every_leak_the_full_search_finds():
    """The quarter-rate screen decides whether the full-rate search runs at all: a faint
    leak (-28 dB, just over MIN_PEAK) still passes it and is found; independent channels
    stop there."""
    a, b = turns(8, 20, True), turns(9, 20, False)
    left = a + leak(b, 0.1, 0.04)
    assert may_leak(left, b)
    into_left, into_right = find_leaks(left, b)
    assert into_left is not None and into_left.lag == int(0.1 * SAMPLE_RATE) and into_right is None
    assert not may_leak(a, b)
