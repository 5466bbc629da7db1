"""How each metric is read back: its table, its value columns, and how buckets aggregate it.

Cumulative metrics (app.ingest.catalog.CUMULATIVE: steps, energy, distance, nutrition...) are
summed; discrete ones (heart rate, weight, SpO2...) give min / avg / max. Quantities with a
canonical copy (``qty_canonical``) are aggregated in the unit they were sent in when a bucket holds
one unit, and in the family's canonical unit when it mixes several (kcal and kJ, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.ingest import catalog
from app.ingest.catalog import Storage

Aggregation = Literal["sum", "range"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    storage: Storage
    table: str
    by_metric_id: bool
    # Stored value columns, output under the same names in raw points.
    values: tuple[str, ...]
    aggregation: Aggregation
    # Columns summed (sum) or given min/avg/max (range) in buckets.
    aggregated: tuple[str, ...]
    canonical: bool = False  # has qty_canonical beside qty
    extra_key: tuple[str, ...] = ()  # natural-key columns after (start, end, source)
    cumulative: bool = False

    @property
    def bucket_columns(self) -> tuple[str, ...]:
        """Output columns of a bucket, in CSV order."""
        head = ("start", "count")
        if self.aggregation == "sum":
            if self.aggregated == ("qty",):
                return (*head, "unit", "sum")
            return (*head, *self.aggregated)
        if self.aggregated == ("qty",) or self.storage is Storage.HEART_RATE:
            return (*head, "unit", "min", "avg", "max")
        return (
            *head,
            "unit",
            *(f"{c}_{a}" for c in self.aggregated for a in ("min", "avg", "max")),
        )

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """Output columns of a raw point, in CSV order."""
        extra = ("qty_canonical",) if self.canonical else ()
        return ("start", "end", "source", *self.values, *extra)


def _spec(
    storage: Storage,
    table: str,
    aggregated: tuple[str, ...],
    *,
    cumulative: bool,
    annotations: tuple[str, ...] = (),
    by_metric_id: bool = False,
    canonical: bool = False,
    extra_key: tuple[str, ...] = (),
) -> MetricSpec:
    """A metric's spec: its points hold the aggregated columns, the unit, then annotations (which
    buckets leave out); cumulative metrics are summed, others given min / avg / max."""
    return MetricSpec(
        storage=storage,
        table=table,
        by_metric_id=by_metric_id,
        values=(*aggregated, "unit", *annotations),
        aggregation="sum" if cumulative else "range",
        aggregated=aggregated,
        canonical=canonical,
        extra_key=extra_key,
        cumulative=cumulative,
    )


_SPECIAL: dict[Storage, MetricSpec] = {
    spec.storage: spec
    for spec in (
        _spec(
            Storage.HEART_RATE,
            "heart_rate_metrics",
            ("min", "avg", "max"),
            annotations=("context",),
            cumulative=False,
        ),
        _spec(
            Storage.BLOOD_PRESSURE,
            "blood_pressure_metrics",
            ("systolic", "diastolic"),
            cumulative=False,
        ),
        _spec(
            Storage.BLOOD_GLUCOSE,
            "blood_glucose_metrics",
            ("qty",),
            annotations=("meal_time",),
            canonical=True,
            cumulative=False,
        ),
        _spec(
            Storage.INSULIN,
            "insulin_metrics",
            ("qty",),
            annotations=("reason",),
            extra_key=("reason",),
            cumulative=True,
        ),
        _spec(
            Storage.HYGIENE,
            "hygiene_events",
            ("qty",),
            annotations=("value",),
            by_metric_id=True,
            cumulative=True,
        ),
        _spec(
            Storage.SEXUAL_ACTIVITY,
            "sexual_activity_metrics",
            ("unspecified", "protection_used", "protection_not_used"),
            cumulative=True,
        ),
    )
}

SLEEP = "sleep_analysis"


def spec_for(name: str, known: bool) -> MetricSpec | None:
    """The read spec of a metric name; None for sleep, which is read at /v1/sleep."""
    storage = catalog.storage_for(name) if known else Storage.QUANTITY
    if storage is Storage.SLEEP:
        return None
    special = _SPECIAL.get(storage)
    if special is not None:
        return special
    table = "activity_metrics" if storage is Storage.ACTIVITY else "quantity_metrics"
    cumulative = name in catalog.CUMULATIVE
    return _spec(storage, table, ("qty",), by_metric_id=True, canonical=True, cumulative=cumulative)


# Tables whose rows are metrics, with the name they are listed under when not by metric_id.
METRIC_TABLES: tuple[tuple[str, str | None, str], ...] = (
    ("quantity_metrics", None, "start_at"),
    ("activity_metrics", None, "start_at"),
    ("heart_rate_metrics", "heart_rate", "start_at"),
    ("blood_pressure_metrics", "blood_pressure", "start_at"),
    ("blood_glucose_metrics", "blood_glucose", "start_at"),
    ("insulin_metrics", "insulin_delivery", "start_at"),
    ("hygiene_events", None, "start_at"),
    ("sexual_activity_metrics", "sexual_activity", "start_at"),
    ("sleep_metrics", SLEEP, "night_at"),
    ("sleep_segments", SLEEP, "start_at"),
)


def describe(name: str, known: bool) -> tuple[str, str]:
    """(kind, aggregation) of a metric for the metric list."""
    spec = spec_for(name, known)
    if spec is None:
        return "sleep", "nights"
    kind = "cumulative" if spec.cumulative else "discrete"
    return kind, "sum" if spec.aggregation == "sum" else "min/avg/max"
