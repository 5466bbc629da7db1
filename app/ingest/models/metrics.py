"""Metric series tables: one row per point, by family (quantity, heart rate, clinical...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Double, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from app.ingest.models.shapes import doubles, point_table


def _quantity_table(name: str) -> Table:
    return point_table(
        name,
        Column("qty", Double),
        Column("unit", Text),
        # qty converted to the metric family's canonical unit (kcal, m, kg, degC, mL, ...).
        Column("qty_canonical", Double),
        # Point fields beyond date/qty/source (HRV beat-to-beat series, unknown metrics' shape).
        Column("extra", JSONB),
        per_metric=True,
    )


def _required_qty(*columns: Any) -> list[Any]:
    """A dose or reading that is the point: no row without it."""
    return [Column("qty", Double, nullable=False), Column("unit", Text), *columns]


# The ~100 single-value metrics, and the cumulative activity ones (steps, energy, distance...),
# which are the bulk of the volume and are summed rather than averaged.
quantity_metrics = _quantity_table("quantity_metrics")
activity_metrics = _quantity_table("activity_metrics")

heart_rate_metrics = point_table(
    "heart_rate_metrics",
    *doubles("min", "avg", "max"),
    Column("unit", Text),
    Column("context", Text),
)

blood_pressure_metrics = point_table(
    "blood_pressure_metrics",
    Column("systolic", Double, nullable=False),
    Column("diastolic", Double, nullable=False),
    Column("unit", Text),
)

blood_glucose_metrics = point_table(
    "blood_glucose_metrics",
    *_required_qty(Column("qty_canonical", Double), Column("meal_time", Text)),  # canonical: mg/dL
)

insulin_metrics = point_table(
    "insulin_metrics", *_required_qty(Column("reason", Text)), key_extra=("reason",)
)

hygiene_events = point_table(
    "hygiene_events",
    Column("qty", Double),
    Column("unit", Text),
    Column("value", Text),
    per_metric=True,
)

sexual_activity_metrics = point_table(
    "sexual_activity_metrics",
    *doubles("unspecified", "protection_used", "protection_not_used"),
    Column("unit", Text),
)
