"""Clinical readings: blood pressure, blood glucose and insulin doses."""

from __future__ import annotations

from typing import Any

from app.ingest.normalise.common import Context, Reject, number
from app.ingest.normalise.metrics.rows import Row, bounds_of, columns, row
from app.ingest.normalise.units import to_canonical
from app.ingest.types import Flag
from app.quality import rules

BLOOD_PRESSURE_COLUMNS = columns("systolic", "diastolic", "unit")
GLUCOSE_COLUMNS = columns("qty", "unit", "qty_canonical", "meal_time")
INSULIN_COLUMNS = columns("qty", "unit", "reason")
BLOOD_PRESSURE_MAX = 400.0


def blood_pressure(point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str) -> Row:
    bounds = bounds_of(point, ctx)
    start = bounds[0]
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
        reason = "diastolic not below systolic is improbable"
        ctx.flags.append(Flag(table, "blood_pressure", start, diastolic, unit, reason))
    return row(ctx, bounds, point.source, systolic, diastolic, unit)


def glucose(point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str) -> Row:
    bounds = bounds_of(point, ctx)
    qty = number(point.qty, "qty", non_negative=True)
    return row(ctx, bounds, point.source, qty, unit, to_canonical(qty, unit), point.mealTime)


def insulin(point: Any, ctx: Context, unit: str | None, _m: int | None, _n: str) -> Row:
    bounds = bounds_of(point, ctx)
    qty = number(point.qty, "qty", non_negative=True)
    return row(ctx, bounds, point.source, qty, unit, point.reason)
