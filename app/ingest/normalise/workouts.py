"""``data.workouts[]``, export versions 1 and 2 -> a workout row, its series rows and its route.

v2 workouts carry the app's ``id``; v1 workouts are keyed by name + start + end. Summary
quantities (``{qty, units}``) are kept as sent in ``summary`` with canonical copies of the headline
ones; series (arrays of dated points) go to ``workout_series``; the route becomes a PostGIS
LineString M (M = the fix's time in epoch seconds) with the per-fix fields as parallel arrays.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.ingest.models.workouts import ROUTE_ARRAYS, SUMMARY_COLUMNS
from app.ingest.normalise.common import (
    Context,
    Reject,
    bool_or_none,
    month_of,
    number,
    number_or_none,
    optional_number,
    text_or_none,
    to_json,
)
from app.ingest.normalise.units import canonical
from app.ingest.types import PointError, Workout
from app.quality import rules

WORKOUT_COLUMNS = (
    "user_id", "natural_key", "external_id", "export_version", "name",
    "start_at", "end_at", "utc_offset_min", "end_offset_min",
    *SUMMARY_COLUMNS, "summary", "metadata", "extra", "ingestion_id",
)  # fmt: skip
SERIES_COLUMNS = (
    "user_id", "workout_id", "series", "start_at", "utc_offset_min", "source",
    "qty", "min", "avg", "max", "unit", "extra", "ingestion_id",
)  # fmt: skip
ROUTE_COLUMNS = (
    "workout_id", "user_id", "geom", "point_count", "utc_offsets_min",
    *ROUTE_ARRAYS, "export_version", "ingestion_id",
)  # fmt: skip
_SCALARS = {"id", "name", "start", "end", "duration", "location", "isIndoor", "metadata", "route"}
_SERIES_POINT_KEYS = {"date", "qty", "Min", "Avg", "Max", "units", "source"}
# The route's per-fix fields as sent, in ROUTE_ARRAYS order.
_ROUTE_KEYS = (
    "speed", "speedAccuracy", "course", "courseAccuracy", "horizontalAccuracy",
    "verticalAccuracy", "altitude",
)  # fmt: skip
_ROUTE_FIELDS = tuple(zip(_ROUTE_KEYS, ROUTE_ARRAYS, strict=True))
_EWKB_LINESTRING_M = 0x40000000 | 0x20000000 | 2
_EWKB_POINT_M = 0x40000000 | 0x20000000 | 1


def normalise(index: int, item: Any, ctx: Context, errors: list[PointError]) -> Workout | None:
    """One workout, or None (with the reason in ``errors``) when it cannot be stored."""
    try:
        return _workout(index, item, ctx, errors)
    except Reject as exc:
        errors.append(PointError("workouts", _name_of(item), index, exc.field, exc.reason))
        return None


def _name_of(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return str(item["name"])
    return None


@dataclass(frozen=True, slots=True)
class _Identity:
    """What makes a workout this workout: its name, span and the key it is stored under."""

    name: str
    start: datetime
    end: datetime
    offset: int
    end_offset: int
    external_id: str | None
    version: int
    natural_key: str


def _workout(index: int, item: Any, ctx: Context, errors: list[PointError]) -> Workout:
    if not isinstance(item, dict):
        raise Reject(None, f"expected an object, got {type(item).__name__}")
    who = _identity(item, ctx)
    duration = optional_number(item.get("duration"), "duration", non_negative=True)
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise Reject("metadata", "expected an object")
    summary, extra, series_fields = _split_fields(item)
    distance_m = _canonical_qty(summary, ("distance",), "m")
    row = (
        ctx.user_id, who.natural_key, who.external_id, who.version, who.name,
        who.start, who.end, who.offset, who.end_offset, duration,
        text_or_none(item.get("location"), "location"),
        bool_or_none(item.get("isIndoor"), "isIndoor"),
        _canonical_qty(summary, ("activeEnergyBurned", "activeEnergy"), "kcal"),
        _canonical_qty(summary, ("totalEnergy",), "kcal"),
        distance_m,
        _heart_rate_summary(summary, "avg", "avgHeartRate"),
        _heart_rate_summary(summary, "max", "maxHeartRate"),
        to_json(summary) or "{}",
        to_json(metadata) if metadata is not None else None,
        to_json(extra),
        ctx.ingestion_id,
    )  # fmt: skip
    _check_speed(who, duration, distance_m, ctx)
    workout = Workout(who.natural_key, row)
    for key, points in series_fields:
        _series(workout, index, who.name, key, points, ctx, errors)
    route = item.get("route")
    if route is not None:
        if not isinstance(route, list):
            raise Reject("route", "expected an array")
        workout.route = _route(index, who.name, route, who.version, ctx, errors)
    return workout


def _identity(item: dict[str, Any], ctx: Context) -> _Identity:
    """v2 workouts are keyed by the app's id; v1 ones (no id) by name, start and end."""
    name = text_or_none(item.get("name"), "name")
    if not name:
        raise Reject("name", "missing")
    start, offset = ctx.when(item.get("start"), "start")
    end, end_offset = ctx.when(item.get("end"), "end")
    if end < start:
        raise Reject("end", "workout ends before it starts")
    external_id = text_or_none(item.get("id"), "id")
    if external_id:
        version, natural_key = 2, f"v2:{external_id}"
    else:
        version, natural_key = 1, f"v1:{name}|{start.isoformat()}|{end.isoformat()}"
    return _Identity(name, start, end, offset, end_offset, external_id, version, natural_key)


