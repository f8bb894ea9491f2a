"""Peak memory of a worker given a very long recording: 4 hours of silence as FLAC (2.7 MB;
200 MB of FLAC can hold ~1,000 hours).

Each case runs in a fresh process and prints its peak RSS and seconds:

- refused: `load` with the default limit (QA_MAX_AUDIO_MINUTES, 180): refused from the header
- decoded: `load` with the limit raised above 4 h: the streaming decoder holds the 16 kHz
  float32 output (921.6 MB for 4 h of mono) and little else
- faster-whisper: its `decode_audio`, what `load` called before (16-bit bytes, then float32
  copies of the whole call)

    python benchmarks/long_audio.py [--hours 4] [--channels 1]

Measured on the 2-core dev machine (4 h mono, 8 kHz; importing the module alone: 63 MB):
refused 67 MB in 1.3 s; decoded 981 MB in 17 s; faster-whisper (the old `load`) 2,271 MB in
27 s. Stereo doubles the last two.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "refused": "from qa_service.asr.audio import load\n"
    "from qa_service.exceptions import AudioError\n"
    "try:\n    print(load(PATH).duration, 's decoded (under the limit)')\n"
    "except AudioError as exc:\n    print(exc)\n",
    "decoded": "from qa_service.asr.audio import load\n"
    "print(load(PATH, max_minutes=HOURS * 60 + 1).duration, 's decoded')\n",
    "faster-whisper": "from faster_whisper import decode_audio\n"
    "audio = decode_audio(PATH, split_stereo=CHANNELS == 2)\n"
    "print(len(audio[0] if CHANNELS == 2 else audio) / 16000, 's decoded')\n",
}
MEASURE = """
import resource, sys, time
PATH, HOURS, CHANNELS = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
started = time.monotonic()
{case}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"peak RSS {{peak:,.0f}} MB in {{time.monotonic() - started:.1f}} s")
"""


def silence_flac(path: Path, hours: float, channels: int, rate: int = 8000) -> Path:
    layout = "mono" if channels == 1 else "stereo"
    minute = np.zeros((1, rate * 60 * channels), dtype=np.int16)
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout=layout)
        for i in range(int(hours * 60)):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout=layout)
            frame.rate, frame.pts = rate, i * rate * 60
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--channels", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = silence_flac(Path(tmp) / "silence.flac", args.hours, args.channels)
        print(f"{args.hours:g} h of silence, {args.channels} channel(s): {path.stat().st_size:,} B")
        for name, case in CASES.items():
            out = subprocess.run(
                [sys.executable, "-c", MEASURE.format(case=case), str(path)]
                + [str(args.hours), str(args.channels)],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            print(f"{name}:", (out.stdout + out.stderr).strip().replace("\n", " | "))


if __name__ == "__main__":
    main()
