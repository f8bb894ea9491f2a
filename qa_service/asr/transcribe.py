"""Recognition: speech chunks found by VAD, decoded by faster-whisper, one utterance per chunk.

Why not faster-whisper's own `vad_filter`: it glues a channel's speech into one stream and
returns segments that can span many turns (a customer's "嗯" at 4 s and "好的" at 60 s in one
35-second segment). Timing must be exact for silence, interruption and objection order, so we
take turn boundaries from the VAD (Silero, shipped inside faster-whisper) and use Whisper only
for the words: a channel's chunks are joined with a short gap of silence into windows of at
most WINDOW_S, each window is decoded in one pass (faster-whisper's batched pipeline: no
seeking, so no half-empty trailing windows and none of the slow temperature-fallback loops
they caused), and every word goes back to the chunk it was spoken in. The measurements behind
this design: docs/decisions/0001-own-vad-for-turn-boundaries.md.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import ctranslate2
import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel
from faster_whisper.vad import VadOptions, get_vad_model

from qa_service.asr.audio import SAMPLE_RATE
from qa_service.asr.model_store import embedded_model_dir
from qa_service.config import (
    BATCH_SIZE,
    DOUBTFUL_CONFIDENCE,
    EDGE_DB,
    EDGE_QUIET_S,
    JOIN_GAP_S,
    LOUDNESS_SPAN,
    MAX_COMPRESSION_RATIO,
    MIN_COVERAGE,
    MIN_REDECODE_CONFIDENCE,
    MIN_REDECODE_VOICED_S,
    MIN_VOICED_S,
    MIN_WORDLESS_VOICED_S,
    MONO_VAD_MIN_SILENCE_MS,
    MONO_VAD_SPEECH_PAD_MS,
    PROMPT_TOKENS,
    QUIET_PROB,
    RESCORE_LEAD_S,
    RESCORE_S,
    RESET_AFTER_S,
    SPAN_MARGIN_S,
    SPURIOUS_CONFIDENCE,
    SPURIOUS_SHARE,
    SURE_SPEECH,
    TRIM_PAD_S,
    TRIM_S,
    VAD_MIN_SILENCE_MS,
    VAD_MIN_SPEECH_MS,
    VAD_SPEECH_PAD_MS,
    VAD_THRESHOLD,
    VAD_WARMUP_S,
    WINDOW_S,
    WORD_END_SLACK_S,
    Settings,
    get_settings,
)
from qa_service.rules.normalize import normalize_plain

log = logging.getLogger(__name__)

VAD_OPTIONS = VadOptions(
    threshold=VAD_THRESHOLD,
    min_speech_duration_ms=VAD_MIN_SPEECH_MS,
    min_silence_duration_ms=VAD_MIN_SILENCE_MS,
    speech_pad_ms=VAD_SPEECH_PAD_MS,
)
# Mono: two speakers share the channel, so finer chunks keep one speaker per chunk (chunks of
# the same speaker are joined again once roles are known, transcript.join_same_speaker).
MONO_VAD_OPTIONS = VadOptions(
    threshold=VAD_THRESHOLD,
    min_speech_duration_ms=VAD_MIN_SPEECH_MS,
    min_silence_duration_ms=MONO_VAD_MIN_SILENCE_MS,
    speech_pad_ms=MONO_VAD_SPEECH_PAD_MS,
)
VAD_FRAME = 512  # samples per Silero frame (32 ms)
NEGATORS = ("不", "没", "别", "不是", "没有")
# Captions Whisper was trained on and writes into noise (see config.SPURIOUS_SHARE).
NOISE_CAPTIONS = ("作词", "作曲", "编曲", "字幕", "谢谢观看", "谢谢收看", "点赞", "订阅", "打赏")


# A unit of one to four characters said six times running: a decoding loop ("带带带带带带…"),
# not speech (对对对对 and 嗯嗯嗯 stay below it). gzip's compression ratio misses a loop that
# fills only part of a long window. A longer unit, a phrase, said four times running is one
# too: a mono mp3 call at 15 dB SNR came back as "肯预存一百年" seven times over two turns
# (the prestore, cancel and fee points lost), below the compression ratio.
_LOOP = re.compile(r"(\S{1,4}?)\1{5,}")
_PHRASE_LOOP = re.compile(r"(\S{5,20}?)\1{3,}")
# A chunk decoded alone is one short turn: a unit of two characters or more said three times
# running there is Whisper looping on noise (8 dB babble came back as 那一天那一天那一天…).
_REDECODE_LOOP = re.compile(r"(\S{2,}?)\1{2,}")


def degenerate(text: str, compression_ratio: float = 0.0) -> bool:
    if compression_ratio > MAX_COMPRESSION_RATIO:
        return True
    text = re.sub(r"\s+", "", text)
    return bool(_LOOP.search(text) or _PHRASE_LOOP.search(text))


@dataclass
class Chunk:
    """A stretch of speech on one channel, in seconds of the original recording."""

    start: float
    end: float
    text: str = ""
    confidence: float = 0.0
    # Seconds the VAD is sure of (probability >= SURE_SPEECH): what MIN_COVERAGE weighs, so
    # chunks of noise that the VAD only half believes (8 dB babble) do not count as lost words.
    voiced: float = 0.0


@dataclass
class RecognizerInfo:
    model: str  # stored with each transcript: which model heard it


def resolve_model_path(settings: Settings) -> str:
    if settings.model == "embedded":
        return str(embedded_model_dir(settings.model_cache_dir))
    return settings.model  # a local CTranslate2 directory or a faster-whisper model name


class Recognizer:
    """faster-whisper loaded once per process; thread-safe for sequential use by a worker."""

    def __init__(self, settings: Settings | None = None, model: WhisperModel | None = None):
        self.settings = settings or get_settings()
        self.model = model or WindowByWindow(
            resolve_model_path(self.settings),
            device=self.settings.device,
            compute_type=self.settings.compute_type,
            cpu_threads=self.settings.cpu_threads,
            local_files_only=True,  # never download at run time
        )
        self.info = RecognizerInfo(self.settings.model)
        self.pipeline = BatchedInferencePipeline(self.model)
        short = self.settings.short_window_s
        self.short_pipeline = (
            _PaddedPipeline(self.model, short * self.model.frames_per_second) if short else None
        )
        self._lock = threading.Lock()

    def prompt(self, terms: Sequence[str]) -> str | None:
        """The terms recognition is biased toward, as Whisper's prompt: whole terms, in order,
        while they fit in PROMPT_TOKENS (faster-whisper would cut the prompt mid-term)."""
        kept: list[str] = []
        used = 0
        for term in terms:
            cost = len(self.model.hf_tokenizer.encode(" " + term, add_special_tokens=False).ids)
            if used + cost > PROMPT_TOKENS:
                log.info("recognition prompt full: %d of %d terms kept", len(kept), len(terms))
                break
            kept.append(term)
            used += cost
        return " ".join(kept) or None

    def speech_chunks(self, samples: np.ndarray, options: VadOptions = VAD_OPTIONS) -> list[Chunk]:
        probs = speech_probabilities(samples)
        frame_s = VAD_FRAME / SAMPLE_RATE
        loudness = frame_loudness(samples)
        return [
            Chunk(
                s / SAMPLE_RATE,
                e / SAMPLE_RATE,
                voiced=frame_s * int(np.sum(probs[s // VAD_FRAME : e // VAD_FRAME] >= SURE_SPEECH)),
            )
            for s, e in (
                trim_to_loudness(span, loudness)
                for span in speech_spans(probs, options, len(samples))
            )
        ]

    def transcribe_streams(
        self,
        streams: Sequence[tuple[np.ndarray, Sequence[Chunk]]],
        hotwords: Sequence[str] = (),
        stream_terms: Sequence[Sequence[str]] = (),
    ) -> Recognized:
        """Fill in the text of each stream's chunks (a stream: one channel's samples and its
        speech chunks); returns per stream the chunks that hold words. The windows of all
        streams go to Whisper as one batch, but a window never mixes streams: windows shared
        by both channels save little time and cost turn timing, as words slip across speakers
        (decision 0001).

        Every stream's prompt holds `hotwords`; `stream_terms[s]`, when given, follows them in
        stream s's prompt only (the agent's script on the agent's channel: on the customer's,
        8 dB noise came back as the script's 您好 您好). Windows of one prompt are one batch.

        A window is decoded again when its text is degenerate (a loop) or its words land in
        chunks holding less than MIN_COVERAGE of its speech: by faster-whisper's own VAD path
        over the window's stretch of the recording (the path bare faster-whisper takes, which
        recovered the survey call that int8 kernels on another CPU, and on this one under
        load, turned into "宽帅 宽帅 宽帅"), then, if that is still short, alone with
        temperature fallback; the best of them is kept. A window still short of words is named in
        the result's warnings and its chunks' confidence is capped (the call gets flagged).
        """
        plan = _Packing(streams)
        if not plan.windows:
            return Recognized([[] for _ in streams])
        terms = [
            [*hotwords, *(stream_terms[s] if s < len(stream_terms) else ())]
            for s in range(len(streams))
        ]
        biases = [self.prompt(t) for t in terms]
        warnings: list[str] = []
        doubtful: set[int] = set()  # chunks of windows that stayed short of words
        with self._lock:
            segments = []
            for bias in dict.fromkeys(biases):
                windows = [
                    window
                    for window, stream in zip(plan.windows, plan.stream_of)
                    if biases[stream] == bias
                ]
                if windows:
                    segments += self._decode_batched(plan.joined, windows, bias)
            words = []
            for w, window in enumerate(plan.windows):
                bias = biases[plan.stream_of[w]]
                inside = [
                    seg
                    for seg in segments
                    if window["start"] <= (seg.start + seg.end) / 2 <= window["end"]
                ]
                found = [x for seg in inside for x in (seg.words or [])]
                if (
                    not any(degenerate(seg.text, seg.compression_ratio) for seg in inside)
                    and plan.coverage(found, w) >= MIN_COVERAGE
                ):
                    words += found
                    continue
                tries = [
                    (
                        [
                            x
                            for seg in inside
                            if not degenerate(seg.text, seg.compression_ratio)
                            for x in (seg.words or [])
                        ],
                        "batched",
                    )
                ]
                recovered = self._decode_span(plan, w)
                tries.append((recovered, "vad"))
                if plan.coverage(recovered, w) < MIN_COVERAGE:
                    tries.append((self._decode_window(plan.joined, window, bias), "fallback"))
                best, how = max(reversed(tries), key=lambda t: plan.coverage(t[0], w))
                covered = plan.coverage(best, w)
                log.info(
                    "window %.1f-%.1f s: %s decode covers %.0f%% of its speech",
                    window["start"],
                    window["end"],
                    how,
                    100 * covered,
                )
                if covered < MIN_COVERAGE:
                    doubtful.update(plan.members[w])
                    warnings.append(
                        f"recognition kept words for {100 * covered:.0f}% of the speech in "
                        f"{plan.describe(w)} after every fallback; listen to this call"
                    )
                words += best
        chunks = plan.assign(words)
        fillers_of = [
            sorted(
                {normalize_plain(x) for x in (*t, *NOISE_CAPTIONS)} - {""}, key=len, reverse=True
            )
            for t in terms
        ]
        for index, chunk in enumerate(chunks):
            stream = plan.stream_of_chunk(index)
            fillers, bias = fillers_of[stream], biases[stream]
            heard_as_fillers = bool(chunk.text) and spurious(chunk.text, chunk.confidence, fillers)
            if heard_as_fillers:
                log.info(
                    "dropped %r at %.1f s (hotwords or captions heard in noise)",
                    chunk.text,
                    chunk.start,
                )
                chunk.text = ""
            # Decoded again, alone and without hotwords: a chunk heard only as hotwords (the
            # prompt may have talked over a short turn), or one the batched pass left wordless.
            again = (
                bool(bias) and chunk.voiced >= MIN_REDECODE_VOICED_S
                if heard_as_fillers
                else not chunk.text and chunk.voiced >= MIN_WORDLESS_VOICED_S
            )
            if again:
                with self._lock:
                    self._decode_unbiased(chunk, streams[stream][0], fillers)
        for index in doubtful:
            chunks[index].confidence = min(chunks[index].confidence, DOUBTFUL_CONFIDENCE)
        warned = {
            plan.stream_of[w]
            for w in range(len(plan.windows))
            if any(i in doubtful for i in plan.members[w])
        }
        for s, (_, recognized) in enumerate(streams):
            short = None if s in warned else words_short(recognized)
            if short:
                warnings.append(f"channel {s + 1}: {short}; listen to this call")
        return Recognized([[c for c in stream if c.text] for _, stream in streams], warnings)

    def _decode_batched(self, joined: np.ndarray, windows: list[dict], bias: str | None) -> list:
        segments = []
        for pipeline, group in self._encoding_groups(windows):
            segments += pipeline.transcribe(
                joined,
                language=self.settings.language,
                beam_size=self.settings.batched_beam_size or self.settings.beam_size,
                batch_size=BATCH_SIZE,
                clip_timestamps=group,
                without_timestamps=True,
                word_timestamps=True,
                hotwords=bias,
            )[0]
        return segments

    def _encoding_groups(
        self, windows: list[dict]
    ) -> list[tuple[BatchedInferencePipeline, list[dict]]]:
        """The windows of one batched pass by the pipeline that encodes them: with
        Settings.short_window_s, those that fit in it by a pipeline padding to that length (the
        encoder's cost on a CPU grows far faster than its input past 20 s, decision 0028), the
        rest at 30 s as ever; a window goes to one group only."""
        if self.short_pipeline is None:
            return [(self.pipeline, windows)]
        limit = self.settings.short_window_s * SAMPLE_RATE
        # Measured in samples as faster-whisper cuts the clip, so a short window never loses
        # its last frame to the shorter input.
        fits = [
            int(w["end"] * SAMPLE_RATE) - int(w["start"] * SAMPLE_RATE) <= limit for w in windows
        ]
        groups = [
            (self.short_pipeline, [w for w, f in zip(windows, fits) if f]),
            (self.pipeline, [w for w, f in zip(windows, fits) if not f]),
        ]
        return [(p, g) for p, g in groups if g]

    def _decode_unbiased(self, chunk: Chunk, samples: np.ndarray, fillers: Sequence[str]) -> None:
        """A chunk the VAD is sure holds speech came back as hotwords, or with no word at all:
        the prompt may have talked over a real, short turn (a customer's last "那办理要收手续费吗"
        heard as "预存" on one CPU, the hang-up then unseen), or the batched pass left it out.
        Decoded alone without hotwords, its own words are kept when they are neither hotwords,
        captions nor a loop (_REDECODE_LOOP); otherwise it stays without text."""
        words = self._transcribe_sequential(
            samples[int(chunk.start * SAMPLE_RATE) : int(chunk.end * SAMPLE_RATE)],
            None,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        text, confidence = said(words)
        if (
            not text
            or confidence < MIN_REDECODE_CONFIDENCE
            or mostly_fillers(text, fillers)
            or degenerate(text)
            or _REDECODE_LOOP.search(re.sub(r"\s+", "", text))
        ):
            return
        log.info("kept %r at %.1f s, decoded again without hotwords", text, chunk.start)
        chunk.text, chunk.confidence = text, confidence

    def _decode_window(self, joined: np.ndarray, window: dict, bias: str | None) -> list:
        """A window the batched pass decoded into a loop or into too few words (it has no
        temperature fallback): decode it alone the sequential way, which retries at higher
        temperatures, and drop what stays degenerate. Word times on the joined timeline."""
        start, end = (int(window[k] * SAMPLE_RATE) for k in ("start", "end"))
        return _shifted(
            self._transcribe_sequential(
                joined[start:end], bias, vad_filter=False, condition_on_previous_text=False
            ),
            window["start"],
        )

    def _decode_span(self, plan: _Packing, w: int) -> list:
        """The window's stretch of the original recording through faster-whisper's own VAD
        path, as bare faster-whisper decodes a file (no hotwords, context carried from one
        segment to the next); word times mapped back onto the joined timeline."""
        samples, first, last = plan.span(w)
        words = _shifted(
            self._transcribe_sequential(
                samples[int(first * SAMPLE_RATE) : int(last * SAMPLE_RATE)], None, vad_filter=True
            ),
            first,
        )
        return [plan.to_joined(x, w) for x in words]

    def _transcribe_sequential(self, samples: np.ndarray, bias: str | None, **options) -> list:
        # Fallback samples at temperature > 0: a fixed seed makes the same audio give the
        # same transcript every time (stored results must be reproducible).
        ctranslate2.set_random_seed(0)
        segments, _ = self.model.transcribe(
            samples,
            language=self.settings.language,
            beam_size=self.settings.beam_size,
            word_timestamps=True,
            hotwords=bias,
            compression_ratio_threshold=MAX_COMPRESSION_RATIO,
            **options,
        )
        # Still a loop after every fallback: no words beat wrong words.
        return [
            x
            for seg in segments
            if not degenerate(seg.text, seg.compression_ratio)
            for x in (seg.words or [])
        ]

    def transcribe_channel(
        self, samples: np.ndarray, hotwords: Sequence[str] = (), options: VadOptions = VAD_OPTIONS
    ) -> Recognized:
        return self.transcribe_streams([(samples, self.speech_chunks(samples, options))], hotwords)


class WindowByWindow(WhisperModel):
    """faster-whisper's model, whose encoder takes a CPU batch one window at a time (the
    decoder still decodes the batch together). The encoder's attention over a batch of 30-s
    windows at once was the top of a worker's memory, and no faster per window on a CPU; each
    window's output is the same to the bit (decision 0034)."""

    def encode(self, features: np.ndarray) -> ctranslate2.StorageView:
        if self.model.device != "cpu" or features.ndim != 3 or len(features) < 2:
            return super().encode(features)
        encode = super().encode
        return ctranslate2.StorageView.from_array(
            np.concatenate([np.asarray(encode(window)) for window in features])
        )


