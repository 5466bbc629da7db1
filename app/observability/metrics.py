"""Prometheus metrics. Labels come from closed sets only: never user ids, key ids or paths."""

from __future__ import annotations

from prometheus_client import Counter

REDIS_FALLBACKS = Counter(
    "hae_redis_fallbacks_total",
    "Operations served without Redis (per-process limits, database authentication).",
    ["component"],
)
AUTH_FAILURES = Counter("hae_auth_failures_total", "Failed authentications by reason.", ["reason"])
RATE_LIMITED = Counter(
    "hae_rate_limited_total", "Requests refused by a rate limit, by kind.", ["kind"]
)
