"""Settings, read once from the environment (prefix-free names, as operators expect)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    environment: Literal["development", "production", "test"] = Field(
        default="development",
        description="development: readable logs; production: JSON logs.",
        validation_alias="HAE_ENV",
    )
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/hae",
        description="SQLAlchemy URL of the PostgreSQL+PostGIS database (asyncpg driver).",
        validation_alias="DATABASE_URL",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis URL (API-key cache, rate limits).",
        validation_alias="REDIS_URL",
    )
    db_pool_size: int = Field(default=10, ge=1, validation_alias="HAE_DB_POOL_SIZE")
    db_statement_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Server-side statement timeout; a 100 MB backfill's largest upsert fits well within it.",
        validation_alias="HAE_DB_STATEMENT_TIMEOUT_S",
    )
    max_body_bytes: int = Field(
        default=256 * 1024 * 1024,
        gt=0,
        description="Largest request body accepted (after gzip decoding); larger gets 413.",
        validation_alias="HAE_MAX_BODY_BYTES",
    )
    max_json_depth: int = Field(
        default=32,
        ge=8,
        description="Deepest JSON nesting accepted; HAE payloads nest at most ~8 levels.",
        validation_alias="HAE_MAX_JSON_DEPTH",
    )
    future_tolerance_days: int = Field(
        default=730,
        ge=1,
        description="Points dated further than this into the future are rejected as impossible.",
        validation_alias="HAE_FUTURE_TOLERANCE_DAYS",
    )
    raw_compression_level: int = Field(
        default=3, ge=1, le=19, validation_alias="HAE_RAW_COMPRESSION_LEVEL"
    )

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, value: str) -> str:
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
