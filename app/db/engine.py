"""Engine and session factory; created once in the lifespan, reached through dependencies."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings

# A connection back from the pool after this long idle is pinged first (a restarted or
# failed-over server leaves idle connections dead). One in steady use is not: the ping costs up to
# three round trips, more than a small request's own statements, and a connection that died under
# load fails its statement, which invalidates the whole pool at once.
PING_AFTER_IDLE_S = 5.0


def create_engine(settings: Settings, *, pool_size: int | None = None) -> AsyncEngine:
    timeout_ms = int(settings.db_statement_timeout_s * 1000)
    engine = create_async_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,
        pool_timeout=30,
        pool_use_lifo=True,
        connect_args={
            "timeout": 10,
            "command_timeout": settings.db_statement_timeout_s + 30,
            "server_settings": {
                "application_name": "hae-server",
                "statement_timeout": str(timeout_ms),
                "lock_timeout": "30000",
                "idle_in_transaction_session_timeout": "600000",
                "jit": "off",
            },
        },
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            dbapi_connection.ping()  # runs inside the pool's greenlet: awaits the server
        except Exception as exc:
            # The pool drops this connection and checks out (or opens) another.
            raise DisconnectionError("connection found dead after idling") from exc


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn``, for statements on the hot path: SQLAlchemy's own
    execute costs about 120 us of CPU a statement on top of asyncpg's 100. SQLAlchemy sends BEGIN
    lazily, with the first statement it runs; this begins ``conn``'s transaction first if it has
    not (nothing in autocommit mode), so what is sent here is part of it."""
    adapted: Any = (await conn.get_raw_connection()).dbapi_connection
    if adapted._transaction is None:
        try:
            await adapted._start_transaction()
        except Exception:
            # Not through SQLAlchemy's execute, so nothing would notice a dead connection: it
            # must not go back to the pool.
            await conn.invalidate()
            raise
    return adapted.driver_connection


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, without BEGIN/COMMIT around single statements: for one-statement reads
    and writes, which are atomic (and, once answered, durable) on their own."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
