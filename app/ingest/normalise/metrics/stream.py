"""Plain quantities and heart rates: the tight loops, streamed when the series is large.

A large series is split into its points' raw JSON (views into the body, ~50 bytes each) and
decoded ``CHUNK_POINTS`` at a time while it streams, so at most one chunk of decoded points is
alive however long the series is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import msgspec

from app.ingest import catalog
from app.ingest.decode import wire
from app.ingest.decode.items import NotAList, decode_error_reason
from app.ingest.normalise import fast
from app.ingest.normalise.common import Context
from app.ingest.normalise.dates import DateError, parse_date
from app.ingest.normalise.metrics.heart_rate import heart_rate
from app.ingest.normalise.metrics.quantity import quantity
from app.ingest.normalise.metrics.rows import SeriesResult
from app.ingest.types import PointError, Rows

CHUNK_POINTS = 20_000
# Below this a series is simply materialised; above it, it streams into COPY as it is normalised.
STREAM_MIN_POINTS = 20_000
_MAX_HINT_MONTHS = 36
_raw_points = msgspec.json.Decoder(list[msgspec.Raw])


def fast_rows(
    series: wire.MetricSeries,
    point_type: type[Any],
    is_quantity: bool,
    ctx: Context,
    metric_id: int | None,
    out: Rows,
    result: SeriesResult,
) -> None:
    """The series' rows into ``out``: materialised, or as a stream with its time-range hint."""
    name, unit, errors = series.name, series.units, result.errors
    raws = decode_raw_points(series.data, name)
    result.received = len(raws)
    mark = len(errors)

    def source() -> Iterator[tuple[Any, ...]]:
        del errors[mark:]  # a re-run must not report its rejections twice
        points = _decoded(raws, point_type, name, errors)
        if is_quantity:
            return fast.quantity_rows(
                points, out, errors, ctx, name=name, unit=unit, metric_id=metric_id,
                non_negative=name in catalog.NON_NEGATIVE, general=quantity,
            )  # fmt: skip
        return fast.heart_rate_rows(points, out, errors, ctx, unit=unit, general=heart_rate)

    hint = _hint(raws, point_type) if len(raws) >= STREAM_MIN_POINTS else None
    if hint is None:
        out.rows.extend(source())
        return
    out.stream, out.hint = source, hint
    out.months.update(months_between(*hint))
    out.key_prefix = {"user_id": ctx.user_id}
    if is_quantity:
        out.key_prefix["metric_id"] = metric_id


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
