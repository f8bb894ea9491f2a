"""Paths, service addresses and plain helpers shared by the test layers (fixtures live in
conftest.py; tests import from here, never from each other)."""

from __future__ import annotations

import os
import re
import signal
import string
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from qa_service.domain.results import Utterance

ROOT = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("QA_DEV_CORPUS", ROOT.parent / "shared" / "corpus" / "dev"))
SAMPLES = ROOT / "samples"
RUBRICS = ROOT / "rubrics"
IN_CI = os.environ.get("CI") == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "QA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Each pytest-xdist worker (gw0, gw1, ...) has Redis databases of its own: tests empty theirs
# and run rq workers against it, which must not meet another worker's jobs.
XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)


def worker_redis(url: str) -> str:
    """The Redis URL with this xdist worker's database: the URL's own for the first worker."""
    root, db = url.rsplit("/", 1)
    return f"{root}/{(int(db) + XDIST_WORKER) % 16}"


# Telecom calls the rollup, KPI and flagged-list tests store (rubrics/telecom-data-upgrade.yaml):
# one that passes, one with an attitude error, one that stops after the greeting.
GOOD_CALL = [
    Utterance("agent", 0.5, 2.0, "您好，我是中国电信客户经理，给您介绍一下畅享套餐"),
    Utterance(
        "agent",
        2.5,
        8.0,
        "每个月只要九十六元，三百分钟，合约期一年，预存一百六十八元，可以免费退订",
    ),
    Utterance("agent", 8.5, 10.0, "性价比很高，为您办理"),
    Utterance("customer", 10.5, 11.0, "那就办吧"),
    Utterance("agent", 11.5, 12.0, "再见"),
]
RUDE_CALL = GOOD_CALL[:2] + [
    Utterance("agent", 8.5, 10.0, "你烦不烦"),
    Utterance("customer", 10.5, 11.0, "不需要"),
]
SHORT_CALL = GOOD_CALL[:1] + [
    Utterance("customer", 2.5, 3.0, "不需要"),
    Utterance("agent", 3.5, 4.0, "好的"),
]

REDIS_URL = worker_redis(os.environ.get("QA_TEST_REDIS", "redis://127.0.0.1:6379/13"))

# English a Chinese text keeps: formats, units, file types, encodings, product names, the time
# zone. The one allowlist of the language scans (pages, catalog, API errors, CLI output).
ALLOWED_ENGLISH = frozenset(
    {"API", "XLSX", "CSV", "Excel", "YAML", "JSON", "Markdown", "ISO", "UTF", "MB", "KB", "GB",
     "id", "UTC", "Asia", "Shanghai", "wav", "mp3", "flac", "m4a", "ogg", "opus", "aac", "amr"}
)  # fmt: skip
# A care campaign's knowledge base with two yes/no rules and a number (the unit tests of
# reading rules by meaning).
CARE_KNOWLEDGE = """
id: care
facts:
  - id: auto_renewal
    name: 到期自动续约
    value: false
    affirm: [会自动续约, 自动给您续约, 自动续上]
    deny: [不会自动续约, 不自动续约, 需要您同意才续约]
  - id: free_cancel
    name: 到期免费退订
    value: true
    affirm: [免费退订, 不收手续费]
    deny: [退订要收费, 不能退订]
  - {id: fee, name: 月费, words: [月费, 每月], value: 96, unit: 元}
"""
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+")
# What a person typed or reads as code, not as words of a sentence: a quoted value ('missed'),
# a path or file name, a field, option or setting name (pass_score, --slot, QA_MAX_JSON_KB,
# mandatory_points[0].id, call.wav), a command in backticks.
_ITEM = r"[\w-]+(?:\[\d+\](?:\(id=[^)\s]*\))?)?"  # a field path's step: facts[0](id=fee)
TYPED = re.compile(
    r"`[^`]*`|'[^'\n]*'|\"[^\"\n]*\"|(?<!\S)--?[a-z][\w-]*|\S*[/\\]\S*"
    rf"|{_ITEM}(?:\.{_ITEM})+|[\w-]+(?:[._\[\]=:]+[\w-]+)+\]?|\w*_\w*|\bv\d+\b"
)


def said(msgid: str, **known) -> str:
    """A regex of a catalog sentence as the service says it (its language, QA_LOCALE): the
    fields given filled in, the others any text."""
    from qa_service.i18n import catalog, current_locale

    out = ""
    for literal, field, spec, _conversion in string.Formatter().parse(
        catalog(current_locale()).get(msgid, msgid)
    ):
        out += re.escape(literal)
        if field is not None:
            out += re.escape(format(known[field], spec or "")) if field in known else ".+?"
    return out


def english_words(text: str, typed: tuple[str, ...] = (), code: bool = True) -> set[str]:
    """The English words of a text people read (a page, an error, a CLI line) outside the
    allowlist, less what they typed: `typed` (names, ids given) and, with `code`, code-like
    tokens (a page's own HTML marks what is typed with <code> instead)."""
    text = TYPED.sub(" ", text) if code else text
    for value in sorted(typed, key=len, reverse=True):  # whole tokens: "p" is no part of "map"
        text = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", " ", text)
    return set(LATIN_WORD.findall(text)) - ALLOWED_ENGLISH


