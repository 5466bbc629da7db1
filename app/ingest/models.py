"""Storage tables for what the app sends: the storage format, independent of the wire format.

Every time-series table is range-partitioned by month on its time column (partitions created on
demand, a default partition as a net), carries a BRIN index on that column, and has a natural key
that starts with ``user_id`` so the schema can later be distributed by user. The original UTC
offset is kept next to each ``timestamptz`` so the user's local day stays recoverable.

The partitioned tables carry no foreign keys: a per-row FK check would cost the bulk path a
lookup per point. Deleting a user or a workout deletes their rows explicitly.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from app.db.base import Base

metadata = Base.metadata

# table name -> partition column; the partition helpers and the migrations read this.
PARTITIONED: dict[str, str] = {"audit_log": "occurred_at"}


def _tz(name: str, *, nullable: bool = True) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _series_table(
    name: str, time_column: str, key: tuple[str, ...], *columns: Any, user_index: bool = False
) -> Table:
    """A monthly-partitioned time-series table with the columns every one of them has."""
    PARTITIONED[name] = time_column
    indexes: list[Any] = [Index(None, time_column, postgresql_using="brin")]
    if user_index:
        indexes.append(Index(None, "user_id", time_column))
    return Table(
        name,
        metadata,
        Column("user_id", BigInteger, nullable=False),
        *columns,
        Column("ingestion_id", BigInteger, nullable=False),
        UniqueConstraint(*key, postgresql_nulls_not_distinct=True),
        *indexes,
        postgresql_partition_by=f"RANGE ({time_column})",
    )


def _point_columns() -> list[Column[Any]]:
    return [
        _tz("start_at", nullable=False),
        _tz("end_at"),
        Column("utc_offset_min", SmallInteger, nullable=False),
        Column("source", Text),
    ]


metric_types = Table(
    "metric_types",
    metadata,
    Column("id", SmallInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    # False for names the app sent that we have no typed mapping for: stored, and reported.
    Column("known", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

_QTY_KEY = ("user_id", "metric_id", "start_at", "end_at", "source")


def _quantity_table(name: str) -> Table:
    return _series_table(
        name,
        "start_at",
        _QTY_KEY,
        Column("metric_id", SmallInteger, nullable=False),
        *_point_columns(),
        Column("qty", Double),
        Column("unit", Text),
        # qty converted to the metric family's canonical unit (kcal, m, kg, degC, mL, ...).
        Column("qty_canonical", Double),
        # Point fields beyond date/qty/source (HRV beat-to-beat series, unknown metrics' shape).
        Column("extra", JSONB),
    )


# The ~100 single-value metrics, and the cumulative activity ones (steps, energy, distance...),
# which are the bulk of the volume and are summed rather than averaged.
quantity_metrics = _quantity_table("quantity_metrics")
activity_metrics = _quantity_table("activity_metrics")

heart_rate_metrics = _series_table(
    "heart_rate_metrics",
    "start_at",
    ("user_id", "start_at", "end_at", "source"),
    *_point_columns(),
    Column("min", Double),
    Column("avg", Double),
    Column("max", Double),
    Column("unit", Text),
    Column("context", Text),
)

blood_pressure_metrics = _series_table(
    "blood_pressure_metrics",
    "start_at",
    ("user_id", "start_at", "end_at", "source"),
    *_point_columns(),
    Column("systolic", Double, nullable=False),
    Column("diastolic", Double, nullable=False),
    Column("unit", Text),
)

blood_glucose_metrics = _series_table(
    "blood_glucose_metrics",
    "start_at",
    ("user_id", "start_at", "end_at", "source"),
    *_point_columns(),
    Column("qty", Double, nullable=False),
    Column("unit", Text),
    Column("qty_canonical", Double),  # mg/dL
    Column("meal_time", Text),
)

insulin_metrics = _series_table(
    "insulin_metrics",
    "start_at",
    ("user_id", "start_at", "end_at", "source", "reason"),
    *_point_columns(),
    Column("qty", Double, nullable=False),
    Column("unit", Text),
    Column("reason", Text),
)

hygiene_events = _series_table(
    "hygiene_events",
    "start_at",
    ("user_id", "metric_id", "start_at", "end_at", "source"),
    Column("metric_id", SmallInteger, nullable=False),
    *_point_columns(),
    Column("qty", Double),
    Column("unit", Text),
    Column("value", Text),
)

sexual_activity_metrics = _series_table(
    "sexual_activity_metrics",
    "start_at",
    ("user_id", "start_at", "end_at", "source"),
    *_point_columns(),
    Column("unspecified", Double),
    Column("protection_used", Double),
    Column("protection_not_used", Double),
    Column("unit", Text),
)

# Nightly aggregated sleep (four historical field sets). UG saw several records for one night
# with the same date and source, so the night's bounds are part of the key.
sleep_metrics = _series_table(
    "sleep_metrics",
    "night_at",
    ("user_id", "night_at", "sleep_start_at", "sleep_end_at", "source"),
    _tz("night_at", nullable=False),
    Column("utc_offset_min", SmallInteger, nullable=False),
    Column("night_is_date_only", Boolean, nullable=False, server_default=text("false")),
    _tz("sleep_start_at"),
    _tz("sleep_end_at"),
    _tz("in_bed_start_at"),
    _tz("in_bed_end_at"),
    Column("source", Text),
    Column("sleep_source", Text),
    Column("in_bed_source", Text),
    Column("asleep", Double),
    Column("core", Double),
    Column("deep", Double),
    Column("rem", Double),
    Column("awake", Double),
    Column("in_bed", Double),
    Column("total_sleep", Double),
    Column("unit", Text),
    # Offsets of the bounds when they differ from the night's (a night across a DST change).
    Column("bound_offsets_min", ARRAY(SmallInteger)),
)

# Unaggregated sleep: one row per stage segment (Core, Deep, REM, Awake, InBed, Asleep...).
sleep_segments = _series_table(
    "sleep_segments",
    "start_at",
    ("user_id", "start_at", "end_at", "stage", "source"),
    _tz("start_at", nullable=False),
    _tz("end_at", nullable=False),
    Column("utc_offset_min", SmallInteger, nullable=False),
    Column("end_offset_min", SmallInteger, nullable=False),
    Column("stage", Text, nullable=False),
    Column("qty", Double),
    Column("unit", Text),
    Column("source", Text),
)


def _event_columns() -> list[Column[Any]]:
    return [
        _tz("start_at", nullable=False),
        _tz("end_at"),
        Column("utc_offset_min", SmallInteger, nullable=False),
        Column("end_offset_min", SmallInteger),
    ]


symptoms = _series_table(
    "symptoms",
    "start_at",
    ("user_id", "start_at", "end_at", "name", "source"),
    *_event_columns(),
    Column("name", Text, nullable=False),
    Column("severity", Text),
    Column("user_entered", Boolean),
    Column("source", Text),
    Column("extra", JSONB),
    user_index=True,
)

ecg_recordings = _series_table(
    "ecg_recordings",
    "start_at",
    ("user_id", "start_at", "source"),
    *_event_columns(),
    Column("classification", Text),
    Column("severity", Text),
    Column("average_heart_rate", Double),
    Column("sampling_frequency_hz", Double),
    Column("number_of_voltage_measurements", Integer),
    Column("voltage_unit", Text),
    # The voltage series stored compactly: two float8 arrays (TOAST-compressed), not a row per
    # sample; exact, since the app sends 17-digit doubles.
    Column("voltages", ARRAY(Double)),
    Column("voltage_times", ARRAY(Double)),  # epoch seconds, as the app sends them
    Column("source", Text),
    Column("extra", JSONB),
    user_index=True,
)

heart_rate_notifications = _series_table(
    "heart_rate_notifications",
    "start_at",
    ("user_id", "start_at", "kind", "source"),
    *_event_columns(),
    Column("kind", Text),
    Column("threshold", Double),
    Column("source", Text),
    Column("source_identifier", Text),
    Column("heart_rate_count", Integer, nullable=False),
    Column("max_heart_rate", Double),
    # Both series exactly as sent (two shapes exist in the wild), for lossless export.
    Column("heart_rate_series", JSONB),
    Column("hrv_series", JSONB),
    Column("extra", JSONB),
    user_index=True,
)

state_of_mind = _series_table(
    "state_of_mind",
    "start_at",
    ("user_id", "start_at", "external_id", "kind"),
    *_event_columns(),
    Column("external_id", Text),
    Column("kind", Text),
    Column("labels", ARRAY(Text)),
    Column("associations", ARRAY(Text)),
    Column("valence", Double),
    Column("valence_classification", Text),
    Column("metadata", JSONB),
    Column("extra", JSONB),
    user_index=True,
)

medications = _series_table(
    "medications",
    "start_at",
    ("user_id", "start_at", "display_text", "scheduled_at"),
    *_event_columns(),
    Column("display_text", Text, nullable=False),
    Column("nickname", Text),
    _tz("scheduled_at"),
    Column("scheduled_offset_min", SmallInteger),
    Column("form", Text),
    Column("status", Text),
    Column("is_archived", Boolean),
    Column("dosage", Double),
    Column("codings", JSONB),
    Column("extra", JSONB),
    user_index=True,
)

cycle_tracking = _series_table(
    "cycle_tracking",
    "start_at",
    ("user_id", "start_at", "end_at", "name", "source"),
    *_event_columns(),
    Column("name", Text, nullable=False),
    Column("value", Text),
    Column("is_cycle_start", Boolean),
    Column("source", Text),
    Column("extra", JSONB),
    user_index=True,
)

workouts = Table(
    "workouts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # v2: the app's workout id; v1 (no id): name|start|end.
    Column("natural_key", Text, nullable=False),
    Column("external_id", Text),
    Column("export_version", SmallInteger, nullable=False),
    Column("name", Text, nullable=False),
    _tz("start_at", nullable=False),
    _tz("end_at", nullable=False),
    Column("utc_offset_min", SmallInteger, nullable=False),
    Column("end_offset_min", SmallInteger, nullable=False),
    Column("duration_s", Double),
    Column("location", Text),
    Column("is_indoor", Boolean),
    # Canonical copies of the headline summaries, for queries across unit preferences.
    Column("active_energy_kcal", Double),
    Column("total_energy_kcal", Double),
    Column("distance_m", Double),
    Column("avg_heart_rate", Double),
    Column("max_heart_rate", Double),
    # Every summary quantity as sent ({key: {qty, units}} and nested heartRate/elevation).
    Column("summary", JSONB, nullable=False),
    Column("metadata", JSONB),
    Column("extra", JSONB),
    Column("ingestion_id", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
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
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # LineString M (Point M for a single fix), SRID 4326, M = the fix's time in epoch seconds;
    # altitude and the other per-fix fields are the parallel arrays below.
    Column(
        "geom",
        Geometry(geometry_type="GEOMETRYM", srid=4326, dimension=3, spatial_index=False),
        nullable=False,
    ),
    Column("point_count", Integer, nullable=False),
    Column("utc_offsets_min", ARRAY(SmallInteger), nullable=False),
    Column("speed", ARRAY(Double)),
    Column("speed_accuracy", ARRAY(Double)),
    Column("course", ARRAY(Double)),
    Column("course_accuracy", ARRAY(Double)),
    Column("horizontal_accuracy", ARRAY(Double)),
    Column("vertical_accuracy", ARRAY(Double)),
    Column("altitude", ARRAY(Double)),
    Column("export_version", SmallInteger, nullable=False),
    Column("ingestion_id", BigInteger, nullable=False),
    Index(None, "geom", postgresql_using="gist"),
    Index(None, "user_id"),
)

workout_series = _series_table(
    "workout_series",
    "start_at",
    ("user_id", "workout_id", "series", "start_at", "source"),
    Column("workout_id", UUID(as_uuid=True), nullable=False),
    Column("series", Text, nullable=False),  # heartRateData, heartRateRecovery, activeEnergy...
    _tz("start_at", nullable=False),
    Column("utc_offset_min", SmallInteger, nullable=False),
    Column("source", Text),
    Column("qty", Double),
    Column("min", Double),
    Column("avg", Double),
    Column("max", Double),
    Column("unit", Text),
    Column("extra", JSONB),
)

raw_ingestions = Table(
    "raw_ingestions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("api_key_id", BigInteger),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sha256", LargeBinary, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    # The body exactly as received (after transfer decoding), zstd-compressed.
    Column("body", LargeBinary, nullable=False),
    Column("compression", Text, nullable=False),
    Column("content_type", Text),
    Column("content_encoding", Text),
    Column("headers", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # The raw row is the job: a processor holds it until locked_until (renewed while it works);
    # a crashed one simply lets the lease run out and another takes it over.
    _tz("locked_until"),
    _tz("next_attempt_at"),
    Column("worker", Text),
    Column("report", JSONB),
    Column("error", Text),
    _tz("processed_at"),
    UniqueConstraint("user_id", "sha256"),
    CheckConstraint(
        "status IN ('pending', 'processing', 'processed', 'failed', 'rejected')", name="status"
    ),
    Index(
        None, "status", "received_at", postgresql_where=text("status IN ('pending', 'processing')")
    ),
)

# A large metric series applied before, by the digest of its exact JSON: when the same bytes
# arrive again (the app re-sends whole series on every sync and retry) and every row they stand
# for is still stored as written, the series is answered "unchanged" without being decoded,
# normalised or merged. A row here asserts: each row this series normalises to is stored with
# these values. Writers that update or delete rows of (user, table, series) in a time range
# delete the overlapping digests in the same transaction; ``stored`` (rows of the series' key
# prefix in [first_at, last_at] just after the write) is re-counted before a digest is trusted,
# so a deletion by any other means (an operator's DELETE, a dropped partition) also voids it.
series_digests = Table(
    "series_digests",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("digest", LargeBinary, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("series_id", BigInteger, nullable=False),  # metric_id, 0 for single-metric tables
    _tz("first_at", nullable=False),
    _tz("last_at", nullable=False),
    Column("received", Integer, nullable=False),
    Column("stored", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("user_id", "digest"),
    Index("ix_series_digests_series", "user_id", "table_name", "series_id", "first_at"),
)
