"""All SQL of the export: server-side cursors over one user's rows, in natural-key order.

Each query streams (``yield_per`` rows at a time) inside the caller's REPEATABLE READ transaction,
so the export is one consistent snapshot and its memory does not grow with the history. JSON
columns are read as text so they are written back byte for byte, never through floats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.query import sql
from app.query.timerange import Bound

FETCH_ROWS = 1000

_POINT = "start_at, end_at, utc_offset_min, source"
_EVENT = "start_at, end_at, utc_offset_min, end_offset_min"
_ORIGINALS = "CAST(originals AS text) AS originals"  # localised words as sent, by wire field


@dataclass(frozen=True, slots=True)
class Source:
    """One table's export query: what to select and in which order."""

    table: str
    columns: str
    order: str
    time_column: str = "start_at"


METRIC_SOURCES: tuple[Source, ...] = (
    Source(
        "quantity_metrics",
        f"metric_id, {_POINT}, qty, unit, CAST(extra AS text) AS extra",
        "metric_id, start_at, end_at, source",
    ),
    Source(
        "activity_metrics",
        f"metric_id, {_POINT}, qty, unit, CAST(extra AS text) AS extra",
        "metric_id, start_at, end_at, source",
    ),
    Source(
        "heart_rate_metrics",
        f"{_POINT}, min, avg, max, unit, context",
        "start_at, end_at, source",
    ),
    Source(
        "blood_pressure_metrics",
        f"{_POINT}, systolic, diastolic, unit",
        "start_at, end_at, source",
    ),
    Source(
        "blood_glucose_metrics",
        f"{_POINT}, qty, unit, meal_time",
        "start_at, end_at, source",
    ),
    Source(
        "insulin_metrics",
        f"{_POINT}, qty, unit, reason",
        "start_at, end_at, source, reason",
    ),
    Source(
        "hygiene_events",
        f"metric_id, {_POINT}, qty, unit, value",
        "metric_id, start_at, end_at, source",
    ),
    Source(
        "sexual_activity_metrics",
        f"{_POINT}, unspecified, protection_used, protection_not_used, unit",
        "start_at, end_at, source",
    ),
    Source(
        "sleep_metrics",
        "night_at, utc_offset_min, night_is_date_only, sleep_start_at, sleep_end_at,"
        " in_bed_start_at, in_bed_end_at, bound_offsets_min, source, sleep_source,"
        " in_bed_source, asleep, core, deep, rem, awake, in_bed, total_sleep, unit",
        "night_at, sleep_start_at, sleep_end_at, source",
        "night_at",
    ),
    Source(
        "sleep_segments",
        f"start_at, end_at, utc_offset_min, end_offset_min, stage, qty, unit, source, {_ORIGINALS}",
        "start_at, end_at, stage, source",
    ),
)

# wire section key -> its table's export query
EVENT_SOURCES: dict[str, Source] = {
    "symptoms": Source(
        "symptoms",
        f"{_EVENT}, name, severity, user_entered, source, {_ORIGINALS},"
        " CAST(extra AS text) AS extra",
        "start_at, end_at, name, source",
    ),
    "ecg": Source(
        "ecg_recordings",
        f"{_EVENT}, classification, severity, average_heart_rate, sampling_frequency_hz,"
        " number_of_voltage_measurements, voltage_unit, voltages, voltage_times, source,"
        " CAST(extra AS text) AS extra",
        "start_at, source",
    ),
    "heartRateNotifications": Source(
        "heart_rate_notifications",
        f"{_EVENT}, kind, threshold, source, source_identifier,"
        " CAST(heart_rate_series AS text) AS heart_rate_series,"
        " CAST(hrv_series AS text) AS hrv_series, CAST(extra AS text) AS extra",
        "start_at, kind, source",
    ),
    "stateOfMind": Source(
        "state_of_mind",
        f"{_EVENT}, external_id, kind, labels, associations, valence, valence_classification,"
        f" CAST(metadata AS text) AS metadata, {_ORIGINALS}, CAST(extra AS text) AS extra",
        "start_at, external_id, kind",
    ),
    "medications": Source(
        "medications",
        f"{_EVENT}, display_text, nickname, scheduled_at, scheduled_offset_min, form, status,"
        " is_archived, dosage, CAST(codings AS text) AS codings,"
        f" {_ORIGINALS}, CAST(extra AS text) AS extra",
        "start_at, display_text, scheduled_at",
    ),
    "cycleTracking": Source(
        "cycle_tracking",
        f"{_EVENT}, name, value, is_cycle_start, source, {_ORIGINALS},"
        " CAST(extra AS text) AS extra",
        "start_at, end_at, name, source",
    ),
}


