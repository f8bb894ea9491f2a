"""The line SNR estimate of decision 0031 with the real VAD (Silero) on a dev call: a clean
channel is far above the gate, the same channel under pink noise at 8 dB is below it."""

import numpy as np

from benchmarks.enhancement import line_snr
from qa_service.asr.audio import load
from qa_service.asr.transcribe import speech_probabilities
from tests.support import DEV

GATE_DB = 12.0  # benchmarks/enhancement.py's default --below-db


def pink(n: int, seed: int) -> np.ndarray:
    """Noise with power falling as 1/f (degrade_corpus.py's line noise, without the babble)."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(size=n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    return np.fft.irfft(spectrum, n).astype(np.float32)


def test_clean_channel_passes_the_gate_and_a_noisy_one_does_not():
    agent = load(DEV / "dev-002.wav").channels[0]
    clean = line_snr(agent, speech_probabilities(agent))
    assert clean.db is not None and clean.db > 30, clean
    probs = speech_probabilities(agent)
    frames = len(agent) // 512
    speech = agent[: frames * 512].reshape(frames, 512)[probs[:frames] >= 0.5]
    speech_power = np.mean(speech**2)
    noise = pink(len(agent), 0)
    noise *= np.sqrt(speech_power / 10 ** (8 / 10) / np.mean(noise**2))
    noisy = agent + noise
    estimate = line_snr(noisy, speech_probabilities(noisy))
    assert estimate.db is not None and 5 < estimate.db < GATE_DB, estimate
