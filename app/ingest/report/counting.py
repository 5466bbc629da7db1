"""Prometheus figures of ingestion: every point counted once, after its write is committed."""

from __future__ import annotations

from typing import Any

from app.ingest.decode.envelope import EVENT_SECTIONS
from app.observability import metrics
from app.quality import rules
from app.quality.repository import LABEL_PREFIX

_SECTION_LABELS = ("workouts", *EVENT_SECTIONS)
_OUTCOMES = ("inserted", "updated", "unchanged", "rejected")


def count_points(result: dict[str, Any]) -> None:
    sections: list[tuple[str, dict[str, int]]] = [
        ("metrics", c) for c in result["metrics"].values()
    ]
    sections += [(s, result[s]) for s in _SECTION_LABELS if isinstance(result.get(s), dict)]
    for section, counts in sections:
        for outcome in _OUTCOMES:
            if counts.get(outcome):
                metrics.INGEST_POINTS.labels(section=section, outcome=outcome).inc(counts[outcome])
    unnamed = result["totals"]["rejected"] - sum(c.get("rejected", 0) for _, c in sections)
    if unnamed > 0:
        metrics.INGEST_POINTS.labels(section="metrics", outcome="rejected").inc(unnamed)


def count_flags(flagged: list[str]) -> None:
    for metric in flagged:
        if metric.startswith(LABEL_PREFIX):
            metrics.LABELS_UNMAPPED.labels(field=metric.removeprefix(LABEL_PREFIX)).inc()
        else:
            metrics.QUALITY_FLAGGED.labels(metric=rules.family(metric)).inc()


def count_processed(result: dict[str, Any], reasons: dict[str, int], elapsed: float) -> None:
    """A body processed (whatever its status): payload, duration, points, rejection reasons."""
    metrics.INGEST_PAYLOADS.labels(outcome=result["status"]).inc()
    metrics.INGEST_DURATION.observe(elapsed)
    count_points(result)
    for reason, count in reasons.items():
        metrics.INGEST_REJECTIONS.labels(reason=reason).inc(count)
    if result.get("failed"):
        metrics.INGEST_REJECTIONS.labels(reason="storage").inc(len(result["failed"]))


def count_payload(outcome: str) -> None:
    metrics.INGEST_PAYLOADS.labels(outcome=outcome).inc()
