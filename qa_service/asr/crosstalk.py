"""Crosstalk between the two channels of a stereo call, and its removal before recognition.

Line echo and headset bleed put a faint, delayed copy of each side on the other side's
channel. Silero hears it as speech and Whisper transcribes it, so every turn came back twice,
once under each role, and interruptions were found on almost every call. The leak is a
linear path from the far channel to the near one (a delay and a short filter), unlike the
near speaker's own voice, which does not correlate with the far channel at all. So:

1. The far channel is cross-correlated with the near one over lags 0..MAX_LAG_S; a leak
   shows as one clear peak (its normalized height stands far above the spread of the others).
2. The leak path is estimated as a short FIR filter around that lag (the Wiener solution:
   far channel autocorrelation against the cross-correlation), over the whole call, where the
   near speaker's own voice averages out.
3. The far channel passed through that filter is subtracted from the near one.

Real overlaps survive: when both people talk at once, the near speaker's voice is not
explained by the far channel and stays. A channel with no clear peak is left untouched, so
clean calls decode exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import next_fast_len
from scipy.linalg import solve_toeplitz
from scipy.signal import fftconvolve, resample_poly

from qa_service.asr.audio import SAMPLE_RATE
from qa_service.config import (
    LEAK_SHARE_LEFT,
    MAX_GAIN,
    MAX_LAG_S,
    MIN_PEAK,
    PEAK_OVER_SPREAD,
    SCREEN_RATE,
    SCREEN_SHARE,
    TAPS,
)


@dataclass
class Leak:
    lag: int  # samples: the near channel carries the far one this much later
    peak: float  # normalized cross-correlation at that lag
    filter: np.ndarray  # FIR taps, the first applying at lag - TAPS // 2

    @property
    def gain(self) -> float:
        return float(np.sqrt(np.sum(self.filter**2)))

    @property
    def first(self) -> int:
        return max(0, self.lag - TAPS // 2)


def _clear_peak(corr: np.ndarray, energy: float, share: float = 1.0) -> tuple[int, float] | None:
    """(lag, normalized peak) of the correlation's one clear peak: at least `share` of
    MIN_PEAK, and of PEAK_OVER_SPREAD times its median; else None."""
    normalized = np.abs(corr) / energy
    lag = int(np.argmax(normalized))
    peak = float(normalized[lag])
    spread = float(np.median(normalized)) or 1e-12
    if peak < share * MIN_PEAK or peak < share * PEAK_OVER_SPREAD * spread:
        return None
    return lag, peak


def _directions(cross: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(right into left, left into right) from cross[k] = sum_t left[t] right[t-k]: cross[k]
    and cross[-k] for 0 <= k < reach."""
    return cross[:reach], np.concatenate([cross[:1], cross[:-reach:-1]])


def _leak(corr: np.ndarray, auto: np.ndarray, energy: float) -> Leak | None:
    """The leak path from corr[k] = sum_t near[t] far[t - k] (k >= 0) and the far channel's
    autocorrelation, if the correlation has one clear peak."""
    found = _clear_peak(corr[: int(MAX_LAG_S * SAMPLE_RATE) + 1], energy)
    if found is None:
        return None
    lag, peak = found
    first = max(0, lag - TAPS // 2)
    loaded = auto[:TAPS].copy()
    loaded[0] *= 1.001  # a little diagonal loading keeps the solve stable on band-limited audio
    leak = Leak(lag, peak, solve_toeplitz(loaded, corr[first : first + TAPS]))
    return leak if leak.gain <= MAX_GAIN else None


def _cross(left: np.ndarray, right: np.ndarray, n: int):
    size = next_fast_len(2 * n)
    spec_l = np.fft.rfft(left[:n].astype(np.float64), size)
    spec_r = np.fft.rfft(right[:n].astype(np.float64), size)
    cross = np.fft.irfft(spec_l * np.conj(spec_r), size)  # cross[k] = sum_t left[t] right[t-k]
    energy = float(
        np.sqrt(
            np.sum(left[:n].astype(np.float64) ** 2) * np.sum(right[:n].astype(np.float64) ** 2)
        )
    )
    return cross, spec_l, spec_r, size, energy


def may_leak(left: np.ndarray, right: np.ndarray) -> bool:
    """Whether either channel may carry the other (the screen at SCREEN_RATE)."""
    step = SAMPLE_RATE // SCREEN_RATE
    low_l, low_r = resample_poly(left, 1, step), resample_poly(right, 1, step)
    n = min(len(low_l), len(low_r))
    cross, _, _, _, energy = _cross(low_l, low_r, n)
    if energy == 0:
        return False
    return any(
        _clear_peak(corr, energy, SCREEN_SHARE) is not None
        for corr in _directions(cross, int(MAX_LAG_S * SCREEN_RATE) + 1)
    )


def find_leaks(left: np.ndarray, right: np.ndarray) -> tuple[Leak | None, Leak | None]:
    """(right's leak into left, left's leak into right): one cross-correlation serves both."""
    n = min(len(left), len(right))
    if n < SAMPLE_RATE or not may_leak(left[:n], right[:n]):
        return None, None
    cross, spec_l, spec_r, size, energy = _cross(left, right, n)
    if energy == 0:
        return None, None
    into_left, into_right = _directions(cross, int(MAX_LAG_S * SAMPLE_RATE) + TAPS)
    leaks = []
    for corr, spec in ((into_left, spec_r), (into_right, spec_l)):
        auto = None
        if np.max(np.abs(corr)) / energy >= MIN_PEAK:
            auto = np.fft.irfft(np.abs(spec) ** 2, size)[:TAPS]
        leaks.append(_leak(corr, auto, energy) if auto is not None else None)
    return leaks[0], leaks[1]


def remove_leak(near: np.ndarray, far: np.ndarray, leak: Leak) -> np.ndarray:
    """`near` less the far channel as it leaks into it."""
    echo = fftconvolve(far.astype(np.float64), leak.filter, mode="full")
    echo = np.concatenate([np.zeros(leak.first), echo])[: len(near)]
    echo = np.pad(echo, (0, len(near) - len(echo)))
    return (near - echo).astype(np.float32)


def separate(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Both channels with the other side's leak removed, and a note per channel cleaned."""
    notes = []
    out = []
    for name, near, far, leak in zip(
        ("left", "right"), (left, right), (right, left), find_leaks(left, right)
    ):
        if leak is None:
            out.append(near)
            continue
        out.append(remove_leak(near, far, leak))
        notes.append(
            f"{name} channel carried the other side at {20 * np.log10(leak.gain):.0f} dB, "
            f"{1000 * leak.lag / SAMPLE_RATE:.0f} ms late: removed before recognition"
        )
    return out[0], out[1], notes


def mostly_leak(cleaned: np.ndarray, original: np.ndarray, start: float, end: float) -> bool:
    """A speech chunk found on a cleaned channel that is what is left of the leak: removing
    the leak took away most of its energy (real speech loses next to nothing; Silero still
    hears a leak 15-20 dB down as speech)."""
    span = slice(int(start * SAMPLE_RATE), int(end * SAMPLE_RATE))
    before = float(np.mean(original[span].astype(np.float64) ** 2)) if end > start else 0.0
    after = float(np.mean(cleaned[span].astype(np.float64) ** 2)) if end > start else 0.0
    return before > 0 and after < LEAK_SHARE_LEFT * before
