"""Rows of the event tables as JSON items (pure): instants in the offset they were recorded in
(or in ``tz``), ECG ids, and HRV beat-to-beat series typed."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import msgspec
from sqlalchemy import RowMapping

from app.event.specs import ECG, HRV, EventSpec
from app.query.cache import JsonValue
from app.query.timerange import iso

_MAX_ID_LENGTH = 512


def item(row: RowMapping, spec: EventSpec, tz: str | None) -> dict[str, JsonValue]:
    offset = row["utc_offset_min"]
    end_offset = row["end_offset_min"] if row["end_offset_min"] is not None else offset
    out: dict[str, JsonValue] = {
        "start": iso(row["start_at"], offset, tz),
        "end": iso(row["end_at"], end_offset, tz),
    }
    if spec is ECG:
        out["id"] = ecg_id(row["start_at"], row["source"])
    for name, column in spec.fields:
        out[name] = row[column]
    for name, column, offset_column in spec.instants:
        out[name] = iso(row[column], row[offset_column], tz)
    return out


def hrv_item(row: RowMapping, tz: str | None) -> dict[str, JsonValue]:
    """An HRV point with its beat-to-beat series typed; ``extra`` keeps any other field as sent."""
    out = item(row, HRV, tz)
    extra = row["extra"] if isinstance(row["extra"], Mapping) else {}
    series = extra.get("heartbeatSeries")
    out["extra"] = {k: v for k, v in extra.items() if k != "heartbeatSeries"} or None
    out["beats"] = beats(series, row["utc_offset_min"], tz) if series is not None else None
    return out


def beats(series: object, offset_min: int, tz: str | None) -> list[JsonValue]:
    """``[{at, time_since_start_s, preceded_by_gap}]``; a value of the wrong type is null (the
    series is stored as the app sent it, so nothing else about it is guaranteed)."""
    if not isinstance(series, Sequence) or isinstance(series, str):
        return []
    out: list[JsonValue] = []
    for beat in series:
        if not isinstance(beat, Mapping):
            out.append({"at": None, "time_since_start_s": None, "preceded_by_gap": None})
            continue
        gap = beat.get("precededByGap")
        out.append(
            {
                "at": _epoch_iso(beat.get("date"), offset_min, tz),
                "time_since_start_s": _number(beat.get("timeSinceStart")),
                "preceded_by_gap": gap if isinstance(gap, bool) else None,
            }
        )
    return out


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _epoch_iso(value: object, offset_min: int, tz: str | None) -> str | None:
    seconds = _number(value)
    if seconds is None:
        return None
    try:
        return iso(datetime.fromtimestamp(seconds, UTC), offset_min, tz)
    except (OverflowError, OSError, ValueError):
        return None


def ecg_id(start_at: datetime, source: str | None) -> str:
    """An ECG recording's id: its natural key (start, source), opaque to clients."""
    raw = msgspec.json.encode([start_at.astimezone(UTC).isoformat(), source])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_ecg_id(value: str) -> tuple[datetime, str | None] | None:
    """The natural key behind an id, or None when it is not one of ours."""
    if len(value) > _MAX_ID_LENGTH:
        return None
    try:
        doc = msgspec.json.decode(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        start, source = doc
        parsed = datetime.fromisoformat(start)
        if parsed.tzinfo is None:
            return None
        at = parsed.astimezone(UTC)
    except (binascii.Error, ValueError, TypeError, OverflowError, msgspec.DecodeError):
        return None
    if not (source is None or isinstance(source, str)):
        return None
    if source is not None and "\x00" in source:
        return None
    return at, source
