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
# KEYS = buckets, ARGV[2i-1..2i] = limit and window (s) of bucket i. All or nothing: one unit is
# taken from every bucket only if each has room, so concurrent callers can never overshoot a
# limit. Returns {1, key...} (the window keys taken from, to give the units back) or {0, i, used,
# ms until reset} naming the first full bucket.
_RESERVE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local taken = {}
for i, bucket in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local index = math.floor(tonumber(now[1]) / window)
  local key = bucket .. ':' .. index
  local used = tonumber(redis.call('GET', key) or '0')
  if used + 1 > limit then
    return {0, i, used, (index + 1) * window * 1000 - now_ms}
  end
  taken[i] = key
end
for i, key in ipairs(taken) do
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, tonumber(ARGV[2 * i]) * 1000 + 1000)
  end
end
return {1, unpack(taken)}
"""
# Gives back a unit to each window key a reservation took it from (an expired key stays gone).
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
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


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units taken by :meth:`Limiter.reserve`: kept (a confirmed use) or given back."""

    redis_keys: tuple[str, ...] = ()
    local_keys: tuple[tuple[str, int], ...] = ()


class Refused(Exception):
    """A reservation found ``decision``'s bucket full."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.policy)
        self.decision = decision


class Limiter:
    def __init__(self, redis: Redis | None, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT) if redis is not None else None
        self._reserve = redis.register_script(_RESERVE) if redis is not None else None
        self._release = redis.register_script(_RELEASE) if redis is not None else None
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
        if self._script is not None and self._redis_usable():
            try:
                flat = await self._script(
                    keys=[f"{self._prefix}:{h.bucket}" for h in hits],
                    args=[value for h in hits for value in (h.cost, h.limit, h.window_s)],
                )
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
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

    async def reserve(self, hits: Sequence[Hit]) -> Reservation:
        """One unit from every bucket of ``hits`` at once, or :class:`Refused` taking nothing.

        Unlike a read before and a write after, no number of concurrent callers can get past a
        limit: the check and the take are one step (one script in Redis, no await locally)."""
        if self._reserve is not None and self._redis_usable():
            try:
                out = await self._reserve(
                    keys=[f"{self._prefix}:{h.bucket}" for h in hits],
                    args=[value for h in hits for value in (h.limit, h.window_s)],
                )
            except (RedisError, OSError) as exc:
                self._redis_failed(exc)
            else:
                if int(out[0]) == 1:
                    return Reservation(redis_keys=tuple(_text(k) for k in out[1:]))
                full = hits[int(out[1]) - 1]
                raise Refused(_refusal(full, int(out[2]), -(-int(out[3]) // 1000)))
        return self._reserve_local(hits)

    async def release(self, reservation: Reservation) -> None:
        """Give back what ``reservation`` took (the use it stood for did not count)."""
        for key in reservation.local_keys:
            if self._local.get(key, 0) > 0:
                self._local[key] -= 1
        if not reservation.redis_keys or self._release is None or not self._redis_usable():
            return
        try:
            await self._release(keys=list(reservation.redis_keys))
        except (RedisError, OSError) as exc:
            self._redis_failed(exc)

    def _redis_usable(self) -> bool:
        return time.monotonic() >= self._skip_redis_until

    def _redis_failed(self, exc: BaseException) -> None:
        # Fail open to a per-process limit, never to a 500; retry Redis in a few seconds.
        self._skip_redis_until = time.monotonic() + _BREAKER_S
        metrics.REDIS_ERRORS.inc()
        metrics.REDIS_FALLBACKS.labels(component="ratelimit").inc()
        log.warning("ratelimit.redis_unavailable", error_type=type(exc).__name__)

    def _reserve_local(self, hits: Sequence[Hit]) -> Reservation:
        now = time.time()
        keys = []
        for h in hits:
            index = int(now // h.window_s)
            key = (f"{h.bucket}:{h.window_s}", index)
            used = self._local.get(key, 0)
            if used + 1 > h.limit:
                reset_s = max(1, int((index + 1) * h.window_s - now))
                raise Refused(_refusal(h, used, reset_s))
            keys.append(key)
        if len(self._local) > 100_000:
            self._prune(now)
        for key in keys:
            self._local[key] = self._local.get(key, 0) + 1
        return Reservation(local_keys=tuple(keys))

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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _refusal(hit: Hit, used: int, reset_s: int) -> Decision:
    return Decision(hit.policy, False, hit.limit, used, hit.window_s, max(1, reset_s))


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
