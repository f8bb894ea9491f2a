"""Recognition: speech chunks found by VAD, decoded by faster-whisper, one utterance per chunk.

Why not faster-whisper's own `vad_filter`: it glues a channel's speech into one stream and
returns segments that can span many turns (a customer's "嗯" at 4 s and "好的" at 60 s in one
35-second segment). Timing must be exact for silence, interruption and objection order, so we
take turn boundaries from the VAD (Silero, shipped inside faster-whisper) and use Whisper only
for the words: a channel's chunks are joined with a short gap of silence into windows of at
most WINDOW_S, each window is decoded in one pass (faster-whisper's batched pipeline: no
seeking, so no half-empty trailing windows and none of the temperature-fallback loops they
caused, measured at up to 45 s for a 35 s call), and every word goes back to the chunk it
was spoken in.
"""
from __future__ import annotations

import bisect
import dataclasses
import logging
import re
import threading
from dataclasses import dataclass
from typing import Optional, Sequence

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.vad import VadOptions, get_speech_timestamps

from qa_service.audio import SAMPLE_RATE
from qa_service.config import Settings, get_settings
from qa_service.model_store import embedded_model_dir

log = logging.getLogger(__name__)

# Measured on the dev corpus (benchmarks/turn_timing.py): threshold 0.35, 400 ms of silence to
# close a chunk and 150 ms of padding put 98.8% of reference turn starts within 0.5 s.
VAD_OPTIONS = VadOptions(
    threshold=0.35, min_speech_duration_ms=150, min_silence_duration_ms=400, speech_pad_ms=150
)
# Mono: two speakers share the channel and a quick reply ("嗯") can follow the other side
# within 400 ms; finer chunks keep one speaker per chunk, and chunks of the same speaker
# are joined again once roles are known (pipeline.py).
MONO_VAD_OPTIONS = VadOptions(
    threshold=0.35, min_speech_duration_ms=150, min_silence_duration_ms=250, speech_pad_ms=100
)
JOIN_GAP_S = 0.4  # silence put between chunks so Whisper sees a pause (and a sentence break)
# Whisper's own test for a degenerate decode (text that compresses too well: a loop).
MAX_COMPRESSION_RATIO = 2.4
WINDOW_S = 28.0  # joined audio per decoding window; Whisper reads at most 30 s at once
BATCH_SIZE = 4
# Whisper prints traditional characters on these calls without a hint; a simplified-Chinese
# prompt steers it to simplified output and to the call-center register.
WORD_END_SLACK_S = 0.1


# A unit of one to four characters said six times running: a decoding loop ("带带带带带带…"),
# not speech (对对对对 and 嗯嗯嗯 stay below it). gzip's compression ratio misses a loop that
# fills only part of a long window.
_LOOP = re.compile(r"(\S{1,4}?)\1{5,}")


def degenerate(text: str, compression_ratio: float = 0.0) -> bool:
    return compression_ratio > MAX_COMPRESSION_RATIO or bool(_LOOP.search(re.sub(r"\s+", "", text)))


@dataclass
class Chunk:
    """A stretch of speech on one channel, in seconds of the original recording."""

    start: float
    end: float
    text: str = ""
    confidence: float = 0.0
    words: int = 0


@dataclass
class RecognizerInfo:
    model: str
    device: str
    compute_type: str
    beam_size: int


def resolve_model_path(settings: Settings) -> str:
    if settings.model == "embedded":
        return str(embedded_model_dir(settings.model_cache_dir))
    return settings.model  # a local CTranslate2 directory or a faster-whisper model name


