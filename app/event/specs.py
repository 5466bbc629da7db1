"""How each event section is read back: its table, natural-key order, output fields, filters.

Only identifiers from these constants ever reach SQL text. Filters match the stored value,
case-insensitively and exactly: names, severities and statuses arrive localised to the phone's
language, and mapping them to canonical values is a separate step; the parameter names are kept
stable so that the mapping can later widen what each filter matches without changing the API.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Filter:
    """A query parameter matching any of ``columns`` (text), or any element of a text[] column."""

    param: str
    columns: tuple[str, ...]
    array: bool = False


@dataclass(frozen=True, slots=True)
class EventSpec:
    kind: str  # binds cursors to the section they came from
    table: str
    # The natural-key columns after start_at, with their SQL types: the page order (the unique
    # index's order, so a page is an index range scan).
    key: tuple[tuple[str, str], ...]
    # (output name, column) of the values each item carries as stored.
    fields: tuple[tuple[str, str], ...]
    filters: tuple[Filter, ...]
    # Further instants of an item: (output name, column, column of its UTC offset).
    instants: tuple[tuple[str, str, str], ...] = ()
    # Values computed in SQL: (column name it is selected as, expression).
    computed: tuple[tuple[str, str], ...] = ()
    # A metric of quantity_metrics rather than a table of its own.
    metric: str | None = None

    @property
    def select(self) -> tuple[str, ...]:
        """Every expression a page selects."""
        computed = dict(self.computed)
        names = ["start_at", "end_at", "utc_offset_min", "end_offset_min"]
        names += [c for c, _ in self.key]
        names += [c for _, c in self.fields]
        for _, column, offset in self.instants:
            names += [column, offset]
        return tuple(f"{computed[n]} AS {n}" if n in computed else n for n in dict.fromkeys(names))


SYMPTOMS = EventSpec(
    kind="symptoms",
    table="symptoms",
    key=(("end_at", "timestamptz"), ("name", "text"), ("source", "text")),
    fields=(
        ("name", "name"),
        ("severity", "severity"),
        ("user_entered", "user_entered"),
        ("source", "source"),
        ("extra", "extra"),
    ),
    filters=(Filter("name", ("name",)), Filter("severity", ("severity",))),
)

ECG = EventSpec(
    kind="ecg",
    table="ecg_recordings",
    key=(("source", "text"),),
    fields=(
        ("classification", "classification"),
        ("severity", "severity"),
        ("average_heart_rate", "average_heart_rate"),
        ("sampling_frequency_hz", "sampling_frequency_hz"),
        ("number_of_voltage_measurements", "number_of_voltage_measurements"),
        ("voltage_unit", "voltage_unit"),
        ("voltage_count", "voltage_count"),
        ("source", "source"),
        ("extra", "extra"),
    ),
    filters=(Filter("classification", ("classification",)),),
    computed=(("voltage_count", "cardinality(voltages)"),),
)

HEART_RATE_NOTIFICATIONS = EventSpec(
    kind="heart-rate-notifications",
    table="heart_rate_notifications",
    key=(("kind", "text"), ("source", "text")),
    fields=(
        ("kind", "kind"),
        ("threshold", "threshold"),
        ("source", "source"),
        ("source_identifier", "source_identifier"),
        ("heart_rate_count", "heart_rate_count"),
        ("max_heart_rate", "max_heart_rate"),
        ("heart_rate_series", "heart_rate_series"),
        ("hrv_series", "hrv_series"),
        ("extra", "extra"),
    ),
    filters=(Filter("kind", ("kind",)),),
)

STATE_OF_MIND = EventSpec(
    kind="state-of-mind",
    table="state_of_mind",
    key=(("external_id", "text"), ("kind", "text")),
    fields=(
        ("id", "external_id"),
        ("kind", "kind"),
        ("labels", "labels"),
        ("associations", "associations"),
        ("valence", "valence"),
        ("valence_classification", "valence_classification"),
        ("metadata", "metadata"),
        ("extra", "extra"),
    ),
    filters=(
        Filter("kind", ("kind",)),
        Filter("label", ("labels",), array=True),
        Filter("association", ("associations",), array=True),
    ),
)

MEDICATIONS = EventSpec(
    kind="medications",
    table="medications",
    key=(("display_text", "text"), ("scheduled_at", "timestamptz")),
    fields=(
        ("display_text", "display_text"),
        ("nickname", "nickname"),
        ("form", "form"),
        ("status", "status"),
        ("is_archived", "is_archived"),
        ("dosage", "dosage"),
        ("codings", "codings"),
        ("extra", "extra"),
    ),
    # A medication is named by its display text or by the nickname the user gave it.
    filters=(Filter("name", ("display_text", "nickname")), Filter("status", ("status",))),
    instants=(("scheduled", "scheduled_at", "scheduled_offset_min"),),
)

CYCLE_TRACKING = EventSpec(
    kind="cycle-tracking",
    table="cycle_tracking",
    key=(("end_at", "timestamptz"), ("name", "text"), ("source", "text")),
    fields=(
        ("kind", "name"),
        ("value", "value"),
        ("is_cycle_start", "is_cycle_start"),
        ("source", "source"),
        ("extra", "extra"),
    ),
    filters=(Filter("kind", ("name",)),),
)

# Heart-rate-variability points (quantity_metrics) with their beat-to-beat series in ``extra``.
HRV = EventSpec(
    kind="hrv",
    table="quantity_metrics",
    key=(("end_at", "timestamptz"), ("source", "text")),
    fields=(("qty", "qty"), ("unit", "unit"), ("source", "source"), ("extra", "extra")),
    filters=(Filter("source", ("source",)),),
    computed=(("end_offset_min", "CAST(NULL AS smallint)"),),
    metric="heart_rate_variability",
)