def need(condition: bool, reason: str) -> None:
    """Skip locally when something is missing; in CI a missing piece is a failure."""
    if not condition:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


def emptied_redis(url: str):
    """A connection to the Redis database at `url`, emptied before and after (a generator for
    fixtures: `yield from emptied_redis(url)`); missing Redis fails in CI, skips elsewhere."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    conn = Redis.from_url(url)
    try:
        conn.ping()
    except RedisConnectionError as exc:
        need(False, f"Redis not reachable at {url}: {exc}")
    conn.flushdb()
    yield conn
    conn.flushdb()


def wait_for(predicate, timeout=180.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def fail_once(marker: str) -> float:
    """An rq job for the worker tests: fails the first time it runs (a transient failure, so rq
    retries it), and from then on returns the time it ran (time.time())."""
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once\n")
        raise RuntimeError("a transient failure, for the test (tests.support.fail_once)")
    return time.time()


def kill_own_worker(*_args) -> None:
    """An rq job for the worker tests: kills the process running it with SIGKILL, as the
    kernel's OOM killer kills a worker (no exception, no cleanup, nothing recorded)."""
    os.kill(os.getpid(), signal.SIGKILL)


def write_flac(path, seconds, declared_seconds=None, rate=8000):
    """A mono FLAC of `seconds` of quiet noise. `declared_seconds` rewrites the length its
    header (STREAMINFO) declares: hours in a file of a few kilobytes, or 0 for a header that
    gives no duration (FLAC's "unknown")."""
    import av

    samples = np.random.default_rng(0).normal(0, 300, int(seconds * rate)).astype("<i2")
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    if declared_seconds is not None:
        data = bytearray(Path(path).read_bytes())
        assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
        total, at = int(declared_seconds * rate), 8 + 13  # 36-bit sample count, big-endian
        data[at] = (data[at] & 0xF0) | (total >> 32 & 0x0F)
        data[at + 1 : at + 5] = (total & 0xFFFFFFFF).to_bytes(4, "big")
        Path(path).write_bytes(bytes(data))
    return path


def write_wav(path, seconds, channels=2, rate=8000):
    frames = (np.random.default_rng(0).normal(0, 300, (int(seconds * rate), channels))).astype(
        "<i2"
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return path


def bad_files(tmp_path):
    """name -> (path, what the error must say). Used by the audio and the batch tests."""
    from qa_service.asr.audio import too_short
    from qa_service.i18n import message

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    mp3 = SAMPLES / "telecom-data-upgrade" / "telecom-upgrade_A021_20261120-102211.mp3"
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(mp3.read_bytes()[:20000])
    short = write_wav(tmp_path / "short.wav", 0.2)
    # 2 s of audio whose header declares 4 hours: over QA_MAX_AUDIO_MINUTES (180), refused
    # from the header (decoding would find only the 2 s)
    long = write_flac(tmp_path / "long.flac", 2, declared_seconds=4 * 3600)
    # the whole sentence, in the service's language (the truncated file's byte counts aside)
    cut = message(
        "{path}: truncated {format} audio: the last frame has {n} of its {expected} bytes "
        "(the file was cut short)",
        path=truncated,
        format="MPEG",
        n=128,
        expected=216,
    )
    return {
        "empty": (empty, message("{path}: the file is empty", path=empty)),
        "text": (
            text,
            message(
                "{path}: not a readable audio file ({reason})",
                path=text,
                reason=message(
                    "its content is not audio in a format we read: {formats}",
                    formats="wav, mp3, flac",
                ),
            ),
        ),
        "truncated": (truncated, cut),
        "short": (short, too_short(str(short), 0.2)),
        "long": (
            long,
            message(
                "{path}: the recording is {clock} long ({minutes:g} min); the limit is "
                "{limit:g} min ({setting})",
                path=long,
                clock="4:00:00",
                minutes=240,
                limit=180,
                setting="QA_MAX_AUDIO_MINUTES",
            ),
        ),
    }


def rollup_cells(store) -> dict:
    """Every non-empty cell of the four rollup tables (qa_service.storage.rollups), comparable."""
    from sqlmodel import select

    from qa_service.storage.rollups import ERROR_TABLES, KPI_TABLES

    out = {}
    with store.session() as s:
        for model in KPI_TABLES + ERROR_TABLES:
            rows = [r.model_dump() for r in s.exec(select(model)).all()]
            out[model.__tablename__] = sorted(
                tuple(sorted((k, round(v, 6) if isinstance(v, float) else v) for k, v in r.items()))
                for r in rows
                if r.get("evaluated", r.get("calls"))
            )
    return out


def assert_rollups_match_rebuild(store) -> None:
    """The rollups' invariant: kept incrementally, they equal a rebuild from the evaluations."""
    from qa_service.storage.rollups import rebuild

    before = rollup_cells(store)
    with store.session() as s:
        rebuild(s)
        s.commit()
    assert rollup_cells(store) == before, "incremental rollups drifted from a rebuild"


def web_sign_in(client, follow_redirects=False, **form):
    """Sign in through the web app's form as a browser does: the form page first (its sign-in
    token, in the page and in a cookie), then the post with it."""
    import re as _re

    page = client.get("/login")
    token = _re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login", data={**form, "login_token": token}, follow_redirects=follow_redirects
    )
