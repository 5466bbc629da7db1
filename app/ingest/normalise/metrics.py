"""``data.metrics[]``: one series (name, units, points) -> rows for its table(s)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from app.ingest import catalog, wire
from app.ingest.catalog import Storage
from app.ingest.dates import DateError, parse_date
from app.ingest.normalise import fast, sleep
from app.ingest.normalise.common import (
    Context,
    Flag,
    PointError,
    Reject,
    Rows,
    decode_error_reason,
    month_of,
    number,
    optional_number,
    to_json,
)
from app.ingest.normalise.decode import NotAList, decode_any, decode_items
from app.ingest.units import to_canonical
from app.quality import rules

QUANTITY_COLUMNS = (
    "user_id",
    "metric_id",
    "start_at",
    "end_at",
    "utc_offset_min",
    "source",
    "qty",
    "unit",
    "qty_canonical",
    "extra",
    "ingestion_id",
)
HEART_RATE_COLUMNS = (
    "user_id",
    "start_at",
    "end_at",
    "utc_offset_min",
    "source",
    "min",
    "avg",
    "max",
    "unit",
    "context",
    "ingestion_id",
)
BLOOD_PRESSURE_COLUMNS = (
    "user_id",
    "start_at",
    "end_at",
    "utc_offset_min",
    "source",
    "systolic",
    "diastolic",
    "unit",
    "ingestion_id",
)
GLUCOSE_COLUMNS = (
    "user_id",
    "start_at",
    "end_at",
    "utc_offset_min",
    "source",
    "qty",
    "unit",
    "qty_canonical",
    "meal_time",
    "ingestion_id",
)
INSULIN_COLUMNS = (
    "user_id",
    "start_at",
    "end_at",
    "utc_offset_min",
    "source",
    "qty",
    "unit",
    "reason",
    "ingestion_id",
)
HYGIENE_COLUMNS = (
    "user_id",
    "metric_id",
    "start_at",
    "end_at",
    "utc_offset_min",
    "source",
    "qty",
    "unit",
    "value",
    "ingestion_id",
)
SEXUAL_ACTIVITY_COLUMNS = (
    "user_id",
    "start_at",
    "end_at",
    "utc_offset_min",
    "source",
    "unspecified",
    "protection_used",
    "protection_not_used",
    "unit",
    "ingestion_id",
)

# Heart rates outside this range cannot come from a living human's heart.
HEART_RATE_MAX = 400.0
BLOOD_PRESSURE_MAX = 400.0

_POINT_TYPES: dict[Storage, type[Any]] = {
    Storage.HEART_RATE: wire.HeartRatePoint,
    Storage.BLOOD_PRESSURE: wire.BloodPressurePoint,
    Storage.BLOOD_GLUCOSE: wire.TaggedQuantityPoint,
    Storage.INSULIN: wire.TaggedQuantityPoint,
    Storage.HYGIENE: wire.TaggedQuantityPoint,
    Storage.SEXUAL_ACTIVITY: wire.SexualActivityPoint,
    Storage.SLEEP: wire.SleepPoint,
}


@dataclass(slots=True)
class SeriesResult:
    name: str
    received: int = 0
    rows: list[Rows] = field(default_factory=list)
    errors: list[PointError] = field(default_factory=list)
    known: bool = True

    @property
    def rejected(self) -> int:
        return len(self.errors)


def _bounds(point: Any, ctx: Context) -> tuple[Any, Any, int]:
    """(start, end, offset) of a point: ``date`` (or ``start`` when only that is sent)."""
    stamp = point.date if point.date is not None else point.start
    start, offset = ctx.when(stamp, "date")
    end = ctx.when(point.end, "end")[0] if point.end is not None else None
    return start, end, offset


def normalise_series(
    series: wire.MetricSeries, ctx: Context, metric_id: int | None, known: bool
) -> SeriesResult:
    """Rows for one metric series. ``metric_id`` is required for quantity-like storage."""
    name = series.name
    result = SeriesResult(name=name, known=known)
    storage = catalog.storage_for(name) if known else Storage.QUANTITY
    if not known:
        _unknown(series, ctx, metric_id, result)
        return result
    if name == "heart_rate_variability":
        point_type: type[Any] = wire.HrvPoint
    else:
        point_type = _POINT_TYPES.get(storage, wire.QuantityPoint)
    build = _BUILDERS.get(storage)
    table, columns = _TABLES.get(storage, ("", ()))
    unit = series.units
    quantity = storage in (Storage.QUANTITY, Storage.ACTIVITY) and point_type is wire.QuantityPoint
    if quantity or storage is Storage.HEART_RATE:
        out = Rows(table, columns)
        result.rows.append(out)
        _fast(series, point_type, quantity, ctx, metric_id, out, result)
        return result
    points, indexes, result.received = decode_items(
        series.data, point_type, section="metrics", name=name, errors=result.errors
    )
    if storage is Storage.SLEEP:
        sleep.normalise(points, indexes, series.units, ctx, result.rows, result.errors)
        return result
    assert build is not None  # noqa: S101 - every other storage has a builder
    out = Rows(table, columns)
    result.rows.append(out)
    rows, months, errors = out.rows, out.months, result.errors
    start_pos = columns.index("start_at")
    for i, point in enumerate(points):
        try:
            row = build(point, ctx, unit, metric_id, name)
        except Reject as exc:
            index = indexes[i] if indexes is not None else i
            errors.append(PointError("metrics", name, index, exc.field, exc.reason))
            continue
        rows.append(row)
        months.add(month_of(row[start_pos]))
    return result


def _fast(
    series: wire.MetricSeries,
    point_type: type[Any],
    quantity: bool,
    ctx: Context,
    metric_id: int | None,
    out: Rows,
    result: SeriesResult,
) -> None:
    """Plain quantities and heart rates: the tight loops, streamed when the series is large.

    A large series is split into its points' raw JSON (views into the body, ~50 bytes each)
    and decoded ``CHUNK_POINTS`` at a time while it streams, so at most one chunk of decoded
    points is alive however long the series is.
    """
    name, unit, errors = series.name, series.units, result.errors
    raws = decode_raw_points(series.data, name)
    result.received = len(raws)
    mark = len(errors)

    def source() -> Iterator[tuple[Any, ...]]:
        del errors[mark:]  # a re-run must not report its rejections twice
        points = _decoded(raws, point_type, name, errors)
        if quantity:
            return fast.quantity_rows(
                points, out, errors, ctx, name=name, unit=unit, metric_id=metric_id,
                non_negative=name in catalog.NON_NEGATIVE, general=_quantity,
            )  # fmt: skip
        return fast.heart_rate_rows(points, out, errors, ctx, unit=unit, general=_heart_rate)

    hint = _hint(raws, point_type) if len(raws) >= STREAM_MIN_POINTS else None
    if hint is None:
        out.rows.extend(source())
        return
    out.stream, out.hint = source, hint
    out.months.update(months_between(*hint))
    out.key_prefix = {"user_id": ctx.user_id}
    if quantity:
        out.key_prefix["metric_id"] = metric_id


CHUNK_POINTS = 20_000
_raw_points = msgspec.json.Decoder(list[msgspec.Raw])


def decode_raw_points(data: msgspec.Raw, name: str) -> list[msgspec.Raw]:
    """The series' points as raw JSON, [] for an absent or null ``data``."""
    if len(data) <= 8 and bytes(data).strip() == b"null":
        return []
    try:
        return _raw_points.decode(data)
    except msgspec.ValidationError as exc:
        raise NotAList(decode_error_reason(exc)[1]) from None


