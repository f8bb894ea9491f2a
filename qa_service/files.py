"""File hashes: the identity of a recording (its content's sha256) and the integrity of the
models we ship."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa_service.exceptions import ModelIntegrityError


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_files(root: Path, expected_sha256: dict[str, str], what: str = "model") -> None:
    """Every file of a shipped model present and equal to its known sha256, else refuse
    (shared by the Whisper model and the sentence-embedding model)."""
    for name, expected in expected_sha256.items():
        path = root / name
        if not path.exists():
            raise ModelIntegrityError(f"{path}: missing from the embedded {what}")
        actual = sha256_of(path)
        if actual != expected:
            raise ModelIntegrityError(
                f"{path}: sha256 {actual} does not match the expected {expected}; "
                f"refusing to load a {what} that is not the one we ship"
            )
