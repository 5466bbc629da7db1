"""Fixed-window budgets, atomic in Redis (one Lua script: exact under any concurrency, on one
replica or many), with a per-process fallback when Redis is unreachable.

A request is admitted when ``used + cost <= limit``; a refused request consumes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.observability import metrics

log = structlog.get_logger(__name__)

# KEYS[1] = bucket; ARGV = cost, limit, window (s). Windows are aligned on the Redis clock, so
# every replica agrees on them. Returns {admitted, used, ms until the window resets}.
_SCRIPT = """
local now = redis.call('TIME')
local window = tonumber(ARGV[3])
local index = math.floor(tonumber(now[1]) / window)
local reset_ms = (index + 1) * window * 1000 - (tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
local key = KEYS[1] .. ':' .. index
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', key) or '0')
if cost > 0 and used + cost > limit then
  return {0, used, reset_ms}
end
if cost > 0 then
  used = redis.call('INCRBY', key, cost)
  if used == cost then redis.call('PEXPIRE', key, window * 1000 + 1000) end
end
if used > limit then
  return {0, used, reset_ms}
end
return {1, used, reset_ms}
"""
_BREAKER_S = 5.0


@dataclass(frozen=True, slots=True)
class Decision:
    policy: str
    allowed: bool
    limit: int
    used: int
    window_s: int
    reset_s: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class Limiter:
    def __init__(self, redis: Redis | None, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT) if redis is not None else None
        self._local: dict[tuple[str, int], int] = {}
        self._skip_redis_until = 0.0

    async def hit(
        self, policy: str, bucket: str, *, cost: int, limit: int, window_s: int
    ) -> Decision:
        """Consume ``cost`` from ``bucket`` if it fits; ``cost=0`` only reads the state."""
        if self._script is not None and time.monotonic() >= self._skip_redis_until:
            try:
                admitted, used, reset_ms = await self._script(
                    keys=[f"{self._prefix}:{bucket}"], args=[cost, limit, window_s]
                )
            except (RedisError, OSError) as exc:
                # Fail open to a per-process limit, never to a 500; retry Redis in a few seconds.
                self._skip_redis_until = time.monotonic() + _BREAKER_S
                metrics.REDIS_ERRORS.inc()
                metrics.REDIS_FALLBACKS.labels(component="ratelimit").inc()
                log.warning("ratelimit.redis_unavailable", error_type=type(exc).__name__)
            else:
                return Decision(
                    policy, bool(admitted), limit, int(used), window_s, -(-int(reset_ms) // 1000)
                )
        return self._hit_local(policy, bucket, cost=cost, limit=limit, window_s=window_s)

    def _hit_local(
        self, policy: str, bucket: str, *, cost: int, limit: int, window_s: int
    ) -> Decision:
        now = time.time()
        index = int(now // window_s)
        reset_s = max(1, int((index + 1) * window_s - now))
        key = (f"{bucket}:{window_s}", index)
        used = self._local.get(key, 0)
        if cost > 0 and used + cost > limit:
            return Decision(policy, False, limit, used, window_s, reset_s)
        used += cost
        if cost > 0:
            if len(self._local) > 100_000:
                self._prune(now)
            self._local[key] = used
        return Decision(policy, used <= limit, limit, used, window_s, reset_s)

    def _prune(self, now: float) -> None:
        for bucket, index in list(self._local):
            window_s = int(bucket.rsplit(":", 1)[1])
            if (index + 1) * window_s < now:
                del self._local[(bucket, index)]


def policy_headers(decisions: list[Decision]) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` (IETF httpapi ratelimit-headers draft)."""
    if not decisions:
        return {}
    return {
        "RateLimit-Policy": ", ".join(
            f'"{d.policy}";q={d.limit};w={d.window_s}' for d in decisions
        ),
        "RateLimit": ", ".join(f'"{d.policy}";r={d.remaining};t={d.reset_s}' for d in decisions),
    }