class _PaddedPipeline(BatchedInferencePipeline):
    """faster-whisper's batched pipeline with each window's features padded to `frames`
    (not Whisper's 3000, 30 s) before the encoder; every window it is given must fit."""

    def __init__(self, model: WhisperModel, frames: int):
        super().__init__(model)
        self.frames = frames

    def generate_segment_batched(self, features, tokenizer, options):
        return super().generate_segment_batched(features[..., : self.frames], tokenizer, options)


@dataclass
class Recognized:
    """Per stream, the chunks that hold words; warnings say where words may be missing."""

    streams: list[list[Chunk]]
    warnings: list[str] = field(default_factory=list)


class _Packing:
    """Streams' chunks laid end to end, with JOIN_GAP_S of silence between them, on one
    joined timeline cut into windows of at most WINDOW_S (a window holds one stream)."""

    def __init__(self, streams: Sequence[tuple[np.ndarray, Sequence[Chunk]]]):
        gap = np.zeros(int(JOIN_GAP_S * SAMPLE_RATE), dtype=np.float32)
        pieces: list[np.ndarray] = []
        self.streams = streams
        self.owners: list[Chunk] = []  # the chunk each offset belongs to
        self.offsets: list[float] = []  # start of each chunk in the joined audio
        self.windows: list[dict] = []
        self.members: list[list[int]] = []  # chunk indices of each window
        self.stream_of: list[int] = []  # stream of each window
        cursor = 0.0
        for s, (samples, chunks) in enumerate(streams):
            window_start, first = cursor, len(self.owners)
            for chunk in chunks:
                piece = samples[int(chunk.start * SAMPLE_RATE) : int(chunk.end * SAMPLE_RATE)]
                length = len(piece) / SAMPLE_RATE
                if cursor > window_start and cursor + length - window_start > WINDOW_S:
                    self._close(window_start, cursor, first, s)
                    window_start, first = cursor, len(self.owners)
                self.offsets.append(cursor)
                self.owners.append(chunk)
                pieces += [piece, gap]
                cursor += length + JOIN_GAP_S
            if chunks:
                self._close(window_start, cursor, first, s)
        self.joined = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    def _close(self, start: float, cursor: float, first: int, stream: int) -> None:
        self.windows.append({"start": start, "end": cursor - JOIN_GAP_S})
        self.members.append(list(range(first, len(self.owners))))
        self.stream_of.append(stream)

    def chunk_at(self, word) -> int:
        # Whisper pulls a word's start back into the pause before it, but its end is close to
        # true: the end says which chunk the word was spoken in.
        return max(0, bisect.bisect_right(self.offsets, word.end - WORD_END_SLACK_S) - 1)

    def phrase_chunks(self, words: list) -> list[int]:
        """The chunk of each word (chunk_at), mended where Whisper's word times smear across
        the short gaps of the joined audio: the first word of a turn is sometimes timed into
        the chunk before it, above all when Whisper skipped that chunk's filler ("嗯" +
        "不需要，谢谢" came back as "不" + "需要谢谢", and after a long hold "…算吗不" +
        "需要谢谢": the refusal lost). A bare negator ending a chunk goes to the next chunk of
        the same window: a turn does not end on 不 or 没, and the next one that begins with it
        flips its meaning without it. (Moving whole phrases by Whisper's spacing was tried:
        it cost turn timing, as fillers were swallowed; decision 0001.)"""
        chunks = [self.chunk_at(x) for x in words]
        for i in range(len(words) - 1):
            if (
                chunks[i + 1] == chunks[i] + 1
                and words[i].word.strip() in NEGATORS
                and self.window_of(chunks[i]) == self.window_of(chunks[i + 1])
            ):
                chunks[i] = chunks[i + 1]
        return chunks

    def window_of(self, index: int) -> int:
        return next(w for w, members in enumerate(self.members) if index in members)

    def coverage(self, words: list, w: int) -> float:
        """Share of window w's sure speech (Chunk.voiced) in chunks that received a word."""
        heard = {self.chunk_at(x) for x in words}
        weight = [
            (i, self.owners[i].voiced or self.owners[i].end - self.owners[i].start)
            for i in self.members[w]
        ]
        total = sum(x for _, x in weight)
        return sum(x for i, x in weight if i in heard) / total if total else 1.0

    def span(self, w: int) -> tuple[np.ndarray, float, float]:
        """Window w's stream samples and the stretch of the recording its chunks cover, with
        up to SPAN_MARGIN_S more each side (not into a neighbouring chunk): a VAD reads
        speech better with some lead-in, as it has decoding a whole file."""
        members = self.members[w]
        samples = self.streams[self.stream_of[w]][0]
        first, last = members[0], members[-1]
        start = self.owners[first].start - SPAN_MARGIN_S
        end = self.owners[last].end + SPAN_MARGIN_S
        if first > 0 and self.stream_of_chunk(first - 1) == self.stream_of[w]:
            start = max(start, self.owners[first - 1].end)
        if last + 1 < len(self.owners) and self.stream_of_chunk(last + 1) == self.stream_of[w]:
            end = min(end, self.owners[last + 1].start)
        return samples, max(0.0, start), min(len(samples) / SAMPLE_RATE, end)

    def stream_of_chunk(self, index: int) -> int:
        return self.stream_of[self.window_of(index)]

    def to_joined(self, word, w: int):
        """A word timed on the recording, moved onto the joined timeline of window w."""
        members = self.members[w]
        starts = [self.owners[i].start for i in members]
        i = members[max(0, bisect.bisect_right(starts, word.end - WORD_END_SLACK_S) - 1)]
        chunk, offset = self.owners[i], self.offsets[i]
        length = chunk.end - chunk.start

        def move(t: float) -> float:
            return offset + min(max(t - chunk.start, 0.0), length)

        return dataclasses.replace(word, start=move(word.start), end=move(word.end))

    def describe(self, w: int) -> str:
        _, first, last = self.span(w)
        return f"channel {self.stream_of[w] + 1} from {first:.1f} s to {last:.1f} s"

    def assign(self, words: list) -> list[Chunk]:
        """Each chunk's text and confidence from the words spoken in it; a chunk that noise
        held open far beyond its words is trimmed to them (see TRIM_S)."""
        heard: dict[int, list] = {}
        for word, index in zip(words, self.phrase_chunks(words)):
            heard.setdefault(index, []).append(word)
        for index, chunk in enumerate(self.owners):
            words = heard.get(index, [])
            text, confidence = said(words)
            if not text:
                chunk.text = ""
                continue
            chunk.text, chunk.confidence = text, confidence
            offset, length = self.offsets[index], chunk.end - chunk.start
            lead = min(x.start for x in words) - offset
            tail = offset + length - max(x.end for x in words)
            start, end = chunk.start, chunk.end
            if lead > TRIM_S:
                start += lead - TRIM_PAD_S
            if tail > TRIM_S:
                end -= tail - TRIM_PAD_S
            if end > start:
                chunk.start, chunk.end = start, end
        return self.owners


