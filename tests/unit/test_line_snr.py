"""The line SNR estimate that gates speech enhancement (benchmarks/enhancement.line_snr,
decision 0031), on synthetic channels whose speech and noise levels are known."""

import numpy as np
import pytest

from benchmarks.enhancement import FRAME, line_snr
from qa_service.asr.audio import SAMPLE_RATE


def channel(snr_db: float, seconds: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bursts of 'speech' (noise at power 0.01) every other second over a noise floor
    `snr_db` below it, and VAD probabilities that are sure of each (what Silero gives a
    clean burst)."""
    rng = np.random.default_rng(seed)
    n = seconds * SAMPLE_RATE
    on = (np.arange(n) // SAMPLE_RATE) % 2 == 0
    speech = rng.normal(0, 0.1, n) * on
    noise = rng.normal(0, 0.1 * 10 ** (-snr_db / 20), n)
    frames = n // FRAME
    probs = np.where(
        on[: frames * FRAME : FRAME] & on[FRAME - 1 : frames * FRAME : FRAME], 0.9, 0.05
    )
    return (speech + noise).astype(np.float32), probs.astype(np.float32)


@pytest.mark.parametrize("snr_db", [5.0, 8.0, 15.0, 30.0])
def test_estimate_within_a_decibel_of_the_true_snr(snr_db):
    samples, probs = channel(snr_db)
    estimate = line_snr(samples, probs)
    assert estimate.db is not None and abs(estimate.db - snr_db) < 1.0, estimate


def test_no_estimate_without_enough_quiet_or_speech():
    samples, probs = channel(8.0)
    assert line_snr(samples, np.full_like(probs, 0.9)).db is None  # speech throughout
    assert line_snr(samples, np.full_like(probs, 0.05)).db is None  # no speech
    assert line_snr(samples[: 10 * FRAME], probs[:10]).db is None  # a third of a second
    assert line_snr(np.zeros(0, np.float32), np.zeros(0, np.float32)).db is None
