"""Redis cache of read aggregates (metric list, buckets), keyed by a per-user data generation.

Entries live under ``{prefix}:q:{user}:{generation}:...``. The generation is a row in PostgreSQL
(user_data_generations) that triggers bump in the very transaction that changes the user's data
(an ingestion finished, data erased), so a read that starts after a change was acknowledged
always sees the new generation and never an entry computed before it, whatever happened to
Redis meanwhile. It used to be a Redis counter bumped after the commit: when that INCR was lost
in a Redis stall, reads stayed stale for the entry's whole TTL although the write got its 200.
Reading the generation costs one primary-key lookup, far less than the aggregates it saves.

Entries of an old generation are never read again and simply expire. Redis unavailable: reads
are computed from PostgreSQL, never a 500.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeAlias

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import autocommit
from app.observability import metrics
from app.query import repository as repo

log = structlog.get_logger(__name__)

JsonValue: TypeAlias = (
    str | int | float | bool | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)
Json: TypeAlias = Mapping[str, JsonValue]

DEFAULT_TTL_S = 600
_ERRORS = (RedisError, OSError)


def version_key(prefix: str, user_id: int) -> str:
    """The Redis counter that versioned the cache before the generation moved to PostgreSQL
    (only deleted now, by :meth:`QueryCache.purge`)."""
    return f"{prefix}:ver:{user_id}"


def entries_pattern(prefix: str, user_id: int) -> str:
    return f"{prefix}:q:{user_id}:*"


def _unavailable(operation: str, exc: BaseException) -> None:
    metrics.REDIS_ERRORS.inc()
    metrics.REDIS_FALLBACKS.labels(component="query_cache").inc()
    log.warning("query_cache.redis_unavailable", operation=operation, error_type=type(exc).__name__)


class QueryCache:
    def __init__(
        self,
        redis: Redis | None,
        prefix: str,
        ttl_s: int = DEFAULT_TTL_S,
        *,
        engine: AsyncEngine | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        # Without a database to read the generation from, nothing is cached (deletions use this).
        self._reads = autocommit(engine) if engine is not None else None

    async def get_or_compute(
        self,
        user_id: int,
        kind: str,
        key_parts: Sequence[object],
        compute: Callable[[], Awaitable[Json]],
    ) -> Json:
        """The cached value of this query for the user's current data generation, or ``compute()``."""
        redis = self._redis
        if redis is None or self._reads is None:
            return await compute()
        # Generation read before the data: a result computed from newer data can only be stored
        # under a generation that its change has already left behind, never the reverse.
        async with self._reads.connect() as conn:
            generation = await repo.data_generation(conn, user_id)
        digest = hashlib.sha256("\x1f".join(map(str, key_parts)).encode()).hexdigest()[:32]
        key = f"{self._prefix}:q:{user_id}:{generation}:{kind}:{digest}"
        try:
            hit = await redis.get(key)
        except _ERRORS as exc:
            _unavailable("get", exc)
            return await compute()
        if hit is not None:
            cached: Json = msgspec.json.decode(hit)
            return cached
        value = await compute()
        try:
            await redis.set(key, msgspec.json.encode(value), ex=self._ttl_s)
        except _ERRORS as exc:
            _unavailable("set", exc)
        return value

    async def purge(self, user_id: int) -> int | None:
        """Delete every cache entry of the user and their version; the count, None if Redis is down."""
        if self._redis is None:
            return 0
        try:
            keys = [
                key
                async for key in self._redis.scan_iter(
                    match=entries_pattern(self._prefix, user_id), count=1000
                )
            ]
            deleted = int(await self._redis.delete(*keys)) if keys else 0
            await self._redis.delete(version_key(self._prefix, user_id))
        except _ERRORS as exc:
            _unavailable("purge", exc)
            return None
        return deleted
