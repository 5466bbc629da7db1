"""Workouts: the workout row with its summaries, its route, and its series."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from app.ingest.models.shapes import (
    doubles,
    metadata,
    now_column,
    series_table,
    tz,
    user_id_column,
)

# Canonical copies of the headline summaries, for queries across unit preferences.
HEADLINE_COLUMNS = (
    "active_energy_kcal",
    "total_energy_kcal",
    "distance_m",
    "avg_heart_rate",
    "max_heart_rate",
)
# The workout's scalar summary: stored by the ingest, listed by the workout reads.
SUMMARY_COLUMNS = ("duration_s", "location", "is_indoor", *HEADLINE_COLUMNS)
# The per-fix values a route keeps beside its geometry, one array each.
ROUTE_ARRAYS = (
    "speed", "speed_accuracy", "course", "course_accuracy",
    "horizontal_accuracy", "vertical_accuracy", "altitude",
)  # fmt: skip


workouts = Table(
    "workouts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    user_id_column(),
    # v2: the app's workout id; v1 (no id): name|start|end.
    Column("natural_key", Text, nullable=False),
    Column("external_id", Text),
    Column("export_version", SmallInteger, nullable=False),
    Column("name", Text, nullable=False),
    tz("start_at", nullable=False),
    tz("end_at", nullable=False),
    Column("utc_offset_min", SmallInteger, nullable=False),
    Column("end_offset_min", SmallInteger, nullable=False),
    Column("duration_s", Double),
    Column("location", Text),
    Column("is_indoor", Boolean),
    *doubles(*HEADLINE_COLUMNS),
    # Every summary quantity as sent ({key: {qty, units}} and nested heartRate/elevation).
    Column("summary", JSONB, nullable=False),
    Column("metadata", JSONB),
    Column("extra", JSONB),
    Column("ingestion_id", BigInteger, nullable=False),
    now_column("created_at"),
    now_column("updated_at"),
    UniqueConstraint("user_id", "natural_key"),
    CheckConstraint("export_version IN (1, 2)", name="export_version"),
    Index(None, "user_id", "start_at"),
)

workout_routes = Table(
    "workout_routes",
    metadata,
    Column(
        "workout_id",
        UUID(as_uuid=True),
        ForeignKey("workouts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    user_id_column(),
    # LineString M (Point M for a single fix), SRID 4326, M = the fix's time in epoch seconds;
    # altitude and the other per-fix fields are the parallel arrays below.
    Column(
        "geom",
        Geometry(geometry_type="GEOMETRYM", srid=4326, dimension=3, spatial_index=False),
        nullable=False,
    ),
    Column("point_count", Integer, nullable=False),
    Column("utc_offsets_min", ARRAY(SmallInteger), nullable=False),
    *(Column(name, ARRAY(Double)) for name in ROUTE_ARRAYS),
    Column("export_version", SmallInteger, nullable=False),
    Column("ingestion_id", BigInteger, nullable=False),
    Index(None, "geom", postgresql_using="gist"),
    Index(None, "user_id"),
)

workout_series = series_table(
    "workout_series",
    "start_at",
    ("user_id", "workout_id", "series", "start_at", "source"),
    Column("workout_id", UUID(as_uuid=True), nullable=False),
    Column("series", Text, nullable=False),  # heartRateData, heartRateRecovery, activeEnergy...
    tz("start_at", nullable=False),
    Column("utc_offset_min", SmallInteger, nullable=False),
    Column("source", Text),
    *doubles("qty", "min", "avg", "max"),
    Column("unit", Text),
    Column("extra", JSONB),
)
