"""Single-value metrics (the ~100 quantity ones and the cumulative activity ones)."""

from __future__ import annotations

from typing import Any

from app.ingest import catalog
from app.ingest.decode import wire
from app.ingest.decode.items import decode_any
from app.ingest.normalise.common import Context, number, to_json
from app.ingest.normalise.metrics.rows import Row, bounds_of, columns, metric_row
from app.ingest.normalise.units import to_canonical
from app.quality import rules

QUANTITY_COLUMNS = columns("qty", "unit", "qty_canonical", "extra", per_metric=True)


def quantity(point: Any, ctx: Context, unit: str | None, metric_id: int | None, name: str) -> Row:
    bounds = bounds_of(point, ctx)
    qty = number(point.qty, "qty", non_negative=name in catalog.NON_NEGATIVE)
    if name in rules.CHECKED:
        ctx.check(name, "quantity_metrics", bounds[0], qty, unit, "qty")
    extra = None
    if isinstance(point, wire.HrvPoint) and bytes(point.heartbeatSeries) != b"null":
        extra = to_json({"heartbeatSeries": decode_any(point.heartbeatSeries)})
    return metric_row(
        ctx, metric_id, bounds, point.source, qty, unit, to_canonical(qty, unit), extra
    )
