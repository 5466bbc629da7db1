"""Redis cache of read aggregates (metric list, buckets), keyed by a per-user data version.

Entries live under ``{prefix}:q:{user}:{version}:...``; the version is ``{prefix}:ver:{user}``.
Anything that changes a user's data bumps it (``INCR``), so entries of the old version are never
read again and simply expire.

Safety before the ingest hook is wired: nothing is cached for a user whose version key does not
exist, and only ``invalidate_user`` (the ingest hook) creates it. Our own deletions bump the
version only when it exists. So until IngestService calls ``invalidate_user`` after every
processed payload, no user has a version and every read goes to PostgreSQL; once it does,
caching switches itself on, user by user, and a read after an ingest's 2xx always sees the new
version. Redis unavailable: reads are computed from PostgreSQL, never a 500.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeAlias

import msgspec
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.observability import metrics

log = structlog.get_logger(__name__)

JsonValue: TypeAlias = (
    str | int | float | bool | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)
Json: TypeAlias = Mapping[str, JsonValue]

DEFAULT_TTL_S = 600
_BUMP_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end
return 0
"""
_ERRORS = (RedisError, OSError)


def version_key(prefix: str, user_id: int) -> str:
    return f"{prefix}:ver:{user_id}"


def entries_pattern(prefix: str, user_id: int) -> str:
    return f"{prefix}:q:{user_id}:*"


def _unavailable(operation: str, exc: BaseException) -> None:
    metrics.REDIS_ERRORS.inc()
    metrics.REDIS_FALLBACKS.labels(component="query_cache").inc()
    log.warning("query_cache.redis_unavailable", operation=operation, error_type=type(exc).__name__)


async def invalidate_user(redis: Redis | None, prefix: str, user_id: int) -> None:
    """The ingest hook: every cached aggregate of ``user_id`` is stale from now on.

    Call it after a payload's writes are committed and before its response is sent. Never
    raises: with Redis down there is nothing cached that could be read either."""
    if redis is None:
        return
    try:
        await redis.incr(version_key(prefix, user_id))
    except _ERRORS as exc:
        _unavailable("invalidate", exc)


class QueryCache:
    def __init__(self, redis: Redis | None, prefix: str, ttl_s: int = DEFAULT_TTL_S) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s

    async def get_or_compute(
        self,
        user_id: int,
        kind: str,
        key_parts: Sequence[object],
        compute: Callable[[], Awaitable[Json]],
    ) -> Json:
        """The cached value of this query for the user's current data version, or ``compute()``."""
        redis = self._redis
        if redis is None:
            return await compute()
        try:
            version = await redis.get(version_key(self._prefix, user_id))
        except _ERRORS as exc:
            _unavailable("version", exc)
            return await compute()
        if version is None:
            return await compute()  # ingest hook not active for this user: never cache
        digest = hashlib.sha256("\x1f".join(map(str, key_parts)).encode()).hexdigest()[:32]
        key = f"{self._prefix}:q:{user_id}:{int(version)}:{kind}:{digest}"
        try:
            hit = await redis.get(key)
        except _ERRORS as exc:
            _unavailable("get", exc)
            return await compute()
        if hit is not None:
            cached: Json = msgspec.json.decode(hit)
            return cached
        # Version read before the database: a result computed from older data can only be
        # stored under a version that an invalidation has already left behind.
        value = await compute()
        try:
            await redis.set(key, msgspec.json.encode(value), ex=self._ttl_s)
        except _ERRORS as exc:
            _unavailable("set", exc)
        return value

    async def bump(self, user_id: int) -> bool:
        """After a deletion: a new version if the user has one. False when Redis is down."""
        if self._redis is None:
            return True
        try:
            await self._redis.eval(_BUMP_IF_EXISTS, 1, version_key(self._prefix, user_id))
        except _ERRORS as exc:
            _unavailable("bump", exc)
            return False
        return True

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