def said(words: Sequence) -> tuple[str, float]:
    """The text of these words and their mean probability ("" and 0.0 for none)."""
    text = "".join(x.word for x in words).strip()
    return text, (float(np.mean([x.probability for x in words])) if text else 0.0)


def words_short(chunks: Sequence[Chunk]) -> str | None:
    """What is wrong when a stream's recognized chunks hold far less of its sure speech than
    MIN_COVERAGE (words lost or dropped across windows, which no one window's coverage shows),
    else None. A stream with under MIN_VOICED_S of sure speech is not judged."""
    voiced = sum(c.voiced for c in chunks)
    heard = sum(c.voiced for c in chunks if c.text)
    if voiced < MIN_VOICED_S or heard >= MIN_COVERAGE * voiced:
        return None
    kept = sum(bool(c.text) for c in chunks)
    return (
        f"far fewer utterances than speech chunks ({kept} of {len(chunks)}, holding "
        f"{100 * heard / voiced:.0f}% of its speech)"
    )


def spurious(text: str, confidence: float, fillers: Sequence[str]) -> bool:
    """Mostly hotwords or captions (normalized `fillers`), heard with low confidence."""
    return confidence < SPURIOUS_CONFIDENCE and mostly_fillers(text, fillers)


def mostly_fillers(text: str, fillers: Sequence[str]) -> bool:
    """At least SPURIOUS_SHARE of the text is hotwords or captions (normalized `fillers`)."""
    heard = rest = normalize_plain(text)
    for filler in fillers:
        rest = rest.replace(filler, "")
    return bool(heard) and len(heard) - len(rest) >= SPURIOUS_SHARE * len(heard)


