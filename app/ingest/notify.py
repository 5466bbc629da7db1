"""Wake-ups through PostgreSQL LISTEN/NOTIFY, so nothing waits out a polling interval.

``QUEUED`` is notified (on commit) when a body is archived for the worker; ``FINISHED`` when an
ingestion's outcome is recorded. Notifications are hints only: the row is the truth, and every
waiter re-reads it after waking. When the listening connection is lost, waiters fall back to
their timeouts (the worker's poll interval), and the connection is re-opened on the next wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

log = structlog.get_logger(__name__)

QUEUED = "hae_ingest_queued"
FINISHED = "hae_ingest_finished"
_RETRY_CONNECT_S = 5.0


async def send(conn: AsyncConnection, channel: str, ingestion_id: int) -> None:
    """Notify ``channel`` when the caller's transaction commits (not at all if it rolls back)."""
    await conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": str(ingestion_id)})


def _dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """One LISTEN connection per process; ``wait`` returns on the next notification or timeout."""

    def __init__(self, database_url: str, channels: tuple[str, ...]) -> None:
        self._dsn = _dsn(database_url)
        self._channels = channels
        self._conn: Any = None
        self._events = {c: asyncio.Event() for c in channels}
        self._lock = asyncio.Lock()
        self._next_try = 0.0

    def ticket(self, channel: str) -> asyncio.Event:
        """Take before checking the row: a notification arriving after the check sets it."""
        return self._events[channel]

    def _on_notify(self, _conn: Any, _pid: int, channel: str, _payload: str) -> None:
        event = self._events.get(channel)
        if event is not None:
            self._events[channel] = asyncio.Event()
            event.set()

    def _on_lost(self, _conn: Any) -> None:
        self._conn = None

    async def connect(self) -> bool:
        """Listening (now or already)? A failure is logged and retried after a few seconds."""
        if self._conn is not None and not self._conn.is_closed():
            return True
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_try:
            return False
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return True
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=10, server_settings={"application_name": "hae-listen"}
                )
                for channel in self._channels:
                    await conn.add_listener(channel, self._on_notify)
                conn.add_termination_listener(self._on_lost)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                self._next_try = loop.time() + _RETRY_CONNECT_S
                log.warning("notify.listen_failed", error_type=type(exc).__name__)
                return False
            self._conn = conn
            # Anything notified while nobody listened is lost: wake everyone to re-check.
            for channel in self._channels:
                self._on_notify(None, 0, channel, "")
            return True

    async def wait(self, ticket: asyncio.Event, seconds: float) -> bool:
        """True when notified before ``seconds`` passed."""
        await self.connect()
        try:
            await asyncio.wait_for(ticket.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
