"""Prometheus metrics. Labels come from closed sets only: never user ids, key ids, raw paths or
error messages. Names: ``_total`` counters, ``_seconds`` histograms with explicit buckets."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)

HTTP_REQUESTS = Counter(
    "hae_http_requests_total", "HTTP requests by route template, method and status class.",
    ["route", "method", "status_class"],
)  # fmt: skip
HTTP_DURATION = Histogram(
    "hae_http_request_duration_seconds", "HTTP request duration by route template and method.",
    ["route", "method"], buckets=_LATENCY_BUCKETS,
)  # fmt: skip
HTTP_IN_FLIGHT = Gauge("hae_http_requests_in_flight", "HTTP requests being served.")

INGEST_PAYLOADS = Counter(
    "hae_ingest_payloads_total",
    "Payloads by outcome: processed, duplicate, failed, rejected (not an HAE body), accepted (queued).",
    ["outcome"],
)
INGEST_FALLBACKS = Counter(
    "hae_ingest_single_transaction_fallbacks_total",
    "Small bodies whose one-transaction write failed and were written series by series instead.",
)
INGEST_BYTES = Counter("hae_ingest_bytes_total", "Body bytes received for ingest (decoded).")
INGEST_POINTS = Counter(
    "hae_ingest_points_total", "Records by section and outcome (inserted, updated, unchanged, rejected).",
    ["section", "outcome"],
)  # fmt: skip
INGEST_REJECTIONS = Counter(
    "hae_ingest_rejections_total", "Rejected points by reason class.", ["reason"]
)
INGEST_DURATION = Histogram(
    "hae_ingest_duration_seconds", "Time to process one payload.", buckets=_LATENCY_BUCKETS
)
INGESTIONS_PENDING = Gauge("hae_ingestions_pending", "Raw ingestions waiting or being processed.")
INGESTIONS_FAILED = Gauge("hae_ingestions_failed", "Raw ingestions marked failed (replayable).")
INGESTION_OLDEST_AGE = Gauge(
    "hae_ingestion_oldest_pending_age_seconds", "Age of the oldest raw ingestion still pending."
)

AUTH_FAILURES = Counter("hae_auth_failures_total", "Failed authentications by reason.", ["reason"])
RATE_LIMITED = Counter(
    "hae_rate_limited_total", "Requests refused by a rate limit, by kind.", ["kind"]
)
REDIS_FALLBACKS = Counter(
    "hae_redis_fallbacks_total",
    "Operations served without Redis (per-process limits, database authentication).",
    ["component"],
)
REDIS_ERRORS = Counter("hae_redis_errors_total", "Redis calls that failed.")
DEPENDENCY_UP = Gauge(
    "hae_dependency_up",
    "1 when the last readiness check reached the dependency, 0 when it did not.",
    ["dependency"],
)

DB_POOL_IN_USE = Gauge("hae_db_pool_in_use", "Database connections checked out.")
DB_POOL_SIZE = Gauge("hae_db_pool_size", "Database connection pool size.")

QUALITY_FLAGGED = Counter(
    "hae_quality_flagged_total",
    "Improbable values stored and flagged, by metric family.",
    ["metric"],
)
LABELS_UNMAPPED = Counter(
    "hae_labels_unmapped_total",
    "Localised words no label table knows, stored as sent and flagged, by field.",
    ["field"],
)
USERS_SILENT = Gauge(
    "hae_users_silent", "Active users whose last ingest is older than the given hours.", ["hours"]
)
SILENT_HOURS = (24, 72)
