"""Metrics the user logs rather than a sensor measures: hygiene events and sexual activity."""

from __future__ import annotations

from typing import Any

from app.ingest.normalise.common import Context, Reject, optional_number
from app.ingest.normalise.metrics.rows import Row, bounds_of, columns, metric_row, row

HYGIENE_COLUMNS = columns("qty", "unit", "value", per_metric=True)
SEXUAL_ACTIVITY_COLUMNS = columns("unspecified", "protection_used", "protection_not_used", "unit")
_SEXUAL_ACTIVITY_COUNTS = (
    ("unspecified", "Unspecified"),
    ("protection_used", "Protection Used"),
    ("protection_not_used", "Protection Not Used"),
)


def hygiene(point: Any, ctx: Context, unit: str | None, metric_id: int | None, _n: str) -> Row:
    bounds = bounds_of(point, ctx)
    qty = optional_number(point.qty, "qty", non_negative=True)
    if qty is None and point.value is None:
        raise Reject("qty", "missing (neither qty nor value)")
    return metric_row(ctx, metric_id, bounds, point.source, qty, unit, point.value)


def sexual_activity(point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str) -> Row:
    bounds = bounds_of(point, ctx)
    counts = [
        optional_number(getattr(point, attr), label, non_negative=True)
        for attr, label in _SEXUAL_ACTIVITY_COUNTS
    ]
    if all(count is None for count in counts):
        raise Reject("Unspecified", "missing (no count)")
    return row(ctx, bounds, point.source, *counts, unit)
