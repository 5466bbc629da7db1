"""``sleep_analysis``: the four aggregated field sets -> ``sleep_metrics``, the unaggregated
stage segments -> ``sleep_segments``. A series may mix both; each point goes where its shape says.
"""

from __future__ import annotations

import re
from typing import Any

from app.ingest.normalise.common import Context, Reject, month_of, optional_number
from app.ingest.normalise.dates import DateError, parse_calendar_date
from app.ingest.normalise.labels import SLEEP_STAGE
from app.ingest.normalise.labels.reading import Originals
from app.ingest.types import PointError, Rows
from app.quality import rules

SLEEP_COLUMNS = (
    "user_id",
    "night_at",
    "utc_offset_min",
    "night_is_date_only",
    "sleep_start_at",
    "sleep_end_at",
    "in_bed_start_at",
    "in_bed_end_at",
    "source",
    "sleep_source",
    "in_bed_source",
    "asleep",
    "core",
    "deep",
    "rem",
    "awake",
    "in_bed",
    "total_sleep",
    "unit",
    "bound_offsets_min",
    "ingestion_id",
)
SEGMENT_COLUMNS = (
    "user_id",
    "start_at",
    "end_at",
    "utc_offset_min",
    "end_offset_min",
    "stage",
    "qty",
    "unit",
    "source",
    "originals",
    "ingestion_id",
)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_STAGES = ("asleep", "core", "deep", "rem", "awake", "inBed", "totalSleep")


def normalise(
    points: list[Any],
    indexes: list[int] | None,
    unit: str | None,
    ctx: Context,
    out: list[Rows],
    errors: list[PointError],
) -> None:
    nights = Rows("sleep_metrics", SLEEP_COLUMNS)
    segments = Rows("sleep_segments", SEGMENT_COLUMNS)
    for i, point in enumerate(points):
        try:
            if point.value is not None:
                row = _segment(point, ctx, unit)
                segments.rows.append(row)
                segments.months.add(month_of(row[1]))
            else:
                row = _night(point, ctx, unit)
                nights.rows.append(row)
                nights.months.add(month_of(row[1]))
        except Reject as exc:
            index = indexes[i] if indexes is not None else i
            errors.append(PointError("metrics", "sleep_analysis", index, exc.field, exc.reason))
    out.extend(rows for rows in (nights, segments) if rows.rows)


def _segment(point: Any, ctx: Context, unit: str | None) -> tuple[Any, ...]:
    start_value = point.startDate if point.startDate is not None else point.start
    end_value = point.endDate if point.endDate is not None else point.end
    start, offset = ctx.when(start_value, "startDate")
    end, end_offset = ctx.when(end_value, "endDate")
    if end < start:
        raise Reject("endDate", "segment ends before it starts")
    qty = optional_number(point.qty, "qty", non_negative=True)
    # The stage keyed on is the canonical one: a segment re-sent in another language is one row.
    labels = Originals(ctx, "sleep_segments", "sleep_analysis", start)
    stage = labels.word(SLEEP_STAGE, "value", point.value)
    return (
        ctx.user_id,
        start,
        end,
        offset,
        end_offset,
        stage,
        qty,
        unit,
        point.source,
        labels.json(),
        ctx.ingestion_id,
    )


def _night(point: Any, ctx: Context, unit: str | None) -> tuple[Any, ...]:
    bounds = [
        ctx.maybe_when(getattr(point, name), name)
        for name in ("sleepStart", "sleepEnd", "inBedStart", "inBedEnd")
    ]
    date_only = isinstance(point.date, str) and _DATE_ONLY.fullmatch(point.date.strip()) is not None
    if date_only:
        # Documented (never seen for real): a bare yyyy-MM-dd night, placed at local midnight
        # in the offset of the night's own bounds.
        known = [off for _, off in bounds if off is not None]
        if not known:
            raise Reject("date", "a date without a time needs sleepStart/sleepEnd to place it")
        offset = known[0]
        try:
            night = parse_calendar_date(point.date, offset)
        except DateError as exc:
            raise Reject("date", str(exc)) from None
    else:
        night, offset = ctx.when(point.date, "date")
    values = [optional_number(getattr(point, name), name, non_negative=True) for name in _STAGES]
    if all(value is None for value in values):
        raise Reject("asleep", "missing (no sleep duration)")
    for name, value in zip(_STAGES, values, strict=True):
        if value is not None:
            ctx.check(
                "sleep_analysis", "sleep_metrics", night, value, unit, name, rules.SLEEP_HOURS
            )
    offsets = [off for _, off in bounds]
    bound_offsets = offsets if any(off is not None and off != offset for off in offsets) else None
    return (
        ctx.user_id,
        night,
        offset,
        date_only,
        bounds[0][0],
        bounds[1][0],
        bounds[2][0],
        bounds[3][0],
        point.source,
        point.sleepSource,
        point.inBedSource,
        *values,
        unit,
        bound_offsets,
        ctx.ingestion_id,
    )
