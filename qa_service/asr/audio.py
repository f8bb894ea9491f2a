"""Audio in: decode any container PyAV reads into 16 kHz float channels, with clear errors.

`check_readable` is the cheap half (the container's header, its first audio frame and, for
MPEG and WAV, whether the file is whole): the API runs it on an upload while the caller is
still there, without decoding the call or loading the recognizer. `load` decodes everything.

Both refuse a recording longer than QA_MAX_AUDIO_MINUTES from its header, before decoding:
a few hundred kilobytes of FLAC can declare (and hold) a thousand hours of silence. `load`
decodes and resamples frame by frame into one float32 array per channel, so a worker holds
the 16 kHz result and no more; where the header gives no duration it stops at the limit.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from qa_service.config import (
    DECODE_FIRST_CAPACITY_S,
    DECODE_GROUP_SAMPLES,
    MIN_DURATION_S,
    get_settings,
)
from qa_service.exceptions import AudioError
from qa_service.i18n import message

SAMPLE_RATE = 16000
AUDIO_EXTENSIONS = {".wav", ".mp3", ".flac", ".m4a", ".ogg", ".opus", ".aac", ".amr"}


@dataclass
class Audio:
    path: str
    channels: list[np.ndarray]  # one float32 array per source channel (1 or 2), 16 kHz
    source_channels: int
    source_rate: int

    @property
    def duration(self) -> float:
        return len(self.channels[0]) / SAMPLE_RATE


def probe(path: str | Path) -> tuple[int, int]:
    """(channels, sample rate) of the first audio stream."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = container.streams.audio
            if not streams:
                raise AudioError(message("{path}: no audio stream in the file", path=path))
            stream = streams[0]
            return (
                stream.codec_context.channels or stream.channels,
                stream.codec_context.sample_rate,
            )
    except AudioError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(
            message("{path}: not a readable audio file ({reason})", path=path, reason=_reason(exc))
        ) from None


def _check_file(path: str) -> tuple[int, int]:
    """(channels, sample rate) of a file that exists, is not empty and has 1 or 2 channels."""
    p = Path(path)
    if not p.exists():
        raise AudioError(message("{path}: no such file", path=path))
    if p.stat().st_size == 0:
        raise AudioError(message("{path}: the file is empty", path=path))
    n_channels, rate = probe(path)
    if n_channels > 2:
        raise AudioError(
            message("{path}: {n} channels; expected mono or stereo", path=path, n=n_channels)
        )
    return n_channels, rate


def _limit_minutes(max_minutes: float | None) -> float:
    return get_settings().max_audio_minutes if max_minutes is None else max_minutes


def _declared_seconds(container: av.container.InputContainer) -> float | None:
    """The duration the container's header declares (None: it does not say)."""
    return float(container.duration) / av.time_base if container.duration else None


def _check_length(path: str, seconds: float | None, max_minutes: float) -> None:
    """Refuse, from the header alone, a recording declared longer than the limit."""
    if seconds is not None and seconds > max_minutes * 60:
        minutes = round(seconds / 60, 1)
        raise AudioError(
            message(
                "{path}: the recording is {clock} long ({minutes:g} min); the limit is "
                "{limit:g} min ({setting})",
                path=path,
                clock=_clock(seconds),
                minutes=minutes,
                limit=max_minutes,
                setting="QA_MAX_AUDIO_MINUTES",
            )
        )


def undecodable(path: str, exc: Exception) -> str:
    return message(
        "{path}: the audio could not be decoded ({reason})", path=path, reason=_reason(exc)
    )


def no_samples(path: str) -> str:
    return message(
        "{path}: no audio samples could be decoded (truncated or empty stream)", path=path
    )