class Recognizer:
    """faster-whisper loaded once per process; thread-safe for sequential use by a worker."""

    def __init__(self, settings: Optional[Settings] = None, model: Optional[WhisperModel] = None):
        self.settings = settings or get_settings()
        self.model = model or WhisperModel(
            resolve_model_path(self.settings),
            device=self.settings.device,
            compute_type=self.settings.compute_type,
            cpu_threads=self.settings.cpu_threads,
            local_files_only=True,  # never download at run time
        )
        self.info = RecognizerInfo(
            self.settings.model, self.settings.device, self.settings.compute_type,
            self.settings.beam_size,
        )
        self.pipeline = BatchedInferencePipeline(self.model)
        self._lock = threading.Lock()

    def speech_chunks(self, samples: np.ndarray, options: VadOptions = VAD_OPTIONS) -> list[Chunk]:
        stamps = get_speech_timestamps(samples, options, sampling_rate=SAMPLE_RATE)
        return [Chunk(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]

    def transcribe_streams(
        self, streams: Sequence[tuple[np.ndarray, Sequence[Chunk]]], hotwords: Sequence[str] = ()
    ) -> list[list[Chunk]]:
        """Fill in the text of each stream's chunks (a stream: one channel's samples and its
        speech chunks); returns per stream the chunks that hold words. The windows of all
        streams go to Whisper as one batch, but a window never mixes streams: packing both
        channels' chunks into shared windows in time order saved 5% of the time and cost
        turn timing (98.8% -> 94.7%) as words slipped across speakers.
        """
        gap = np.zeros(int(JOIN_GAP_S * SAMPLE_RATE), dtype=np.float32)
        pieces: list[np.ndarray] = []
        owners: list[Chunk] = []  # the chunk each offset belongs to
        offsets: list[float] = []  # start of each chunk in the joined audio
        windows: list[dict] = []
        cursor = 0.0
        for samples, chunks in streams:
            window_start = cursor
            for chunk in chunks:
                piece = samples[int(chunk.start * SAMPLE_RATE): int(chunk.end * SAMPLE_RATE)]
                length = len(piece) / SAMPLE_RATE
                if cursor > window_start and cursor + length - window_start > WINDOW_S:
                    windows.append({"start": window_start, "end": cursor - JOIN_GAP_S})
                    window_start = cursor
                offsets.append(cursor)
                owners.append(chunk)
                pieces += [piece, gap]
                cursor += length + JOIN_GAP_S
            if chunks:
                windows.append({"start": window_start, "end": cursor - JOIN_GAP_S})
        if not windows:
            return [[] for _ in streams]
        joined = np.concatenate(pieces)
        bias = " ".join(hotwords) or None
        with self._lock:
            segments = list(self.pipeline.transcribe(
                joined,
                language=self.settings.language,
                beam_size=self.settings.beam_size,
                batch_size=BATCH_SIZE,
                clip_timestamps=windows,
                without_timestamps=True,
                word_timestamps=True,
                hotwords=bias,
            )[0])
            words = []
            for window in windows:
                inside = [seg for seg in segments
                          if window["start"] <= (seg.start + seg.end) / 2 <= window["end"]]
                if any(degenerate(seg.text, seg.compression_ratio) for seg in inside):
                    words += self._decode_again(joined, window, bias)
                else:
                    words += [w for seg in inside for w in (seg.words or [])]
        texts: dict[int, list[str]] = {}
        probs: dict[int, list[float]] = {}
        for word in words:
            # Whisper pulls a word's start back into the pause before it, but its end is close
            # to true: the end says which chunk the word was spoken in.
            index = max(0, bisect.bisect_right(offsets, word.end - WORD_END_SLACK_S) - 1)
            texts.setdefault(index, []).append(word.word)
            probs.setdefault(index, []).append(word.probability)
        for index, chunk in enumerate(owners):
            chunk.text = "".join(texts.get(index, [])).strip()
            if chunk.text:
                chunk.confidence = float(np.mean(probs[index]))
                chunk.words = len(probs[index])
        return [[c for c in chunks if c.text] for _, chunks in streams]

    def _decode_again(self, joined: np.ndarray, window: dict, bias: Optional[str]) -> list:
        """A window the batched pass decoded into a repetition loop (it has no temperature
        fallback): decode it alone the sequential way, which retries at higher temperatures
        and drops what stays degenerate. Word times come back on the joined timeline."""
        log.info("window %.1f-%.1f s looped; decoding it again with fallback",
                 window["start"], window["end"])
        start, end = (int(window[k] * SAMPLE_RATE) for k in ("start", "end"))
        # Fallback samples at temperature > 0: a fixed seed makes the same audio give the
        # same transcript every time (stored results must be reproducible).
        ctranslate2.set_random_seed(0)
        segments, _ = self.model.transcribe(
            joined[start:end], language=self.settings.language,
            beam_size=self.settings.beam_size, vad_filter=False, word_timestamps=True,
            condition_on_previous_text=False, hotwords=bias,
            compression_ratio_threshold=MAX_COMPRESSION_RATIO)
        out = []
        for seg in segments:
            if degenerate(seg.text, seg.compression_ratio):
                continue  # still a loop after every fallback: no words beat wrong words
            for w in seg.words or []:
                out.append(dataclasses.replace(w, start=w.start + window["start"],
                                               end=w.end + window["start"]))
        return out

    def transcribe_channels(
        self, channels: Sequence[np.ndarray], hotwords: Sequence[str] = ()
    ) -> list[list[Chunk]]:
        return self.transcribe_streams([(c, self.speech_chunks(c)) for c in channels], hotwords)

    def transcribe_channel(self, samples: np.ndarray, hotwords: Sequence[str] = (),
                           options: VadOptions = VAD_OPTIONS) -> list[Chunk]:
        return self.transcribe_streams([(samples, self.speech_chunks(samples, options))],
                                       hotwords)[0]


_shared: Optional[Recognizer] = None
_shared_lock = threading.Lock()


def get_recognizer(settings: Optional[Settings] = None) -> Recognizer:
    """The process-wide recognizer: the model is loaded once per process, not per file."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Recognizer(settings)
        return _shared
