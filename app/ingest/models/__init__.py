"""Storage tables for what the app sends: the storage format, independent of the wire format.

Every time-series table is range-partitioned by month on its time column (partitions created on
demand, a default partition as a net), carries a BRIN index on that column, and has a natural key
that starts with ``user_id`` so the schema can later be distributed by user. The original UTC
offset is kept next to each ``timestamptz`` so the user's local day stays recoverable.

The partitioned tables carry no foreign keys: a per-row FK check would cost the bulk path a
lookup per point. Deleting a user or a workout deletes their rows explicitly.

One module per family of tables; importing this package registers all of them on ``metadata``
(the migrations compare against it), in the order the families are listed here.
"""

from __future__ import annotations

from app.ingest.models.catalog import metric_types
from app.ingest.models.events import (
    cycle_tracking,
    ecg_recordings,
    heart_rate_notifications,
    medications,
    state_of_mind,
    symptoms,
)
from app.ingest.models.metrics import (
    activity_metrics,
    blood_glucose_metrics,
    blood_pressure_metrics,
    heart_rate_metrics,
    hygiene_events,
    insulin_metrics,
    quantity_metrics,
    sexual_activity_metrics,
)
from app.ingest.models.raw import raw_ingestions, series_digests
from app.ingest.models.shapes import PARTITIONED, metadata
from app.ingest.models.sleep import sleep_metrics, sleep_segments
from app.ingest.models.workouts import workout_routes, workout_series, workouts

__all__ = [
    "PARTITIONED",
    "activity_metrics",
    "blood_glucose_metrics",
    "blood_pressure_metrics",
    "cycle_tracking",
    "ecg_recordings",
    "heart_rate_metrics",
    "heart_rate_notifications",
    "hygiene_events",
    "insulin_metrics",
    "medications",
    "metadata",
    "metric_types",
    "quantity_metrics",
    "raw_ingestions",
    "series_digests",
    "sexual_activity_metrics",
    "sleep_metrics",
    "sleep_segments",
    "state_of_mind",
    "symptoms",
    "workout_routes",
    "workout_series",
    "workouts",
]