def too_short(path: str, seconds: float) -> str:
    return message(
        "{path}: the recording is {seconds:.2f} s long; at least {min} s is needed",
        path=path,
        seconds=seconds,
        min=MIN_DURATION_S,
    )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def check_readable(path: str | Path, max_minutes: float | None = None) -> tuple[float, int]:
    """Refuse, with the same errors as `load`, what a worker could not score, reading only
    the header, the first audio frame and the container's packets (no decoding of the call);
    a recording whose header declares more than `max_minutes` (default QA_MAX_AUDIO_MINUTES)
    is refused before any of it is decoded.
    Returns (seconds as the container says, 0.0 when it does not; channels)."""
    path = str(path)
    limit = _limit_minutes(max_minutes)
    n_channels, _ = _check_file(path)
    try:
        with av.open(path, metadata_errors="ignore") as container:
            _check_length(path, _declared_seconds(container), limit)
            stream = container.streams.audio[0]
            frame = next((f for f in container.decode(stream) if f.samples), None)
            seconds = _declared_seconds(container)
    except AudioError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(undecodable(path, exc)) from None
    if frame is None:
        raise AudioError(no_samples(path))
    _check_complete(path, seconds or 0.0)
    if seconds is not None and seconds < MIN_DURATION_S:
        raise AudioError(too_short(path, seconds))
    return seconds or 0.0, n_channels


def load(path: str | Path, max_minutes: float | None = None) -> Audio:
    """Decode the first audio stream into 16 kHz float32 channels (the values faster-whisper's
    `decode_audio` gives: resampled to 16-bit, then scaled to [-1, 1)). A recording longer
    than `max_minutes` (default QA_MAX_AUDIO_MINUTES) is refused: from its header before
    decoding, else as soon as decoding passes the limit."""
    path = str(path)
    limit = _limit_minutes(max_minutes)
    n_channels, rate = _check_file(path)
    try:
        channels = _decode(path, n_channels, limit)
    except AudioError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(undecodable(path, exc)) from None
    if len(channels[0]) == 0:
        raise AudioError(no_samples(path))
    duration = len(channels[0]) / SAMPLE_RATE
    _check_complete(path, duration)
    if duration < MIN_DURATION_S:
        raise AudioError(too_short(path, duration))
    return Audio(path=path, channels=channels, source_channels=n_channels, source_rate=rate)


