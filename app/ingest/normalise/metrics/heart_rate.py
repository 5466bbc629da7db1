"""Heart rate: min / avg / max per point (a raw sample sent as a plain quantity is all three)."""

from __future__ import annotations

from typing import Any

from app.ingest.normalise.common import Context, Reject, number, optional_number
from app.ingest.normalise.metrics.rows import Row, bounds_of, columns, row

HEART_RATE_COLUMNS = columns("min", "avg", "max", "unit", "context")
# Heart rates outside this range cannot come from a living human's heart.
HEART_RATE_MAX = 400.0


def heart_rate(point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str) -> Row:
    bounds = bounds_of(point, ctx)
    if point.min is None and point.avg is None and point.max is None:
        # A raw sample sent as a plain quantity: one beat rate, so min = avg = max.
        qty = number(point.qty, "Avg")
        low: float | None = qty
        avg: float | None = qty
        high: float | None = qty
    else:
        low = optional_number(point.min, "Min")
        avg = optional_number(point.avg, "Avg")
        high = optional_number(point.max, "Max")
    for field_name, value in (("Min", low), ("Avg", avg), ("Max", high)):
        if value is not None and not 0 < value <= HEART_RATE_MAX:
            raise Reject(field_name, f"a heart rate outside 0-{HEART_RATE_MAX:g} is impossible")
    if low is not None and high is not None and low > high:
        raise Reject("Min", "Min is greater than Max")
    for field_name, value in (("Min", low), ("Avg", avg), ("Max", high)):
        if value is not None:
            ctx.check("heart_rate", "heart_rate_metrics", bounds[0], value, unit, field_name)
    return row(ctx, bounds, point.source, low, avg, high, unit, point.context)
