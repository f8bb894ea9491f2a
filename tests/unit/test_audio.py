"""Bad recordings get an error that names the file and the problem."""

import shutil

import pytest

from qa_service.asr.audio import check_readable, load
from qa_service.exceptions import AudioError
from tests.support import SAMPLES, bad_files


@pytest.mark.parametrize("name", ["empty", "text", "truncated", "short"])
@pytest.mark.parametrize("read", [load, check_readable], ids=["load", "check_readable"])
def test_bad_audio_is_a_clear_error(tmp_path, name, read):
    """The decoder, and what the API runs on an upload without decoding (header, first frame,
    completeness), give the same clear error naming the file."""
    path, message = bad_files(tmp_path)[name]
    with pytest.raises(AudioError) as info:
        read(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_upload_check_passes_every_sample():
    files = [p for p in SAMPLES.rglob("*") if p.suffix in (".wav", ".mp3", ".flac")]
    assert len(files) >= 3
    for path in files:
        check_readable(path)


def test_truncated_wav(tmp_path):
    src = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"
    cut = tmp_path / "cut.wav"
    cut.write_bytes(src.read_bytes()[:100000])
    with pytest.raises(AudioError, match="truncated WAV"):
        load(cut)
    with pytest.raises(AudioError, match="truncated WAV"):
        check_readable(cut)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load(tmp_path / "nope.wav")


def test_formats_and_channels(tmp_path):
    stereo = load(SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav")
    assert stereo.source_channels == 2 and len(stereo.channels) == 2 and stereo.source_rate == 8000
    mono = load(SAMPLES / "broadband-satisfaction-survey" / "survey_B009_20261120-094500.mp3")
    assert mono.source_channels == 1 and len(mono.channels) == 1
    flac = load(SAMPLES / "contract-care-call" / "care_C002_20261121-101500.flac")
    assert flac.duration > 20
    # the whole untouched file is not mistaken for a truncated one
    whole = shutil.copy(
        SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A021_20261120-102211.mp3",
        tmp_path / "whole.mp3",
    )
    assert load(whole).duration > 10
