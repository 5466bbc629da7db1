"""A metric we have no mapping for: ``qty`` when it has one, every other field in ``extra``."""

from __future__ import annotations

from typing import Any

from app.ingest.decode import wire
from app.ingest.decode.items import decode_items
from app.ingest.normalise.common import Context, Reject, optional_number, text_or_none, to_json
from app.ingest.normalise.metrics.quantity import QUANTITY_COLUMNS
from app.ingest.normalise.metrics.rows import Row, SeriesResult, build_each, metric_row
from app.ingest.normalise.units import to_canonical
from app.ingest.types import Rows

_GENERIC_SKIP = {"date", "start", "end", "source", "qty"}


def unknown(
    series: wire.MetricSeries, ctx: Context, metric_id: int | None, result: SeriesResult
) -> None:
    name, unit = series.name, series.units
    points, indexes, result.received = decode_items(
        series.data, dict, section="metrics", name=name, errors=result.errors
    )
    out = Rows("quantity_metrics", QUANTITY_COLUMNS)
    build_each(points, indexes, _generic, ctx, (name, unit, metric_id), out, result.errors)
    result.rows.append(out)


def _generic(
    point: dict[str, Any], ctx: Context, unit: str | None, metric_id: int | None, _n: str
) -> Row:
    start, offset = ctx.when(point.get("date", point.get("start")), "date")
    end = ctx.when(point["end"], "end")[0] if point.get("end") is not None else None
    source = text_or_none(point.get("source"), "source")
    qty = optional_number(point.get("qty"), "qty")
    extra = {k: v for k, v in point.items() if k not in _GENERIC_SKIP}
    if qty is None and not extra:
        raise Reject("qty", "missing (the point carries no value)")
    canonical = to_canonical(qty, unit) if qty is not None else None
    return metric_row(
        ctx, metric_id, (start, end, offset), source, qty, unit, canonical, to_json(extra)
    )
