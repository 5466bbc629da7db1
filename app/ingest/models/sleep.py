"""Sleep: the nightly aggregate and the per-stage segments."""

from __future__ import annotations

from sqlalchemy import ARRAY, Boolean, Column, Double, SmallInteger, Text, text

from app.ingest.models.shapes import doubles, originals, series_table, tz

# Nightly aggregated sleep (four historical field sets). UG saw several records for one night
# with the same date and source, so the night's bounds are part of the key.
sleep_metrics = series_table(
    "sleep_metrics",
    "night_at",
    ("user_id", "night_at", "sleep_start_at", "sleep_end_at", "source"),
    tz("night_at", nullable=False),
    Column("utc_offset_min", SmallInteger, nullable=False),
    Column("night_is_date_only", Boolean, nullable=False, server_default=text("false")),
    *(tz(name) for name in ("sleep_start_at", "sleep_end_at", "in_bed_start_at", "in_bed_end_at")),
    *(Column(name, Text) for name in ("source", "sleep_source", "in_bed_source")),
    *doubles("asleep", "core", "deep", "rem", "awake", "in_bed", "total_sleep"),
    Column("unit", Text),
    # Offsets of the bounds when they differ from the night's (a night across a DST change).
    Column("bound_offsets_min", ARRAY(SmallInteger)),
)

# Unaggregated sleep: one row per stage segment (Core, Deep, REM, Awake, InBed, Asleep...), the
# stage canonical whatever the phone's language.
sleep_segments = series_table(
    "sleep_segments",
    "start_at",
    ("user_id", "start_at", "end_at", "stage", "source"),
    tz("start_at", nullable=False),
    tz("end_at", nullable=False),
    Column("utc_offset_min", SmallInteger, nullable=False),
    Column("end_offset_min", SmallInteger, nullable=False),
    Column("stage", Text, nullable=False),
    Column("qty", Double),
    Column("unit", Text),
    Column("source", Text),
    originals(),
)