async def _stream(
    conn: AsyncConnection, statement: str, params: dict[str, object]
) -> AsyncIterator[RowMapping]:
    result = await conn.stream(text(statement), params, execution_options={"yield_per": FETCH_ROWS})
    async for row in result.mappings():
        yield row


async def metric_names(conn: AsyncConnection) -> dict[int, str]:
    rows = await conn.execute(text("SELECT id, name FROM metric_types"))
    return {int(r.id): str(r.name) for r in rows}


def rows(
    conn: AsyncConnection, source: Source, user_id: int, lo: Bound | None, hi: Bound | None
) -> AsyncIterator[RowMapping]:
    params = sql.Params()
    where = [f"user_id = {params.add(user_id)}"]
    where += sql.time_range(source.time_column, "utc_offset_min", lo, hi, params)
    statement = (
        f"SELECT {source.columns} FROM {source.table}"
        f" WHERE {' AND '.join(where)} ORDER BY {source.order}"
    )
    return _stream(conn, statement, params)


def _workout_where(user_id: int, lo: Bound | None, hi: Bound | None, params: sql.Params) -> str:
    where = [f"w.user_id = {params.add(user_id)}"]
    where += sql.time_range("w.start_at", "w.utc_offset_min", lo, hi, params)
    return " AND ".join(where)


def workouts(
    conn: AsyncConnection, user_id: int, lo: Bound | None, hi: Bound | None
) -> AsyncIterator[RowMapping]:
    params = sql.Params()
    statement = (
        "SELECT w.id, w.external_id, w.name, w.start_at, w.end_at, w.utc_offset_min,"
        " w.end_offset_min, w.duration_s, w.location, w.is_indoor,"
        " CAST(w.summary AS text) AS summary, CAST(w.metadata AS text) AS metadata,"
        " CAST(w.extra AS text) AS extra"
        f" FROM workouts w WHERE {_workout_where(user_id, lo, hi, params)}"
        " ORDER BY w.start_at, w.id"
    )
    return _stream(conn, statement, params)


def workout_series(
    conn: AsyncConnection, user_id: int, lo: Bound | None, hi: Bound | None
) -> AsyncIterator[RowMapping]:
    """Every series point of the workouts in range, in the workouts' order: one sorted scan
    instead of a query per workout."""
    params = sql.Params()
    statement = (
        "SELECT s.workout_id, s.series, s.start_at, s.utc_offset_min, s.source, s.qty, s.min,"
        " s.avg, s.max, s.unit, CAST(s.extra AS text) AS extra"
        " FROM workout_series s JOIN workouts w ON w.id = s.workout_id"
        f" WHERE s.user_id = {params.add(user_id)}"
        f" AND {_workout_where(user_id, lo, hi, params)}"
        " ORDER BY w.start_at, w.id, s.series, s.start_at, s.source"
    )
    return _stream(conn, statement, params)


async def route(conn: AsyncConnection, user_id: int, workout_id: UUID) -> RowMapping | None:
    row = await conn.execute(
        text(
            "SELECT ST_AsEWKB(geom) AS ewkb, utc_offsets_min, speed, speed_accuracy, course,"
            " course_accuracy, horizontal_accuracy, vertical_accuracy, altitude"
            " FROM workout_routes WHERE workout_id = :id AND user_id = :u"
        ),
        {"id": workout_id, "u": user_id},
    )
    return row.mappings().one_or_none()
