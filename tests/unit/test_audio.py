"""Bad recordings get an error that names the file and the problem."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from qa_service.asr.audio import check_readable, load, probe
from qa_service.exceptions import AudioError
from qa_service.i18n import message
from tests.support import SAMPLES, bad_files, said, write_flac


@pytest.mark.parametrize("name", ["empty", "text", "truncated", "short", "long"])
@pytest.mark.parametrize("read", [load, check_readable], ids=["load", "check_readable"])
def test_bad_audio_is_a_clear_error(tmp_path, name, read):
    """The decoder, and what the API runs on an upload without decoding (header, first frame,
    completeness), give the same clear error naming the file."""
    path, expected = bad_files(tmp_path)[name]
    with pytest.raises(AudioError) as info:
        read(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_upload_check_passes_every_sample():
    files = [p for p in SAMPLES.rglob("*") if p.suffix in (".wav", ".mp3", ".flac")]
    assert len(files) >= 3
    for path in files:
        check_readable(path)


def test_truncated_wav(tmp_path):
    src = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A017_20261120-091403.wav"
    cut = tmp_path / "cut.wav"
    cut.write_bytes(src.read_bytes()[:100000])
    truncated = said(
        "{path}: truncated {format}: the header declares {declared} bytes of audio but the "
        "file holds {present}",
        path=cut,
        format="WAV",
    )
    with pytest.raises(AudioError, match=truncated):
        load(cut)
    with pytest.raises(AudioError, match=truncated):
        check_readable(cut)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=said("{path}: no such file", path=tmp_path / "nope.wav")):
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


@pytest.mark.parametrize("read", [load, check_readable], ids=["load", "check_readable"])
def test_declared_length_over_the_limit_is_refused_from_the_header(tmp_path, read):
    """A header declaring hours (a few KB of FLAC can declare, and hold, a thousand hours of
    silence; a worker decoding 4 h held 2.3 GB) is refused before decoding: the file holds 2 s,
    so decoding it would have found nothing wrong. The limit is QA_MAX_AUDIO_MINUTES."""
    path = write_flac(tmp_path / "night.flac", 2, declared_seconds=4 * 3600)
    with pytest.raises(AudioError) as info:
        read(path)
    too_long = (
        "{path}: the recording is {clock} long ({minutes:g} min); the limit is {limit:g} min "
        "({setting})"
    )
    assert str(info.value) == message(
        too_long,
        path=path,
        clock="4:00:00",
        minutes=240,
        limit=180,
        setting="QA_MAX_AUDIO_MINUTES",
    )
    with pytest.raises(AudioError, match=said(too_long, clock="1:00:00", minutes=60, limit=59.5)):
        read(write_flac(tmp_path / "hour.flac", 2, declared_seconds=3600), max_minutes=59.5)
    assert read(path, max_minutes=241)  # the limit is a setting: under it, read as before


def test_no_declared_length_stops_decoding_at_the_limit(tmp_path):
    """A header that gives no duration (FLAC's 0 samples) is decoded only up to the limit."""
    path = write_flac(tmp_path / "unknown.flac", 10, declared_seconds=0)
    assert check_readable(path, max_minutes=0.1) == (0.0, 1)  # nothing declared to refuse
    with pytest.raises(AudioError) as info:
        load(path, max_minutes=0.1)
    assert str(info.value) == message(
        "{path}: the recording is longer than the {limit:g} min limit ({setting}): its header "
        "gives no duration, and decoding was stopped when it passed the limit",
        path=path,
        limit=0.1,
        setting="QA_MAX_AUDIO_MINUTES",
    )
    assert load(path, max_minutes=0.2).duration == 10.0


def test_load_decodes_as_faster_whisper_into_one_array_per_channel():
    """The streaming decoder gives faster-whisper's `decode_audio` values exactly (16 kHz,
    16-bit, scaled to [-1, 1)), as one float32 array per channel that owns its memory: no
    interleaved whole-call buffer behind strided views."""
    from faster_whisper import decode_audio

    # One sample of each format and channel count: the decoder's paths, not every file again.
    kinds: dict[tuple[str, bool], Path] = {}
    for found in sorted(SAMPLES.rglob("*")):
        if found.suffix in (".wav", ".mp3", ".flac"):
            kinds.setdefault((found.suffix, probe(found)[0] == 2), found)
    assert {suffix for suffix, _ in kinds} == {".wav", ".mp3", ".flac"}
    assert {stereo for _, stereo in kinds} == {True, False}
    for (_, stereo), path in sorted(kinds.items()):
        expected = decode_audio(str(path), sampling_rate=16000, split_stereo=stereo)
        expected = list(expected) if stereo else [expected]
        audio = load(path)
        assert len(audio.channels) == len(expected), path
        for got, want in zip(audio.channels, expected, strict=True):
            assert got.dtype == np.float32 and got.flags.c_contiguous and got.flags.owndata
            np.testing.assert_array_equal(got, want, err_msg=str(path))