def _decoded(
    raws: list[msgspec.Raw], point_type: type[Any], name: str, errors: list[PointError]
) -> Iterator[Iterable[tuple[int, Any]]]:
    """Chunks of (index, point) for every point that fits ``point_type``, decoded
    ``CHUNK_POINTS`` at a time; the others are reported in ``errors`` with their index."""
    many = msgspec.json.Decoder(list[point_type])  # type: ignore[valid-type]
    one = msgspec.json.Decoder(point_type)
    for start in range(0, len(raws), CHUNK_POINTS):
        chunk = raws[start : start + CHUNK_POINTS]
        try:
            yield enumerate(many.decode(b"[" + b",".join(chunk) + b"]"), start)
        except msgspec.ValidationError:
            kept: list[tuple[int, Any]] = []
            for offset, raw in enumerate(chunk):
                try:
                    kept.append((start + offset, one.decode(raw)))
                except msgspec.ValidationError as exc:
                    field_name, reason = decode_error_reason(exc)
                    errors.append(PointError("metrics", name, start + offset, field_name, reason))
            yield kept


# Below this a series is simply materialised; above it, it streams into COPY as it is normalised.
STREAM_MIN_POINTS = 20_000
_MAX_HINT_MONTHS = 36


def _hint(raws: list[msgspec.Raw], point_type: type[Any]) -> tuple[datetime, datetime] | None:
    """The time range a large series claims by its first and last points, if they are plain."""
    stamps = []
    for raw in (raws[0], raws[-1]):
        try:
            point = msgspec.json.decode(raw, type=point_type)
        except msgspec.ValidationError:
            return None
        stamp = point.date if point.date is not None else point.start
        if type(stamp) is not str:
            return None
        try:
            stamps.append(parse_date(stamp)[0])
        except DateError:
            return None
    first, last = stamps
    if first > last or (last.year - first.year) * 12 + last.month - first.month > _MAX_HINT_MONTHS:
        return None
    return first, last


