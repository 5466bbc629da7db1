"""The event sections' tables: symptoms, ECG, heart-rate notifications, state of mind,
medications and cycle tracking."""

from __future__ import annotations

from sqlalchemy import ARRAY, Boolean, Column, Double, Integer, SmallInteger, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from app.ingest.models.shapes import doubles, event_table, originals, tz


def _named_events(table: str, text_column: str, flag_column: str) -> Table:
    """A log of named occurrences (a symptom, a cycle event): one text and one flag on each."""
    return event_table(
        table,
        ("end_at", "name", "source"),
        Column("name", Text, nullable=False),
        Column(text_column, Text),
        Column(flag_column, Boolean),
        Column("source", Text),
        originals(),
    )


symptoms = _named_events("symptoms", "severity", "user_entered")

ecg_recordings = event_table(
    "ecg_recordings",
    ("source",),
    Column("classification", Text),
    Column("severity", Text),
    *doubles("average_heart_rate", "sampling_frequency_hz"),
    Column("number_of_voltage_measurements", Integer),
    Column("voltage_unit", Text),
    # The voltage series stored compactly: two float8 arrays (TOAST-compressed), not a row per
    # sample; exact, since the app sends 17-digit doubles.
    Column("voltages", ARRAY(Double)),
    Column("voltage_times", ARRAY(Double)),  # epoch seconds, as the app sends them
    Column("source", Text),
)

heart_rate_notifications = event_table(
    "heart_rate_notifications",
    ("kind", "source"),
    Column("kind", Text),
    Column("threshold", Double),
    Column("source", Text),
    Column("source_identifier", Text),
    Column("heart_rate_count", Integer, nullable=False),
    Column("max_heart_rate", Double),
    # Both series exactly as sent (two shapes exist in the wild), for lossless export.
    Column("heart_rate_series", JSONB),
    Column("hrv_series", JSONB),
)

state_of_mind = event_table(
    "state_of_mind",
    ("external_id", "kind"),
    Column("external_id", Text),
    Column("kind", Text),
    *(Column(name, ARRAY(Text)) for name in ("labels", "associations")),
    Column("valence", Double),
    Column("valence_classification", Text),
    Column("metadata", JSONB),
    originals(),
)

medications = event_table(
    "medications",
    ("display_text", "scheduled_at"),
    Column("display_text", Text, nullable=False),
    Column("nickname", Text),
    tz("scheduled_at"),
    Column("scheduled_offset_min", SmallInteger),
    Column("form", Text),
    Column("status", Text),
    Column("is_archived", Boolean),
    Column("dosage", Double),
    Column("codings", JSONB),
    originals(),
)

cycle_tracking = _named_events("cycle_tracking", "value", "is_cycle_start")
