"""``data.metrics[]``: one series (name, units, points) -> rows for its table(s).

The catalog says which family a metric belongs to; each family has its module (the point's
checks and the row it becomes), and this module sends a series to its family.
"""

from __future__ import annotations

from typing import Any

from app.ingest import catalog
from app.ingest.catalog import Storage
from app.ingest.decode import wire
from app.ingest.decode.items import decode_items
from app.ingest.normalise import sleep
from app.ingest.normalise.common import Context
from app.ingest.normalise.metrics.clinical import (
    BLOOD_PRESSURE_COLUMNS,
    GLUCOSE_COLUMNS,
    INSULIN_COLUMNS,
    blood_pressure,
    glucose,
    insulin,
)
from app.ingest.normalise.metrics.generic import unknown
from app.ingest.normalise.metrics.heart_rate import HEART_RATE_COLUMNS, heart_rate
from app.ingest.normalise.metrics.logged import (
    HYGIENE_COLUMNS,
    SEXUAL_ACTIVITY_COLUMNS,
    hygiene,
    sexual_activity,
)
from app.ingest.normalise.metrics.quantity import QUANTITY_COLUMNS, quantity
from app.ingest.normalise.metrics.rows import Builder, SeriesResult, build_each
from app.ingest.normalise.metrics.stream import (
    CHUNK_POINTS,
    STREAM_MIN_POINTS,
    decode_raw_points,
    fast_rows,
    months_between,
)
from app.ingest.types import Rows

__all__ = [
    "CHUNK_POINTS",
    "HEART_RATE_COLUMNS",
    "QUANTITY_COLUMNS",
    "STREAM_MIN_POINTS",
    "SeriesResult",
    "decode_raw_points",
    "months_between",
    "normalise_series",
    "table_for",
]

_POINT_TYPES: dict[Storage, type[Any]] = {
    Storage.HEART_RATE: wire.HeartRatePoint,
    Storage.BLOOD_PRESSURE: wire.BloodPressurePoint,
    Storage.BLOOD_GLUCOSE: wire.TaggedQuantityPoint,
    Storage.INSULIN: wire.TaggedQuantityPoint,
    Storage.HYGIENE: wire.TaggedQuantityPoint,
    Storage.SEXUAL_ACTIVITY: wire.SexualActivityPoint,
    Storage.SLEEP: wire.SleepPoint,
}

# storage -> (table, its columns, the builder of one point's row)
_FAMILIES: dict[Storage, tuple[str, tuple[str, ...], Builder]] = {
    Storage.QUANTITY: ("quantity_metrics", QUANTITY_COLUMNS, quantity),
    Storage.ACTIVITY: ("activity_metrics", QUANTITY_COLUMNS, quantity),
    Storage.HEART_RATE: ("heart_rate_metrics", HEART_RATE_COLUMNS, heart_rate),
    Storage.BLOOD_PRESSURE: ("blood_pressure_metrics", BLOOD_PRESSURE_COLUMNS, blood_pressure),
    Storage.BLOOD_GLUCOSE: ("blood_glucose_metrics", GLUCOSE_COLUMNS, glucose),
    Storage.INSULIN: ("insulin_metrics", INSULIN_COLUMNS, insulin),
    Storage.HYGIENE: ("hygiene_events", HYGIENE_COLUMNS, hygiene),
    Storage.SEXUAL_ACTIVITY: ("sexual_activity_metrics", SEXUAL_ACTIVITY_COLUMNS, sexual_activity),
}


def normalise_series(
    series: wire.MetricSeries, ctx: Context, metric_id: int | None, known: bool
) -> SeriesResult:
    """Rows for one metric series. ``metric_id`` is required for quantity-like storage."""
    name = series.name
    result = SeriesResult(name=name, known=known)
    if not known:
        unknown(series, ctx, metric_id, result)
        return result
    storage = catalog.storage_for(name)
    if name == "heart_rate_variability":
        point_type: type[Any] = wire.HrvPoint
    else:
        point_type = _POINT_TYPES.get(storage, wire.QuantityPoint)
    is_quantity = storage in (Storage.QUANTITY, Storage.ACTIVITY)
    if (is_quantity and point_type is wire.QuantityPoint) or storage is Storage.HEART_RATE:
        table, columns, _ = _FAMILIES[storage]
        out = Rows(table, columns)
        result.rows.append(out)
        fast_rows(series, point_type, is_quantity, ctx, metric_id, out, result)
        return result
    points, indexes, result.received = decode_items(
        series.data, point_type, section="metrics", name=name, errors=result.errors
    )
    if storage is Storage.SLEEP:
        sleep.normalise(points, indexes, series.units, ctx, result.rows, result.errors)
        return result
    table, columns, build = _FAMILIES[storage]
    out = Rows(table, columns)
    result.rows.append(out)
    series_id = (name, series.units, metric_id)
    build_each(points, indexes, build, ctx, series_id, out, result.errors)
    return result


def table_for(name: str) -> str | None:
    """The one table a series of this metric is written to; None when it may be several."""
    if name not in catalog.KNOWN:
        return "quantity_metrics"
    found = _FAMILIES.get(catalog.storage_for(name))
    return found[0] if found is not None else None