def _split_fields(
    item: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, list[Any]]]]:
    """The fields beyond the scalars: summaries (objects), extras, and series (arrays)."""
    summary: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    series_fields: list[tuple[str, list[Any]]] = []
    for key, value in item.items():
        if key in _SCALARS:
            continue
        if isinstance(value, list):
            series_fields.append((key, value))
        elif isinstance(value, dict):
            summary[key] = value
        else:
            extra[key] = value
    return summary, extra, series_fields


def _check_speed(
    who: _Identity, duration: float | None, distance_m: float | None, ctx: Context
) -> None:
    seconds = duration if duration else (who.end - who.start).total_seconds()
    if distance_m is not None and seconds > 0:
        speed = distance_m / seconds
        ctx.check(
            "workout_speed", "workouts", who.start, speed, "m/s", "distance", rules.WORKOUT_SPEED
        )


def _canonical_qty(summary: dict[str, Any], keys: tuple[str, ...], unit: str) -> float | None:
    for key in keys:
        value = summary.get(key)
        if isinstance(value, dict):
            qty = number_or_none(value.get("qty"))
            if qty is not None:
                conv = canonical(value.get("units"))
                if conv is not None and conv[0] == unit:
                    return qty * conv[1] + conv[2]
    return None


def _heart_rate_summary(summary: dict[str, Any], part: str, legacy_key: str) -> float | None:
    nested = summary.get("heartRate")
    candidates = [nested.get(part) if isinstance(nested, dict) else None, summary.get(legacy_key)]
    for value in candidates:
        if isinstance(value, dict):
            qty = number_or_none(value.get("qty"))
            if qty is not None:
                return qty
    return None


def _series(
    workout: Workout,
    index: int,
    name: str,
    key: str,
    points: list[Any],
    ctx: Context,
    errors: list[PointError],
) -> None:
    for i, point in enumerate(points):
        try:
            if not isinstance(point, dict):
                raise Reject(None, "expected an object")
            at, offset = ctx.when(point.get("date"), "date")
            qty = optional_number(point.get("qty"), "qty")
            low = optional_number(point.get("Min"), "Min")
            avg = optional_number(point.get("Avg"), "Avg")
            high = optional_number(point.get("Max"), "Max")
            if qty is None and low is None and avg is None and high is None:
                raise Reject("qty", "missing")
            source = text_or_none(point.get("source"), "source")
            unit = text_or_none(point.get("units"), "units")
        except Reject as exc:
            where = f"{key}[{i}]" + (f".{exc.field}" if exc.field else "")
            errors.append(PointError("workouts", name, index, where, exc.reason))
            continue
        extra = {k: v for k, v in point.items() if k not in _SERIES_POINT_KEYS}
        workout.series.append(
            (
                ctx.user_id,
                None,
                key,
                at,
                offset,
                source,
                qty,
                low,
                avg,
                high,
                unit,
                to_json(extra),
                ctx.ingestion_id,
            )
        )
        workout.series_months.add(month_of(at))


def _route(
    index: int, name: str, points: list[Any], version: int, ctx: Context, errors: list[PointError]
) -> tuple[Any, ...] | None:
    coords: list[tuple[float, float, float]] = []
    offsets: list[int] = []
    arrays: dict[str, list[float | None]] = {column: [] for _, column in _ROUTE_FIELDS}
    for i, point in enumerate(points):
        try:
            if not isinstance(point, dict):
                raise Reject(None, "expected an object")
            lat = number(point.get("latitude", point.get("lat")), "latitude")
            lon = number(point.get("longitude", point.get("lon")), "longitude")
            if not -90 <= lat <= 90:
                raise Reject("latitude", "latitude outside -90..90")
            if not -180 <= lon <= 180:
                raise Reject("longitude", "longitude outside -180..180")
            at, offset = ctx.when(point.get("timestamp"), "timestamp")
            values = [optional_number(point.get(key), key) for key, _ in _ROUTE_FIELDS]
        except Reject as exc:
            where = f"route[{i}]" + (f".{exc.field}" if exc.field else "")
            errors.append(PointError("workouts", name, index, where, exc.reason))
            continue
        coords.append((lon, lat, at.timestamp()))
        offsets.append(offset)
        for (_, column), value in zip(_ROUTE_FIELDS, values, strict=True):
            arrays[column].append(value)
    if not coords:
        return None
    return (
        None,
        ctx.user_id,
        ewkb_m(coords),
        len(coords),
        offsets,
        *(
            arrays[column] if any(v is not None for v in arrays[column]) else None
            for _, column in _ROUTE_FIELDS
        ),
        version,
        ctx.ingestion_id,
    )


def ewkb_m(coords: list[tuple[float, float, float]]) -> bytes:
    """Little-endian EWKB, SRID 4326: a PointM for one fix, else a LineStringM."""
    if len(coords) == 1:
        x, y, m = coords[0]
        return struct.pack("<BII3d", 1, _EWKB_POINT_M, 4326, x, y, m)
    flat = [value for coord in coords for value in coord]
    return struct.pack(f"<BIII{len(flat)}d", 1, _EWKB_LINESTRING_M, 4326, len(coords), *flat)