def months_between(first: datetime, last: datetime) -> set[tuple[int, int]]:
    months = set()
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.add((year, month))
        year, month = year + month // 12, month % 12 + 1
    return months


def _quantity(
    point: Any, ctx: Context, unit: str | None, metric_id: int | None, name: str
) -> tuple[Any, ...]:
    start, end, offset = _bounds(point, ctx)
    qty = number(point.qty, "qty", non_negative=name in catalog.NON_NEGATIVE)
    if name in rules.CHECKED:
        ctx.check(name, "quantity_metrics", start, qty, unit, "qty")
    extra = None
    if isinstance(point, wire.HrvPoint) and bytes(point.heartbeatSeries) != b"null":
        extra = to_json({"heartbeatSeries": decode_any(point.heartbeatSeries)})
    return (
        ctx.user_id,
        metric_id,
        start,
        end,
        offset,
        point.source,
        qty,
        unit,
        to_canonical(qty, unit),
        extra,
        ctx.ingestion_id,
    )


def _heart_rate(
    point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str
) -> tuple[Any, ...]:
    start, end, offset = _bounds(point, ctx)
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
            ctx.check("heart_rate", "heart_rate_metrics", start, value, unit, field_name)
    return (
        ctx.user_id,
        start,
        end,
        offset,
        point.source,
        low,
        avg,
        high,
        unit,
        point.context,
        ctx.ingestion_id,
    )


def _blood_pressure(
    point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str
) -> tuple[Any, ...]:
    start, end, offset = _bounds(point, ctx)
    systolic = number(point.systolic, "systolic")
    diastolic = number(point.diastolic, "diastolic")
    for field_name, value in (("systolic", systolic), ("diastolic", diastolic)):
        if not 0 < value <= BLOOD_PRESSURE_MAX:
            raise Reject(
                field_name, f"blood pressure outside 0-{BLOOD_PRESSURE_MAX:g} mmHg is impossible"
            )
    table = "blood_pressure_metrics"
    for field_name, value, rule in zip(
        ("systolic", "diastolic"), (systolic, diastolic), rules.BLOOD_PRESSURE, strict=True
    ):
        ctx.check("blood_pressure", table, start, value, unit, field_name, rule)
    if diastolic >= systolic:
        ctx.flags.append(
            Flag(
                table,
                "blood_pressure",
                start,
                diastolic,
                unit,
                "diastolic not below systolic is improbable",
            )
        )
    return (
        ctx.user_id,
        start,
        end,
        offset,
        point.source,
        systolic,
        diastolic,
        unit,
        ctx.ingestion_id,
    )


def _glucose(
    point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str
) -> tuple[Any, ...]:
    start, end, offset = _bounds(point, ctx)
    qty = number(point.qty, "qty", non_negative=True)
    canonical = to_canonical(qty, unit)
    return (
        ctx.user_id,
        start,
        end,
        offset,
        point.source,
        qty,
        unit,
        canonical,
        point.mealTime,
        ctx.ingestion_id,
    )


def _insulin(
    point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str
) -> tuple[Any, ...]:
    start, end, offset = _bounds(point, ctx)
    qty = number(point.qty, "qty", non_negative=True)
    return (
        ctx.user_id,
        start,
        end,
        offset,
        point.source,
        qty,
        unit,
        point.reason,
        ctx.ingestion_id,
    )


