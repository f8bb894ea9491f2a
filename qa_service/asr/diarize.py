"""Two speakers on one channel (mono recordings): who is the agent?

No speaker-embedding weights can be downloaded here, so separation rests on what the audio
itself shows: each speech chunk is described by its voice (mean log pitch and the mean and
spread of its log-mel spectrum), the chunks are split into two clusters (k-means on
standardized features), and the text decides which cluster is the agent: the agent is the
side that says the rubric's agent lines (greeting, company name, product points) and the
customer the side that raises objections and says yes or no. Talk time breaks a tie: in an
outbound sales call the agent talks more. A chunk whose voice sits about as near one cluster
as the other (VOICE_UNSURE) goes to the side its own words name, when they name one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor
from sklearn.cluster import KMeans

from qa_service.asr.audio import SAMPLE_RATE
from qa_service.config import VOICE_UNSURE
from qa_service.domain.enums import Role
from qa_service.rules.matching import PhraseMatcher, prepare

_mel = FeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE)


@dataclass
class RoleCues:
    agent: PhraseMatcher
    customer: PhraseMatcher


def mean_pitch(samples: np.ndarray, frame: int = 640, hop: int = 160) -> float:
    """F0 (Hz) over voiced frames, by normalized autocorrelation, averaged on a log scale;
    0.0 if unvoiced. The mean, not the median: tones spread a turn's pitch, and the median
    sits on whichever tone the turn holds most of (decision 0021)."""
    if len(samples) < frame:
        return 0.0
    count = 1 + (len(samples) - frame) // hop
    frames = np.lib.stride_tricks.as_strided(
        samples, shape=(count, frame), strides=(samples.strides[0] * hop, samples.strides[0])
    ).astype(np.float32)
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames**2).sum(axis=1)
    loud = energy > 0.1 * np.median(energy[energy > 0]) if np.any(energy > 0) else energy > 0
    spectrum = np.fft.rfft(frames * np.hanning(frame), n=2 * frame)
    corr = np.fft.irfft(np.abs(spectrum) ** 2)[:, :frame]
    corr = corr / np.maximum(corr[:, :1], 1e-9)
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 70  # 70-400 Hz covers adult voices
    lags = corr[:, lo:hi].argmax(axis=1) + lo
    peaks = corr[np.arange(count), lags]
    voiced = loud & (peaks > 0.45)
    if not np.any(voiced):
        return 0.0
    return float(np.exp(np.mean(np.log(SAMPLE_RATE / lags[voiced]))))


def chunk_features(samples: np.ndarray, spans: Sequence[tuple[float, float]]) -> np.ndarray:
    rows = []
    for start, end in spans:
        piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        if len(piece) < SAMPLE_RATE // 10:
            piece = np.pad(piece, (0, SAMPLE_RATE // 10 - len(piece)))
        mel = _mel(piece, padding=0)
        pitch = mean_pitch(piece)
        rows.append(
            np.concatenate([[np.log(pitch) if pitch else 0.0], mel.mean(axis=1), mel.std(axis=1)])
        )
    return np.asarray(rows, dtype=np.float64)


# A chunk's voice margin: (distance to the other centroid - distance to its own) / their sum,
# 0 halfway between the two voices, 1 on its own centroid. Short chunks said between the two
# pitches land near 0, where config.VOICE_UNSURE hands the decision to the chunk's words.
@dataclass
class Clusters:
    labels: np.ndarray  # 0/1 per chunk
    margins: np.ndarray  # voice margin per chunk, as above (1.0 when nothing was split)


def cluster_two(features: np.ndarray) -> Clusters:
    """Two voices among the rows; one cluster when there are too few chunks to split.

    The voices are found among the chunks with a pitch; a chunk without one (a breath, a
    clipped syllable: log pitch 0, far below every voice) would be a cluster of its own, so
    it is placed by its spectrum alone, at the voiced chunks' mean pitch."""
    voiced = features[:, 0] != 0.0 if len(features) else np.zeros(0, dtype=bool)
    if voiced.sum() < 2:
        return Clusters(np.zeros(len(features), dtype=int), np.ones(len(features)))
    features = features.copy()
    features[~voiced, 0] = features[voiced, 0].mean()
    known = features[voiced]
    scaled = (features - known.mean(axis=0)) / (known.std(axis=0) + 1e-6)
    # Pitch is the single most telling feature of who speaks: it weighs as much as all 160
    # mel statistics together, so they do not drown it (decision 0007).
    scaled[:, 0] *= np.sqrt(features.shape[1] - 1)
    kmeans = KMeans(n_clusters=2, n_init=10, random_state=0).fit(scaled[voiced])
    distances = kmeans.transform(scaled)  # (rows, 2): to each centroid
    labels = distances.argmin(axis=1).astype(int)
    own = distances[np.arange(len(labels)), labels]
    other = distances[np.arange(len(labels)), 1 - labels]
    return Clusters(labels, (other - own) / np.maximum(other + own, 1e-9))


def assign_roles(
    samples: np.ndarray,
    spans: Sequence[tuple[float, float]],
    texts: Sequence[str],
    cues: RoleCues,
) -> list[Role]:
    """agent/customer for each chunk of a mono recording."""
    if not spans:
        return []
    clusters = cluster_two(chunk_features(samples, spans))
    # +1: the words are the agent's, -1: the customer's, 0: neither or both
    said = np.array(
        [bool(cues.agent.match(p)) - bool(cues.customer.match(p)) for p in map(prepare, texts)]
    )
    score = np.zeros(2)
    talk = np.zeros(2)
    for label, (start, end), cue in zip(clusters.labels, spans, said):
        score[label] += cue
        talk[label] += end - start
    if score[0] != score[1]:
        agent = int(np.argmax(score))
    else:
        agent = int(np.argmax(talk))
    roles = [Role.AGENT if label == agent else Role.CUSTOMER for label in clusters.labels]
    for i, cue in enumerate(said):
        if cue and clusters.margins[i] < VOICE_UNSURE:
            roles[i] = Role.AGENT if cue > 0 else Role.CUSTOMER
    return roles
