"""The embedded model is assembled from the two packages and verified before loading."""

import shutil

import pytest

from qa_service.asr.model_store import EXPECTED_SHA256, embedded_model_dir, verify
from qa_service.exceptions import ModelIntegrityError


def test_assembles_and_verifies(tmp_path):
    model_dir = embedded_model_dir(tmp_path / "cache")
    assert (model_dir / "model.bin").stat().st_size > 100_000_000
    verify(model_dir)  # all four files match their sha256
    # second call reuses the verified copy
    assert embedded_model_dir(tmp_path / "cache") == model_dir


def test_refuses_a_tampered_model(tmp_path):
    model_dir = embedded_model_dir(tmp_path / "cache")
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    with open(bad / "config.json", "ab") as f:
        f.write(b" ")
    with pytest.raises(ModelIntegrityError, match="does not match the expected"):
        verify(bad)
    # every file is checked: one missing is refused by name, not loaded without it
    for name in EXPECTED_SHA256:
        missing = tmp_path / f"missing-{name}"
        shutil.copytree(model_dir, missing)
        (missing / name).unlink()
        with pytest.raises(ModelIntegrityError, match=f"{name}: missing from the embedded model"):
            verify(missing)


def test_a_damaged_cache_is_rebuilt(tmp_path):
    model_dir = embedded_model_dir(tmp_path / "cache")
    with open(model_dir / "model.bin", "r+b") as f:
        f.truncate(1000)
    rebuilt = embedded_model_dir(tmp_path / "cache")
    verify(rebuilt)
