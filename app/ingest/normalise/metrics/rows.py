"""What the metric families share: the series result, a point's bounds, the row and column
shapes every metric table has, and the loop that builds a series' rows point by point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.ingest.normalise.common import Context, Reject, bounded, month_of
from app.ingest.types import PointError, Rows

Row = tuple[Any, ...]
Bounds = tuple[datetime, datetime | None, int]  # start, end, offset
# (point, ctx, unit, metric_id, series name) -> row, or Reject
Builder = Callable[[Any, Context, str | None, int | None, str], Row]


@dataclass(slots=True)
class SeriesResult:
    """One series normalised: its rows by table, and the points it could not store."""

    name: str
    received: int = 0  # points the series held, stored or not
    rows: list[Rows] = field(default_factory=list)
    # One per point left out; the report lists them with the point's index in the series.
    errors: list[PointError] = field(default_factory=list)
    # False for a name without a typed mapping: stored generically, and reported as unknown.
    known: bool = True

    @property
    def rejected(self) -> int:
        return len(self.errors)


def columns(*values: str, per_metric: bool = False) -> tuple[str, ...]:
    """A metric table's columns: the point's bounds and source around the family's values."""
    metric = ("metric_id",) if per_metric else ()
    bounds = ("start_at", "end_at", "utc_offset_min", "source")
    return ("user_id", *metric, *bounds, *values, "ingestion_id")


def row(ctx: Context, bounds: Bounds, source: Any, *values: Any) -> Row:
    """A row of a single-metric table, in ``columns()`` order."""
    return (ctx.user_id, *bounds, _source(source), *values, ctx.ingestion_id)


def metric_row(
    ctx: Context, metric_id: int | None, bounds: Bounds, source: Any, *values: Any
) -> Row:
    """A row of a table several metrics share, in ``columns(per_metric=True)`` order."""
    return (ctx.user_id, metric_id, *bounds, _source(source), *values, ctx.ingestion_id)


def _source(source: Any) -> Any:
    return bounded(source, "source") if isinstance(source, str) else source


def bounds_of(point: Any, ctx: Context) -> Bounds:
    """(start, end, offset) of a point: ``date`` (or ``start`` when only that is sent)."""
    stamp = point.date if point.date is not None else point.start
    start, offset = ctx.when(stamp, "date")
    end = ctx.when(point.end, "end")[0] if point.end is not None else None
    return start, end, offset


def build_each(
    points: list[Any],
    indexes: list[int] | None,
    build: Builder,
    ctx: Context,
    series: tuple[str, str | None, int | None],
    out: Rows,
    errors: list[PointError],
) -> None:
    """Every point's row into ``out``; a point the builder rejects into ``errors``."""
    name, unit, metric_id = series
    start_pos = out.columns.index("start_at")
    for i, point in enumerate(points):
        try:
            built = build(point, ctx, unit, metric_id, name)
        except Reject as exc:
            index = indexes[i] if indexes is not None else i
            errors.append(PointError("metrics", name, index, exc.field, exc.reason))
            continue
        out.rows.append(built)
        out.months.add(month_of(built[start_pos]))