def _shifted(words: list, by: float) -> list:
    return [dataclasses.replace(x, start=x.start + by, end=x.end + by) for x in words]


def speech_probabilities(samples: np.ndarray) -> np.ndarray:
    """Silero's speech probability per VAD_FRAME. One pass over the channel as faster-whisper
    runs it; then the RESCORE_S after every quiet run of RESET_AFTER_S are scored again from
    a fresh state warmed up on the VAD_WARMUP_S before them (why: config.RESET_AFTER_S)."""
    model = get_vad_model()
    padded = np.pad(samples, (0, -len(samples) % VAD_FRAME))
    if not len(padded):
        return np.zeros(0, dtype=np.float32)
    probs = np.ravel(model(padded)).copy()
    quiet = probs < QUIET_PROB
    need = int(RESET_AFTER_S * SAMPLE_RATE / VAD_FRAME)
    warm = int(VAD_WARMUP_S * SAMPLE_RATE / VAD_FRAME)
    rescore = int(RESCORE_S * SAMPLE_RATE / VAD_FRAME)
    restarts, run = [], 0
    for i, q in enumerate(quiet):
        if q:
            run += 1
        else:
            if run >= need:
                restarts.append(i)
            run = 0
    lead = int(RESCORE_LEAD_S * SAMPLE_RATE / VAD_FRAME)
    for k, start in enumerate(restarts):
        stop = min(restarts[k + 1] if k + 1 < len(restarts) else len(probs), start + rescore)
        begin = max(0, start - lead)  # still inside the quiet run (RESET_AFTER_S > lead)
        lo = max(0, begin - warm)
        fresh = np.ravel(model(padded[lo * VAD_FRAME : stop * VAD_FRAME]))
        probs[begin:stop] = fresh[begin - lo :]
    return probs


