"""Gauges read from the database at scrape time (bounded, cheap queries; throttled)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from sqlalchemy import text

from app.observability import metrics

log = structlog.get_logger(__name__)
_MIN_INTERVAL_S = 10.0
_lock = asyncio.Lock()
_last = 0.0

_QUEUE_SQL = text(
    "SELECT count(*) FILTER (WHERE status IN ('pending', 'processing')) AS pending,"
    " count(*) FILTER (WHERE status = 'failed') AS failed,"
    " extract(epoch FROM now() - min(received_at) FILTER (WHERE status IN ('pending', 'processing')))"
    " AS oldest FROM raw_ingestions WHERE status IN ('pending', 'processing', 'failed')"
)
_SILENT_SQL = text(
    "SELECT count(*) FILTER (WHERE f.last < now() - make_interval(hours => :hours)) FROM ("
    " SELECT d.user_id, max(d.last_ingested_at) AS last FROM data_freshness d"
    " JOIN users u ON u.id = d.user_id WHERE u.disabled_at IS NULL GROUP BY d.user_id) f"
)


async def refresh(state: Any) -> None:
    global _last
    pool = state.engine.pool
    metrics.DB_POOL_SIZE.set(pool.size())
    metrics.DB_POOL_IN_USE.set(pool.checkedout())
    async with _lock:
        if time.monotonic() - _last < _MIN_INTERVAL_S:
            return
        _last = time.monotonic()
        try:
            async with state.engine.connect() as conn:
                queue = (await conn.execute(_QUEUE_SQL)).one()
                metrics.INGESTIONS_PENDING.set(queue.pending)
                metrics.INGESTIONS_FAILED.set(queue.failed)
                metrics.INGESTION_OLDEST_AGE.set(float(queue.oldest or 0.0))
                for hours in metrics.SILENT_HOURS:
                    silent = (await conn.execute(_SILENT_SQL, {"hours": hours})).scalar_one()
                    metrics.USERS_SILENT.labels(hours=str(hours)).set(silent)
        except Exception as exc:
            log.warning("metrics.gauges_unavailable", error_type=type(exc).__name__)


def reset_throttle() -> None:
    global _last
    _last = 0.0