def _decode(path: str, n_channels: int, max_minutes: float) -> list[np.ndarray]:
    """The first audio stream as one float32 array per channel at SAMPLE_RATE, decoded and
    resampled a group of frames at a time straight into those arrays: the memory held is the
    output and one group, never the whole call at a higher rate or as float64."""
    max_seconds = max_minutes * 60
    # A decoded call may run a little past what its header says (resampler delay, rounding).
    allowed = int(max_seconds * SAMPLE_RATE) + SAMPLE_RATE
    resampler = av.AudioResampler(
        format="s16", layout="stereo" if n_channels == 2 else "mono", rate=SAMPLE_RATE
    )
    with av.open(path, metadata_errors="ignore") as container:
        declared = _declared_seconds(container)
        _check_length(path, declared, max_minutes)
        if declared is not None:
            capacity = min(int(declared * SAMPLE_RATE) + SAMPLE_RATE, allowed)
        else:
            capacity = min(DECODE_FIRST_CAPACITY_S * SAMPLE_RATE, allowed)  # grows by half
        out = [np.empty(capacity, dtype=np.float32) for _ in range(n_channels)]
        filled = 0

        def put(frame: av.AudioFrame) -> None:
            nonlocal filled
            # packed s16: (1, samples * channels), channels interleaved
            pcm = frame.to_ndarray().reshape(-1, n_channels)
            end = filled + len(pcm)
            if end > allowed:
                raise AudioError(
                    message(
                        "{path}: the recording is longer than the {limit:g} min limit "
                        "({setting}): its header gives no duration, and decoding was stopped "
                        "when it passed the limit",
                        path=path,
                        limit=max_minutes,
                        setting="QA_MAX_AUDIO_MINUTES",
                    )
                )
            if end > len(out[0]):
                grown = min(max(end, len(out[0]) * 3 // 2), allowed)
                for array in out:
                    array.resize(grown, refcheck=False)  # realloc: no second copy held
            for c, array in enumerate(out):
                array[filled:end] = pcm[:, c]
            filled = end

        fifo = av.AudioFifo()
        for frame in _frames(container):
            frame.pts = None  # decoders' timestamps may jump; the samples are what count
            fifo.write(frame)
            if fifo.samples >= DECODE_GROUP_SAMPLES:
                for resampled in resampler.resample(fifo.read()):
                    put(resampled)
        if fifo.samples:
            for resampled in resampler.resample(fifo.read()):
                put(resampled)
        for resampled in resampler.resample(None):  # flush the resampler's delay
            put(resampled)
    del resampler, fifo
    gc.collect()  # PyAV's resampler graph is freed only by the collector (faster-whisper #390)
    for array in out:
        array.resize(filled, refcheck=False)
        array *= np.float32(1 / 32768)  # s16 -> [-1, 1), exactly as faster-whisper scales
    return out


def _frames(container: av.container.InputContainer):
    """The first audio stream's frames, ending at the first undecodable packet (as
    faster-whisper's decoder does: what came before it is kept)."""
    frames = container.decode(audio=0)
    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


# MPEG audio frame header tables: bitrate (kbps) by (version is MPEG-1, layer) and sample rates.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpeg_frame_length(header: bytes) -> int | None:
    """Length in bytes of the MPEG audio frame whose 4-byte header this is (None: not one)."""
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xE0) != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits
    bitrate = _BITRATES[(version == 3, layer)][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    per_frame = 144 if (layer == 2 or version == 3) else 72
    return per_frame * bitrate // rate + padding


def _check_complete(path: str, decoded_duration: float) -> None:
    """Refuse recordings cut short in transfer: a partial last MPEG frame, or a PCM file whose
    header promises more audio than the file holds. Decoders pass both over in silence."""
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            codec = stream.codec_context.name
            if codec.startswith("mp"):
                last = None
                for packet in container.demux(stream):
                    if packet.size:
                        last = bytes(packet)
                expected = _mpeg_frame_length(last or b"")
                if last is not None and expected is not None and len(last) < expected:
                    raise AudioError(
                        message(
                            "{path}: truncated {format} audio: the last frame has {n} of its "
                            "{expected} bytes (the file was cut short)",
                            path=path,
                            format="MPEG",
                            n=len(last),
                            expected=expected,
                        )
                    )
            elif container.format.name == "wav":
                declared, present = _riff_data_sizes(path)
                if declared is not None and present < declared:
                    raise AudioError(
                        message(
                            "{path}: truncated {format}: the header declares {declared} bytes of "
                            "audio but the file holds {present}",
                            path=path,
                            format="WAV",
                            declared=declared,
                            present=present,
                        )
                    )
    except AudioError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(
            message(
                "{path}: the audio could not be read to its end ({reason})",
                path=path,
                reason=_reason(exc),
            )
        ) from None


def _riff_data_sizes(path: str) -> tuple[int | None, int]:
    """(bytes the RIFF 'data' chunk declares, bytes present after its header)."""
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        if f.read(4) != b"RIFF":
            return None, 0
        f.seek(12)
        while True:
            header = f.read(8)
            if len(header) < 8:
                return None, 0
            chunk_id, chunk_size = header[:4], int.from_bytes(header[4:], "little")
            if chunk_id == b"data":
                # 0 and 0xFFFFFFFF mark a streamed WAV whose length was never written back.
                if chunk_size in (0, 0xFFFFFFFF):
                    return None, 0
                return chunk_size, size - f.tell()
            f.seek(chunk_size + (chunk_size & 1), 1)


def _reason(exc: Exception) -> str:
    """What FFmpeg says, without its error number and the path (the message names the file)."""
    if isinstance(exc, av.error.InvalidDataError):
        return message(
            "its content is not audio in a format we read: {formats}", formats="wav, mp3, flac"
        )
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text.split("\n")[0])
    return text[:200]
