"""The event sections: symptoms, ECG, heart-rate notifications, state of mind, medications and
cycle tracking. Each record -> one row; fields we do not model are kept in ``extra``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.ingest.normalise.common import (
    Context,
    Reject,
    bool_or_none,
    number,
    optional_count,
    optional_number,
    text_or_none,
    to_json,
)
from app.ingest.normalise.labels import (
    CYCLE_VALUE,
    MEDICATION_STATUS,
    MIND_ASSOCIATION,
    MIND_KIND,
    MIND_LABEL,
    MIND_VALENCE,
    SYMPTOM_SEVERITY,
)
from app.ingest.normalise.labels.reading import Originals

Builder = Callable[[dict[str, Any], Context], tuple[Any, ...]]


def _span(item: dict[str, Any], ctx: Context, *, end_required: bool = False) -> tuple[Any, ...]:
    start, offset = ctx.when(item.get("start"), "start")
    if end_required or item.get("end") is not None:
        end, end_offset = ctx.when(item.get("end"), "end")
        if end < start:
            raise Reject("end", "ends before it starts")
    else:
        end, end_offset = None, None
    return start, end, offset, end_offset


def _extra(item: dict[str, Any], modelled: frozenset[str]) -> str | None:
    return to_json({k: v for k, v in item.items() if k not in modelled})


def _required_text(item: dict[str, Any], field_name: str) -> str:
    value = text_or_none(item.get(field_name), field_name)
    if not value:
        raise Reject(field_name, "missing")
    return value


def _columns(*own: str) -> tuple[str, ...]:
    """An event table's columns: the span, the section's own fields, then what we do not model."""
    span = ("start_at", "end_at", "utc_offset_min", "end_offset_min")
    return ("user_id", *span, *own, "extra", "ingestion_id")


def _labelled(*own: str) -> tuple[str, ...]:
    """The columns of an event table with localised words: the words as sent in ``originals``."""
    return _columns(*own, "originals")


def _text_list(value: Any, field_name: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Reject(field_name, "expected an array of strings")
    return value


SYMPTOM_COLUMNS = _labelled("name", "severity", "user_entered", "source")
_SYMPTOM_FIELDS = frozenset({"start", "end", "name", "severity", "userEntered", "source"})


def symptom(item: dict[str, Any], ctx: Context) -> tuple[Any, ...]:
    name = _required_text(item, "name")
    span = _span(item, ctx)
    severity = text_or_none(item.get("severity"), "severity")
    user_entered = bool_or_none(item.get("userEntered"), "userEntered")
    source = text_or_none(item.get("source"), "source")
    labels = Originals(ctx, "symptoms", "symptoms", span[0])
    return (
        ctx.user_id,
        *span,
        name,
        labels.word(SYMPTOM_SEVERITY, "severity", severity),
        user_entered,
        source,
        labels.json(),
        _extra(item, _SYMPTOM_FIELDS),
        ctx.ingestion_id,
    )


ECG_COLUMNS = _columns(
    "classification", "severity", "average_heart_rate", "sampling_frequency_hz",
    "number_of_voltage_measurements", "voltage_unit", "voltages", "voltage_times", "source",
)  # fmt: skip
_ECG_FIELDS = frozenset(
    {"start", "end", "classification", "severity", "averageHeartRate", "samplingFrequency",
     "numberOfVoltageMeasurements", "voltageMeasurements", "source"}
)  # fmt: skip


def ecg(item: dict[str, Any], ctx: Context) -> tuple[Any, ...]:
    measurements = item.get("voltageMeasurements") or []
    if not isinstance(measurements, list):
        raise Reject("voltageMeasurements", "expected an array")
    voltages: list[float] = []
    times: list[float] = []
    units: set[str] = set()
    for i, sample in enumerate(measurements):
        if not isinstance(sample, dict):
            raise Reject(f"voltageMeasurements[{i}]", "expected an object")
        voltage = number(sample.get("voltage"), f"voltageMeasurements[{i}].voltage")
        stamp = sample.get("date")
        if isinstance(stamp, str):
            stamp = ctx.when(stamp, f"voltageMeasurements[{i}].date")[0].timestamp()
        at = number(stamp, f"voltageMeasurements[{i}].date")
        voltages.append(voltage)
        times.append(at)
        if isinstance(sample.get("units"), str):
            units.add(sample["units"])
    if len(units) > 1:
        raise Reject("voltageMeasurements", f"mixed voltage units {sorted(units)}")
    count = optional_count(item.get("numberOfVoltageMeasurements"), "numberOfVoltageMeasurements")
    return (
        ctx.user_id,
        *_span(item, ctx),
        text_or_none(item.get("classification"), "classification"),
        text_or_none(item.get("severity"), "severity"),
        optional_number(item.get("averageHeartRate"), "averageHeartRate", non_negative=True),
        optional_number(item.get("samplingFrequency"), "samplingFrequency", non_negative=True),
        count,
        units.pop() if units else None,
        voltages or None,
        times or None,
        text_or_none(item.get("source"), "source"),
        _extra(item, _ECG_FIELDS),
        ctx.ingestion_id,
    )


HRN_COLUMNS = _columns(
    "kind", "threshold", "source", "source_identifier", "heart_rate_count", "max_heart_rate",
    "heart_rate_series", "hrv_series",
)  # fmt: skip
_HRN_FIELDS = frozenset(
    {"start", "end", "heartNotification", "threshold", "source", "heartRateData", "heartRate",
     "hrvData", "heartRateVariation"}
)  # fmt: skip


def heart_rate_notification(item: dict[str, Any], ctx: Context) -> tuple[Any, ...]:
    # Two shapes exist: the documented (heartRate[{hr}], heartRateVariation[{hrv}]) and the one
    # real payloads carry (heartNotification, heartRateData[{heartRate}], hrvData, source{}).
    hr_key = "heartRateData" if "heartRateData" in item else "heartRate"
    hrv_key = "hrvData" if "hrvData" in item else "heartRateVariation"
    heart_rate = item.get(hr_key)
    hrv = item.get(hrv_key)
    values: list[float] = []
    for key, series, value_keys in (
        (hr_key, heart_rate, ("heartRate", "hr")),
        (hrv_key, hrv, ("hrv",)),
    ):
        if series is None:
            continue
        if not isinstance(series, list):
            raise Reject(key, "expected an array")
        for i, sample in enumerate(series):
            if not isinstance(sample, dict):
                raise Reject(f"{key}[{i}]", "expected an object")
            stamp = sample.get("timestamp")
            if not isinstance(stamp, dict) or "start" not in stamp:
                raise Reject(f"{key}[{i}].timestamp", "missing start")
            ctx.when(stamp["start"], f"{key}[{i}].timestamp.start")
            raw = next((sample[k] for k in value_keys if k in sample), None)
            value = number(raw, f"{key}[{i}].{value_keys[0]}", non_negative=True)
            if key == hr_key and value is not None:
                values.append(value)
    source = item.get("source")
    if isinstance(source, dict):
        source_name = text_or_none(source.get("name"), "source.name")
        source_id = text_or_none(source.get("identifier"), "source.identifier")
    else:
        source_name, source_id = text_or_none(source, "source"), None
    kind = item.get("heartNotification", item.get("kind"))
    return (
        ctx.user_id,
        *_span(item, ctx),
        text_or_none(kind, "heartNotification"),
        optional_number(item.get("threshold"), "threshold"),
        source_name,
        source_id,
        len(values),
        max(values) if values else None,
        to_json({"key": hr_key, "samples": heart_rate}) if heart_rate is not None else None,
        to_json({"key": hrv_key, "samples": hrv}) if hrv is not None else None,
        _extra(item, _HRN_FIELDS),
        ctx.ingestion_id,
    )


STATE_OF_MIND_COLUMNS = _labelled(
    "external_id", "kind", "labels", "associations", "valence", "valence_classification",
    "metadata",
)  # fmt: skip
_SOM_FIELDS = frozenset(
    {
        "start",
        "end",
        "id",
        "kind",
        "labels",
        "associations",
        "valence",
        "valenceClassification",
        "metadata",
    }
)


def state_of_mind(item: dict[str, Any], ctx: Context) -> tuple[Any, ...]:
    valence = optional_number(item.get("valence"), "valence")
    if valence is not None and not -1 <= valence <= 1:
        raise Reject("valence", "valence outside -1..1")
    classification = item.get("valenceClassification")
    modelled = _SOM_FIELDS
    if classification is not None and not isinstance(classification, str):
        # The documented numeric form: kept as sent, in extra.
        classification, modelled = None, _SOM_FIELDS - {"valenceClassification"}
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise Reject("metadata", "expected an object")
    span = _span(item, ctx)
    external_id = text_or_none(item.get("id"), "id")
    kind = text_or_none(item.get("kind"), "kind")
    feelings = _text_list(item.get("labels"), "labels")
    associations = _text_list(item.get("associations"), "associations")
    classification = text_or_none(classification, "valenceClassification")
    labels = Originals(ctx, "state_of_mind", "stateOfMind", span[0])
    return (
        ctx.user_id,
        *span,
        external_id,
        labels.word(MIND_KIND, "kind", kind),
        labels.words(MIND_LABEL, "labels", feelings),
        labels.words(MIND_ASSOCIATION, "associations", associations),
        valence,
        labels.word(MIND_VALENCE, "valenceClassification", classification),
        to_json(metadata),
        labels.json(),
        _extra(item, modelled),
        ctx.ingestion_id,
    )


MEDICATION_COLUMNS = _labelled(
    "display_text", "nickname", "scheduled_at", "scheduled_offset_min", "form", "status",
    "is_archived", "dosage", "codings",
)  # fmt: skip
_MED_FIELDS = frozenset(
    {"start", "end", "displayText", "nickname", "scheduledDate", "form", "status", "isArchived",
     "dosage", "codings"}
)  # fmt: skip


def medication(item: dict[str, Any], ctx: Context) -> tuple[Any, ...]:
    display = _required_text(item, "displayText")
    scheduled, scheduled_offset = ctx.maybe_when(item.get("scheduledDate"), "scheduledDate")
    codings = item.get("codings")
    if codings is not None and not isinstance(codings, list):
        raise Reject("codings", "expected an array")
    span = _span(item, ctx)
    nickname = text_or_none(item.get("nickname"), "nickname")
    form = text_or_none(item.get("form"), "form")
    status = text_or_none(item.get("status"), "status")
    archived = bool_or_none(item.get("isArchived"), "isArchived")
    dosage = optional_number(item.get("dosage"), "dosage", non_negative=True)
    labels = Originals(ctx, "medications", "medications", span[0])
    return (
        ctx.user_id,
        *span,
        display,
        nickname,
        scheduled,
        scheduled_offset,
        form,
        labels.word(MEDICATION_STATUS, "status", status),
        archived,
        dosage,
        to_json(codings),
        labels.json(),
        _extra(item, _MED_FIELDS),
        ctx.ingestion_id,
    )


CYCLE_COLUMNS = _labelled("name", "value", "is_cycle_start", "source")
_CYCLE_FIELDS = frozenset({"start", "end", "name", "value", "isCycleStart", "source"})


def cycle_tracking(item: dict[str, Any], ctx: Context) -> tuple[Any, ...]:
    name = _required_text(item, "name")
    value = item.get("value")
    modelled = _CYCLE_FIELDS
    if value is not None and not isinstance(value, str):
        value, modelled = None, _CYCLE_FIELDS - {"value"}  # kept as sent, in extra
    span = _span(item, ctx)
    value = text_or_none(value, "value")
    cycle_start = bool_or_none(item.get("isCycleStart"), "isCycleStart")
    source = text_or_none(item.get("source"), "source")
    labels = Originals(ctx, "cycle_tracking", "cycleTracking", span[0])
    return (
        ctx.user_id,
        *span,
        name,
        labels.word(CYCLE_VALUE, "value", value),
        cycle_start,
        source,
        labels.json(),
        _extra(item, modelled),
        ctx.ingestion_id,
    )


# section key -> (table, columns, builder)
SECTIONS: dict[str, tuple[str, tuple[str, ...], Builder]] = {
    "symptoms": ("symptoms", SYMPTOM_COLUMNS, symptom),
    "ecg": ("ecg_recordings", ECG_COLUMNS, ecg),
    "heartRateNotifications": ("heart_rate_notifications", HRN_COLUMNS, heart_rate_notification),
    "stateOfMind": ("state_of_mind", STATE_OF_MIND_COLUMNS, state_of_mind),
    "medications": ("medications", MEDICATION_COLUMNS, medication),
    "cycleTracking": ("cycle_tracking", CYCLE_COLUMNS, cycle_tracking),
}
