"""Clients created once per process and disposed on shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from app.auth.service import AuthService
from app.config import Settings
from app.db.engine import create_engine
from app.db.partitions import PartitionManager
from app.ingest import notify
from app.ingest.service import IngestService
from app.observability.health import migration_head
from app.ratelimit.limiter import Limiter


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
    app.state.ingest = IngestService(engine, partitions, settings, redis=redis)
    app.state.migration_head = migration_head()
    # For GET /v1/ingestions/{id}?wait=: connected on first use.
    app.state.finished = notify.Listener(settings.database_url, (notify.FINISHED,))
    try:
        yield
    finally:
        await app.state.finished.close()
        await redis.aclose()
        await engine.dispose()


def create_redis(settings: Settings) -> Redis:
    # Short timeouts: a Redis outage degrades to per-process limits, it never stalls requests.
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=30,
        client_name="hae-server",
    )