def frame_loudness(samples: np.ndarray) -> np.ndarray:
    """Level in dB per VAD_FRAME, the loudest of LOUDNESS_SPAN frames around each (so the dips
    between syllables do not count as quiet)."""
    frames = len(samples) // VAD_FRAME
    if not frames:
        return np.zeros(0, dtype=np.float32)
    power = np.mean(samples[: frames * VAD_FRAME].reshape(frames, VAD_FRAME) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-10)
    half = LOUDNESS_SPAN // 2
    padded = np.pad(level, half, mode="edge")
    return np.max(np.lib.stride_tricks.sliding_window_view(padded, LOUDNESS_SPAN), axis=1)


def trim_to_loudness(span: tuple[int, int], loudness: np.ndarray) -> tuple[int, int]:
    """A span whose first or last EDGE_QUIET_S and more stay EDGE_DB below its loud part is
    cut to TRIM_PAD_S from where it gets loud (why: EDGE_DB)."""
    start, end = span
    lo, hi = start // VAD_FRAME, min(len(loudness), -(-end // VAD_FRAME))
    if hi - lo < 2:
        return span
    level = loudness[lo:hi]
    loud = np.flatnonzero(level >= np.percentile(level, 95) - EDGE_DB)
    frame, pad = VAD_FRAME, int(TRIM_PAD_S * SAMPLE_RATE)
    first, last = (lo + loud[0]) * frame, (lo + loud[-1] + 1) * frame
    if first - start > EDGE_QUIET_S * SAMPLE_RATE:
        start = first - pad
    if end - last > EDGE_QUIET_S * SAMPLE_RATE:
        end = last + pad
    return (int(start), int(end)) if end > start else span