def _hygiene(
    point: Any, ctx: Context, unit: str | None, metric_id: int | None, _n: str
) -> tuple[Any, ...]:
    start, end, offset = _bounds(point, ctx)
    qty = optional_number(point.qty, "qty", non_negative=True)
    if qty is None and point.value is None:
        raise Reject("qty", "missing (neither qty nor value)")
    return (
        ctx.user_id,
        metric_id,
        start,
        end,
        offset,
        point.source,
        qty,
        unit,
        point.value,
        ctx.ingestion_id,
    )


def _sexual_activity(
    point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str
) -> tuple[Any, ...]:
    start, end, offset = _bounds(point, ctx)
    counts = [
        optional_number(getattr(point, attr), label, non_negative=True)
        for attr, label in (
            ("unspecified", "Unspecified"),
            ("protection_used", "Protection Used"),
            ("protection_not_used", "Protection Not Used"),
        )
    ]
    if all(count is None for count in counts):
        raise Reject("Unspecified", "missing (no count)")
    return (ctx.user_id, start, end, offset, point.source, *counts, unit, ctx.ingestion_id)


_BUILDERS = {
    Storage.QUANTITY: _quantity,
    Storage.ACTIVITY: _quantity,
    Storage.HEART_RATE: _heart_rate,
    Storage.BLOOD_PRESSURE: _blood_pressure,
    Storage.BLOOD_GLUCOSE: _glucose,
    Storage.INSULIN: _insulin,
    Storage.HYGIENE: _hygiene,
    Storage.SEXUAL_ACTIVITY: _sexual_activity,
}

_TABLES: dict[Storage, tuple[str, tuple[str, ...]]] = {
    Storage.QUANTITY: ("quantity_metrics", QUANTITY_COLUMNS),
    Storage.ACTIVITY: ("activity_metrics", QUANTITY_COLUMNS),
    Storage.HEART_RATE: ("heart_rate_metrics", HEART_RATE_COLUMNS),
    Storage.BLOOD_PRESSURE: ("blood_pressure_metrics", BLOOD_PRESSURE_COLUMNS),
    Storage.BLOOD_GLUCOSE: ("blood_glucose_metrics", GLUCOSE_COLUMNS),
    Storage.INSULIN: ("insulin_metrics", INSULIN_COLUMNS),
    Storage.HYGIENE: ("hygiene_events", HYGIENE_COLUMNS),
    Storage.SEXUAL_ACTIVITY: ("sexual_activity_metrics", SEXUAL_ACTIVITY_COLUMNS),
}

_GENERIC_SKIP = {"date", "start", "end", "source", "qty"}


def _unknown(
    series: wire.MetricSeries, ctx: Context, metric_id: int | None, result: SeriesResult
) -> None:
    """A metric we have no mapping for: ``qty`` when it has one, every other field in ``extra``."""
    name, unit = series.name, series.units
    points, indexes, result.received = decode_items(
        series.data, dict, section="metrics", name=name, errors=result.errors
    )
    out = Rows("quantity_metrics", QUANTITY_COLUMNS)
    for i, point in enumerate(points):
        try:
            stamp = point.get("date", point.get("start"))
            start, offset = ctx.when(stamp, "date")
            end = ctx.when(point["end"], "end")[0] if point.get("end") is not None else None
            source = point.get("source")
            if source is not None and not isinstance(source, str):
                raise Reject("source", "expected a string")
            qty = optional_number(point.get("qty"), "qty")
            extra = {k: v for k, v in point.items() if k not in _GENERIC_SKIP}
            if qty is None and not extra:
                raise Reject("qty", "missing (the point carries no value)")
        except Reject as exc:
            index = indexes[i] if indexes is not None else i
            result.errors.append(PointError("metrics", name, index, exc.field, exc.reason))
            continue
        canonical = to_canonical(qty, unit) if qty is not None else None
        out.rows.append(
            (
                ctx.user_id,
                metric_id,
                start,
                end,
                offset,
                source,
                qty,
                unit,
                canonical,
                to_json(extra),
                ctx.ingestion_id,
            )
        )
        out.months.add(month_of(start))
    result.rows.append(out)


def table_for(name: str) -> str | None:
    """The one table a series of this metric is written to; None when it may be several."""
    if name not in catalog.KNOWN:
        return "quantity_metrics"
    found = _TABLES.get(catalog.storage_for(name))
    return found[0] if found is not None else None
