"""Fixed-window budgets, atomic in Redis (one Lua script: exact under any concurrency, on one
replica or many), with a per-process fallback when Redis is unreachable.

A request is admitted when ``used + cost <= limit``; a refused request consumes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.observability import metrics

log = structlog.get_logger(__name__)

# KEYS[i] = bucket i; ARGV[3i-2..3i] = its cost, limit, window (s). Each bucket is judged on
# its own, exactly as if alone; several in one call save round trips. Windows are aligned on the
# Redis clock, so every replica agrees on them. Returns {admitted, used, ms until the window
# resets} for each bucket in turn.
_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local out = {}
for i, bucket in ipairs(KEYS) do
  local cost = tonumber(ARGV[3 * i - 2])
  local limit = tonumber(ARGV[3 * i - 1])
  local window = tonumber(ARGV[3 * i])
  local index = math.floor(tonumber(now[1]) / window)
  local reset_ms = (index + 1) * window * 1000 - now_ms
  local key = bucket .. ':' .. index
  local used = tonumber(redis.call('GET', key) or '0')
  local admitted = 1
  if cost > 0 and used + cost > limit then
    admitted = 0
  else
    if cost > 0 then
      used = redis.call('INCRBY', key, cost)
      if used == cost then redis.call('PEXPIRE', key, window * 1000 + 1000) end
    end
    if used > limit then admitted = 0 end
  end
  out[#out + 1] = admitted
  out[#out + 1] = used
  out[#out + 1] = reset_ms
end
return out
"""
_BREAKER_S = 5.0


@dataclass(frozen=True, slots=True)
class Hit:
    policy: str
    bucket: str
    cost: int
    limit: int
    window_s: int


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
        (decision,) = await self.hit_many([Hit(policy, bucket, cost, limit, window_s)])
        return decision

    async def hit_many(self, hits: Sequence[Hit]) -> list[Decision]:
        """Several independent :meth:`hit` calls in one round trip to Redis."""
        if self._script is not None and time.monotonic() >= self._skip_redis_until:
            try:
                flat = await self._script(
                    keys=[f"{self._prefix}:{h.bucket}" for h in hits],
                    args=[value for h in hits for value in (h.cost, h.limit, h.window_s)],
                )
            except (RedisError, OSError) as exc:
                # Fail open to a per-process limit, never to a 500; retry Redis in a few seconds.
                self._skip_redis_until = time.monotonic() + _BREAKER_S
                metrics.REDIS_ERRORS.inc()
                metrics.REDIS_FALLBACKS.labels(component="ratelimit").inc()
                log.warning("ratelimit.redis_unavailable", error_type=type(exc).__name__)
            else:
                return [
                    Decision(
                        h.policy,
                        bool(flat[3 * i]),
                        h.limit,
                        int(flat[3 * i + 1]),
                        h.window_s,
                        -(-int(flat[3 * i + 2]) // 1000),
                    )
                    for i, h in enumerate(hits)
                ]
        return [
            self._hit_local(h.policy, h.bucket, cost=h.cost, limit=h.limit, window_s=h.window_s)
            for h in hits
        ]

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