def speech_spans(probs: np.ndarray, options: VadOptions, length: int) -> list[tuple[int, int]]:
    """Speech spans in samples from frame probabilities, by the rules of faster-whisper's
    get_speech_timestamps (open at `threshold`, close after min_silence_duration_ms below
    `neg_threshold`, drop spans under min_speech_duration_ms, pad by speech_pad_ms)."""
    threshold = options.threshold
    neg = (
        options.neg_threshold if options.neg_threshold is not None else max(threshold - 0.15, 0.01)
    )
    min_speech = SAMPLE_RATE * options.min_speech_duration_ms / 1000
    min_silence = SAMPLE_RATE * options.min_silence_duration_ms / 1000
    pad = int(SAMPLE_RATE * options.speech_pad_ms / 1000)
    spans: list[list[int]] = []
    start: int | None = None
    quiet_from: int | None = None
    for i, p in enumerate(probs):
        at = i * VAD_FRAME
        if p >= threshold:
            quiet_from = None
            if start is None:
                start = at
            continue
        if start is not None and p < neg:
            quiet_from = at if quiet_from is None else quiet_from
            if at - quiet_from >= min_silence:
                if quiet_from - start > min_speech:
                    spans.append([start, quiet_from])
                start = quiet_from = None
    if start is not None and length - start > min_speech:
        spans.append([start, length])
    for i, span in enumerate(spans):
        if i == 0:
            span[0] = max(0, span[0] - pad)
        if i + 1 < len(spans):
            gap = spans[i + 1][0] - span[1]
            grow = gap // 2 if gap < 2 * pad else pad
            span[1] = min(length, span[1] + grow)
            spans[i + 1][0] = max(0, spans[i + 1][0] - grow)
        else:
            span[1] = min(length, span[1] + pad)
    return [(s, e) for s, e in spans]


_shared: Recognizer | None = None
_shared_lock = threading.Lock()


def get_recognizer(settings: Settings | None = None) -> Recognizer:
    """The process-wide recognizer: the model is loaded once per process, not per file."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Recognizer(settings)
        return _shared
