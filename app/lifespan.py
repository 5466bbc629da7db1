"""Clients created once per process and disposed on shutdown."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth.service import AuthService
from app.config import Settings
from app.db.engine import create_engine
from app.db.partitions import PartitionManager
from app.ingest import notify
from app.ingest.service import IngestService
from app.observability.health import migration_head
from app.ratelimit.limiter import Limiter

log = structlog.get_logger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    redis = create_redis(settings)
    partitions = PartitionManager(engine)
    limiter = Limiter(redis, prefix=f"{settings.redis_prefix}:rl")
    app.state.engine = engine
    app.state.redis = redis
    app.state.partitions = partitions
    app.state.limiter = limiter
    app.state.auth = AuthService(
        engine, settings, redis=redis, limiter=limiter, partitions=partitions
    )
    app.state.ingest = IngestService(engine, partitions, settings)
    app.state.migration_head = migration_head()
    # For GET /v1/ingestions/{id}?wait=: connected on first use.
    app.state.finished = notify.Listener(settings.database_url, (notify.FINISHED,))
    await warm_pool(engine, settings.db_pool_size)
    await maintain_partitions(partitions, settings)
    settle_heap()
    try:
        yield
    finally:
        await app.state.finished.close()
        await redis.aclose()
        await engine.dispose()


async def warm_pool(engine: AsyncEngine, size: int) -> None:
    """Open the pool's connections now, so the first requests after a start do not each pay
    for a connection (and its type set-up) while others wait: a burst of syncs then met
    requests of 300 ms where steady ones take 70. A database that is not there yet is no
    reason to fail the start (readiness reports it); the pool then fills on demand. Each
    connection attempt is bounded by the engine's connect timeout."""

    async def one() -> AsyncConnection:
        return await engine.connect()

    opened = await asyncio.gather(*(one() for _ in range(size)), return_exceptions=True)
    failed = [c for c in opened if isinstance(c, BaseException)]
    for conn in opened:
        if not isinstance(conn, BaseException):
            await conn.close()
    if failed:
        log.warning(
            "db.pool_warm_up_failed", failed=len(failed), error_type=type(failed[0]).__name__
        )


async def maintain_partitions(partitions: PartitionManager, settings: Settings) -> None:
    """Move the partition window with the clock and create the coming months, so requests
    rarely create a partition. A database that is not there yet does not stop the start: the
    request path creates months on demand, and the next start moves the window."""
    try:
        await partitions.maintain(settings.partition_window_years)
    except (DBAPIError, OSError) as exc:
        log.warning("partition.maintenance_failed", error_type=type(exc).__name__)


def settle_heap() -> None:
    """Everything start-up created lives until exit: take it out of the cyclic collector's
    sight. Otherwise each full collection walks it all, a pause of about 100 ms that stalls
    every request in flight (seen as a cluster of slow syncs in the benchmark)."""
    gc.collect()
    gc.freeze()


def create_redis(settings: Settings) -> Redis:
    # Short timeouts: a Redis outage degrades to per-process limits, it never stalls requests.
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
        client_name="hae-server",
    )
