"""Stored rows -> Health Auto Export JSON objects that re-ingest to the very same rows (pure).

Each function mirrors a normaliser in app.ingest.normalise: every column goes back into the
field it came from, dates in the app's own form in the offset they were recorded in
(``format_date``), JSON kept as sent (``extra``, ``summary``, ``metadata``... are spliced back
from their jsonb text as ``msgspec.Raw``, so no value passes through a float). Fields the
normaliser kept in ``extra`` are written last and win: where a modelled field was kept raw
(a numeric ``valenceClassification``, say), the raw one is what was sent. Localised words
stored as their canonical values go back as they were sent (``originals``, by wire field).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias

import msgspec
from sqlalchemy import RowMapping

from app.ingest.normalise.dates import format_date
from app.query.timerange import fixed
from app.workout import geo

Obj: TypeAlias = dict[str, object]
_object_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])


def _raw(text: str | None) -> msgspec.Raw | None:
    return None if text is None else msgspec.Raw(text.encode())


def _splice(out: Obj, text: str | None) -> Obj:
    """Merge a jsonb object (as text) into ``out``, its values kept as raw JSON."""
    if text is not None:
        out.update(_object_decoder.decode(text))
    return out


def _put(out: Obj, key: str, value: object) -> None:
    if value is not None:
        out[key] = value


def _put_columns(out: Obj, row: RowMapping, fields: Sequence[tuple[str, str]]) -> Obj:
    """``_put`` each (key, column) pair, in order."""
    for key, column in fields:
        _put(out, key, row[column])
    return out


def _date(at: datetime | None, offset: int | None) -> str | None:
    return None if at is None else format_date(at, offset or 0)


def _point(row: RowMapping) -> Obj:
    offset = row["utc_offset_min"]
    out: Obj = {"date": format_date(row["start_at"], offset)}
    _put(out, "end", _date(row["end_at"], offset))
    _put(out, "source", row["source"])
    return out


# --- metrics (series units travel at the series level) -----------------------------------------


def quantity(row: RowMapping) -> Obj:
    out = _point(row)
    _put(out, "qty", row["qty"])
    return _splice(out, row["extra"])


_MIN_AVG_MAX = (("Min", "min"), ("Avg", "avg"), ("Max", "max"))
_HEART_RATE = (*_MIN_AVG_MAX, ("context", "context"))


def heart_rate(row: RowMapping) -> Obj:
    return _put_columns(_point(row), row, _HEART_RATE)


def blood_pressure(row: RowMapping) -> Obj:
    out = _point(row)
    out["systolic"] = row["systolic"]
    out["diastolic"] = row["diastolic"]
    return out


def blood_glucose(row: RowMapping) -> Obj:
    out = _point(row)
    out["qty"] = row["qty"]
    _put(out, "mealTime", row["meal_time"])
    return out


def insulin(row: RowMapping) -> Obj:
    out = _point(row)
    out["qty"] = row["qty"]
    _put(out, "reason", row["reason"])
    return out


def hygiene(row: RowMapping) -> Obj:
    out = _point(row)
    _put(out, "qty", row["qty"])
    _put(out, "value", row["value"])
    return out


_SEXUAL_ACTIVITY = (
    ("Unspecified", "unspecified"),
    ("Protection Used", "protection_used"),
    ("Protection Not Used", "protection_not_used"),
)


def sexual_activity(row: RowMapping) -> Obj:
    return _put_columns(_point(row), row, _SEXUAL_ACTIVITY)


_NIGHT_VALUES = (
    ("asleep", "asleep"),
    ("core", "core"),
    ("deep", "deep"),
    ("rem", "rem"),
    ("awake", "awake"),
    ("inBed", "in_bed"),
    ("totalSleep", "total_sleep"),
)
_NIGHT_BOUNDS = (
    ("sleepStart", "sleep_start_at"),
    ("sleepEnd", "sleep_end_at"),
    ("inBedStart", "in_bed_start_at"),
    ("inBedEnd", "in_bed_end_at"),
)


def sleep_night(row: RowMapping) -> Obj:
    offset = row["utc_offset_min"]
    night: datetime = row["night_at"]
    if row["night_is_date_only"]:
        date: str = f"{night.astimezone(fixed(offset)):%Y-%m-%d}"
    else:
        date = format_date(night, offset)
    out = _put_columns({"date": date}, row, _NIGHT_VALUES)
    offsets: Sequence[int | None] = row["bound_offsets_min"] or [offset] * 4
    for (key, column), bound_offset in zip(_NIGHT_BOUNDS, offsets, strict=True):
        _put(out, key, _date(row[column], bound_offset if bound_offset is not None else offset))
    _put(out, "source", row["source"])
    _put(out, "sleepSource", row["sleep_source"])
    _put(out, "inBedSource", row["in_bed_source"])
    return out


def sleep_segment(row: RowMapping) -> Obj:
    out: Obj = {
        "startDate": format_date(row["start_at"], row["utc_offset_min"]),
        "endDate": format_date(row["end_at"], row["end_offset_min"]),
    }
    _put(out, "qty", row["qty"])
    out["value"] = row["stage"]
    _put(out, "source", row["source"])
    return _splice(out, row["originals"])


# --- workouts ------------------------------------------------------------------------------------


def workout_head(row: RowMapping) -> Obj:
    out: Obj = {}
    _put(out, "id", row["external_id"])
    out["name"] = row["name"]
    out["start"] = format_date(row["start_at"], row["utc_offset_min"])
    out["end"] = format_date(row["end_at"], row["end_offset_min"])
    _put(out, "duration", row["duration_s"])
    _put(out, "location", row["location"])
    _put(out, "isIndoor", row["is_indoor"])
    _put(out, "metadata", _raw(row["metadata"]))
    _splice(out, row["summary"])
    return _splice(out, row["extra"])


_SERIES_POINT = (("qty", "qty"), *_MIN_AVG_MAX, ("units", "unit"), ("source", "source"))


def workout_series_point(row: RowMapping) -> Obj:
    out: Obj = {"date": format_date(row["start_at"], row["utc_offset_min"])}
    return _splice(_put_columns(out, row, _SERIES_POINT), row["extra"])


_ROUTE_FIELDS = (
    ("altitude", "altitude"),
    ("course", "course"),
    ("courseAccuracy", "course_accuracy"),
    ("horizontalAccuracy", "horizontal_accuracy"),
    ("verticalAccuracy", "vertical_accuracy"),
    ("speed", "speed"),
    ("speedAccuracy", "speed_accuracy"),
)


def route_points(row: RowMapping) -> list[Obj]:
    """The v2 route form: latitude, longitude, timestamp and the per-fix values present."""
    fixes = geo.decode_ewkb(bytes(row["ewkb"]))
    offsets: Sequence[int] = row["utc_offsets_min"]
    arrays = [(key, row[column]) for key, column in _ROUTE_FIELDS if row[column] is not None]
    points: list[Obj] = []
    for i, fix in enumerate(fixes):
        point: Obj = {
            "latitude": fix.lat,
            "longitude": fix.lon,
            "timestamp": format_date(geo.fix_time(fix.epoch), offsets[i]),
        }
        for key, values in arrays:
            _put(point, key, values[i])
        points.append(point)
    return points


# --- the event sections --------------------------------------------------------------------------


def _event(row: RowMapping) -> Obj:
    out: Obj = {"start": format_date(row["start_at"], row["utc_offset_min"])}
    _put(out, "end", _date(row["end_at"], row["end_offset_min"]))
    return out


def symptom(row: RowMapping) -> Obj:
    out = _event(row)
    out["name"] = row["name"]
    fields = (("severity", "severity"), ("userEntered", "user_entered"), ("source", "source"))
    _splice(_put_columns(out, row, fields), row["originals"])
    return _splice(out, row["extra"])


_ECG = (
    ("classification", "classification"),
    ("severity", "severity"),
    ("averageHeartRate", "average_heart_rate"),
    ("samplingFrequency", "sampling_frequency_hz"),
    ("numberOfVoltageMeasurements", "number_of_voltage_measurements"),
)


def ecg(row: RowMapping) -> Obj:
    out = _put_columns(_event(row), row, _ECG)
    voltages, times, unit = row["voltages"], row["voltage_times"], row["voltage_unit"]
    if voltages:
        samples: list[Obj] = []
        for at, voltage in zip(times, voltages, strict=True):
            sample: Obj = {"date": at, "voltage": voltage}
            _put(sample, "units", unit)
            samples.append(sample)
        out["voltageMeasurements"] = samples
    _put(out, "source", row["source"])
    return _splice(out, row["extra"])


def heart_rate_notification(row: RowMapping) -> Obj:
    out = _event(row)
    _put(out, "heartNotification", row["kind"])
    _put(out, "threshold", row["threshold"])
    if row["source_identifier"] is not None:
        out["source"] = {"name": row["source"], "identifier": row["source_identifier"]}
    else:
        _put(out, "source", row["source"])
    for column in ("heart_rate_series", "hrv_series"):
        if row[column] is not None:
            series = _object_decoder.decode(row[column])  # {"key": ..., "samples": [...]}
            out[msgspec.json.decode(series["key"])] = series["samples"]
    return _splice(out, row["extra"])


_STATE_OF_MIND = (
    ("id", "external_id"),
    ("kind", "kind"),
    ("labels", "labels"),
    ("associations", "associations"),
    ("valence", "valence"),
    ("valenceClassification", "valence_classification"),
)


def state_of_mind(row: RowMapping) -> Obj:
    out = _put_columns(_event(row), row, _STATE_OF_MIND)
    _put(out, "metadata", _raw(row["metadata"]))
    _splice(out, row["originals"])
    return _splice(out, row["extra"])


_MEDICATION = (
    ("form", "form"),
    ("status", "status"),
    ("isArchived", "is_archived"),
    ("dosage", "dosage"),
)


def medication(row: RowMapping) -> Obj:
    out = _event(row)
    out["displayText"] = row["display_text"]
    _put(out, "nickname", row["nickname"])
    _put(out, "scheduledDate", _date(row["scheduled_at"], row["scheduled_offset_min"]))
    _put_columns(out, row, _MEDICATION)
    _put(out, "codings", _raw(row["codings"]))
    _splice(out, row["originals"])
    return _splice(out, row["extra"])


def cycle_tracking(row: RowMapping) -> Obj:
    out = _event(row)
    out["name"] = row["name"]
    fields = (("value", "value"), ("isCycleStart", "is_cycle_start"), ("source", "source"))
    _splice(_put_columns(out, row, fields), row["originals"])
    return _splice(out, row["extra"])


EVENTS = {
    "symptoms": symptom,
    "ecg": ecg,
    "heartRateNotifications": heart_rate_notification,
    "stateOfMind": state_of_mind,
    "medications": medication,
    "cycleTracking": cycle_tracking,
}
