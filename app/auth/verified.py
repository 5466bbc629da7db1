"""Recently verified (key id, secret) pairs: in process and in Redis (shared by all replicas),
under an HMAC so the secret itself never leaves the process. A hit skips the slow Argon2 check.

Redis has a breaker of its own here: after an error it is left alone for a few seconds, so a hung
Redis costs one timeout, not one per request (the limiter's breaker does not cover this client).
"""

from __future__ import annotations

import hashlib
import hmac
import time

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.observability import metrics

log = structlog.get_logger(__name__)

_LOCAL_MAX = 10_000
BREAKER_S = 5.0


def cache_key(prefix: str, key_id: str) -> str:
    return f"{prefix}:auth:{key_id}"


class VerifiedCache:
    def __init__(self, redis: Redis | None, *, prefix: str, pepper: bytes, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._pepper = pepper
        self._ttl_s = ttl_s
        self._local: dict[str, bytes] = {}
        self._skip_redis_until = 0.0

    def mac(self, key_id: str, secret_hash: str, secret: str) -> bytes:
        # Bound to the stored hash too: a rotated or re-hashed key never matches an old entry.
        message = f"{key_id}\0{secret_hash}\0{secret}".encode()
        return hmac.new(self._pepper, message, hashlib.sha256).digest()

    async def contains(self, key_id: str, mac: bytes) -> bool:
        if self._ttl_s == 0:
            return False
        local = self._local.get(key_id)
        if local is not None and hmac.compare_digest(local, mac):
            return True
        redis = self._usable_redis()
        if redis is None:
            return False
        try:
            shared = await redis.get(cache_key(self._prefix, key_id))
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)
            return False
        if isinstance(shared, bytes) and hmac.compare_digest(shared, mac):
            self._local[key_id] = mac
            return True
        return False

    async def remember(self, key_id: str, mac: bytes) -> None:
        if self._ttl_s == 0:
            return
        if len(self._local) >= _LOCAL_MAX:
            self._local.clear()
        self._local[key_id] = mac
        redis = self._usable_redis()
        if redis is None:
            return
        try:
            await redis.set(cache_key(self._prefix, key_id), mac, ex=self._ttl_s)
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)

    def _usable_redis(self) -> Redis | None:
        if self._redis is None or time.monotonic() < self._skip_redis_until:
            return None
        return self._redis

    def _redis_failed(self, exc: BaseException) -> None:
        self._skip_redis_until = time.monotonic() + BREAKER_S
        metrics.REDIS_ERRORS.inc()
        metrics.REDIS_FALLBACKS.labels(component="auth").inc()
        log.warning("auth.redis_unavailable", error_type=type(exc).__name__)
