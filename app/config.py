"""Settings, read once from the environment (prefix-free names, as operators expect)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"change-me", "changeme", "secret", "pepper", "replace-me", "xxx"}


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
    body_idle_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="A request body whose next chunk takes longer than this gets 408 and the"
        " connection is closed: a stalled upload cannot hold a worker.",
        validation_alias="HAE_BODY_IDLE_TIMEOUT_S",
    )
    future_tolerance_days: int = Field(
        default=730,
        ge=1,
        description="Points dated further than this into the future are rejected as impossible.",
        validation_alias="HAE_FUTURE_TOLERANCE_DAYS",
    )
    max_unknown_metrics_per_user: int = Field(
        default=300,
        ge=0,
        description=(
            "Distinct metric names without a typed mapping one account may store; series of"
            " further unknown names are rejected with a reason (known names are never capped)."
        ),
        validation_alias="HAE_MAX_UNKNOWN_METRICS_PER_USER",
    )
    partition_window_years: int = Field(
        default=10,
        ge=1,
        le=126,
        description=(
            "Months from this many years back to the future tolerance get their own partition;"
            " older points are stored in each table's default partition. Bounds the partitions"
            " any body can create (see docs/operations.md, Partition maintenance)."
        ),
        validation_alias="HAE_PARTITION_WINDOW_YEARS",
    )
    raw_compression_level: int = Field(
        default=3, ge=1, le=19, validation_alias="HAE_RAW_COMPRESSION_LEVEL"
    )
    async_threshold_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=0,
        description=(
            "Bodies larger than this are answered 202 Accepted as soon as they are archived and"
            " processed by the worker (python -m app.worker); smaller ones get the 200 report."
        ),
        validation_alias="HAE_ASYNC_THRESHOLD_BYTES",
    )
    worker_lease_s: int = Field(
        default=60,
        ge=5,
        description="A claimed ingestion is re-claimable this long after its processor stops heartbeating.",
        validation_alias="HAE_WORKER_LEASE_S",
    )
    worker_max_attempts: int = Field(
        default=5,
        ge=1,
        description="Attempts before an ingestion is marked failed (replayable with the CLI).",
        validation_alias="HAE_WORKER_MAX_ATTEMPTS",
    )
    worker_poll_s: float = Field(default=1.0, gt=0, validation_alias="HAE_WORKER_POLL_S")
    key_pepper: SecretStr | None = Field(
        default=None,
        description=(
            "Server secret (>= 32 characters) keying the HMAC under which verified API keys are"
            " cached in Redis; required in production, shared by all replicas. Unset in"
            " development: a random one per process."
        ),
        validation_alias="HAE_KEY_PEPPER",
    )
    auth_cache_ttl_s: int = Field(
        default=300,
        ge=0,
        description="How long a verified (key, secret) pair skips Argon2; 0 disables the cache.",
        validation_alias="HAE_AUTH_CACHE_TTL_S",
    )
    auth_failures_per_key: int = Field(
        default=10,
        ge=1,
        description=(
            "Failed attempts from one client address on one existing key id per window before"
            " further attempts from there get 429 (the owner elsewhere is never locked out)."
        ),
        validation_alias="HAE_AUTH_FAILURES_PER_KEY",
    )
    auth_failures_per_client: int = Field(
        default=30,
        ge=1,
        description=(
            "Failed attempts with unknown or malformed keys from one client address per window"
            " before further such attempts get 429."
        ),
        validation_alias="HAE_AUTH_FAILURES_PER_CLIENT",
    )
    auth_failure_window_s: int = Field(
        default=900, ge=1, validation_alias="HAE_AUTH_FAILURE_WINDOW_S"
    )
    auth_verify_concurrency: int = Field(
        default=4,
        ge=1,
        description=(
            "Argon2 checks running at once per process (each holds ~19 MiB); more wait their turn."
        ),
        validation_alias="HAE_AUTH_VERIFY_CONCURRENCY",
    )
    rate_limit_requests: int = Field(
        default=600,
        ge=1,
        description="Default requests per key per request window (a key may override it).",
        validation_alias="HAE_RATE_LIMIT_REQUESTS",
    )
    rate_limit_window_s: int = Field(default=60, ge=1, validation_alias="HAE_RATE_LIMIT_WINDOW_S")
    rate_limit_bytes: int = Field(
        default=4 * 1024**3,
        ge=1,
        description=(
            "Default body bytes per key per byte window (a key may override it); the default lets a"
            " phone send a 200 MB backfill several times an hour."
        ),
        validation_alias="HAE_RATE_LIMIT_BYTES",
    )
    rate_limit_bytes_window_s: int = Field(
        default=3600, ge=1, validation_alias="HAE_RATE_LIMIT_BYTES_WINDOW_S"
    )
    redis_prefix: str = Field(
        default="hae",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Namespace of every Redis key, so several deployments can share one Redis.",
        validation_alias="HAE_REDIS_PREFIX",
    )
    redis_timeout_s: float = Field(
        default=0.5,
        gt=0,
        description="Redis socket timeout; past it the service falls back to per-process limits.",
        validation_alias="HAE_REDIS_TIMEOUT_S",
    )

    @field_validator("key_pepper")
    @classmethod
    def _strong_pepper(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if len(secret) < 32 or secret.lower() in _PLACEHOLDERS or len(set(secret)) < 8:
            raise ValueError("HAE_KEY_PEPPER must be a random secret of at least 32 characters")
        return value

    @model_validator(mode="after")
    def _production_needs_pepper(self) -> Settings:
        if self.environment == "production" and self.key_pepper is None:
            raise ValueError("HAE_KEY_PEPPER is required when HAE_ENV=production")
        return self

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
