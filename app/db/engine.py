"""Engine and session factory; created once in the lifespan, reached through dependencies."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings


def create_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    timeout_ms = int(settings.db_statement_timeout_s * 1000)
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_timeout=30,
        connect_args={
            "timeout": 10,
            "command_timeout": settings.db_statement_timeout_s + 30,
            "server_settings": {
                "application_name": "hae-server",
                "statement_timeout": str(timeout_ms),
                "lock_timeout": "30000",
                "idle_in_transaction_session_timeout": "600000",
            },
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
