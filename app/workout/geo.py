"""Workout routes as data: EWKB decoding, GeoJSON (RFC 7946) and GPX 1.1 rendering (pure).

A stored route is a PostGIS LineString M (a Point M for a single fix), SRID 4326, M = the fix's
time in epoch seconds, with per-fix arrays (altitude, speed, course, accuracies) beside it.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.query.timerange import iso

GPX_NS = "http://www.topografix.com/GPX/1/1"
GPX_MEDIA_TYPE = "application/gpx+xml"
GEOJSON_MEDIA_TYPE = "application/geo+json"

_Z, _M, _SRID = 0x80000000, 0x40000000, 0x20000000
PER_FIX = (
    "altitude",
    "speed",
    "speed_accuracy",
    "course",
    "course_accuracy",
    "horizontal_accuracy",
    "vertical_accuracy",
)


@dataclass(frozen=True, slots=True)
class Fix:
    lon: float
    lat: float
    epoch: float  # M: seconds since 1970, UTC


def decode_ewkb(blob: bytes) -> list[Fix]:
    """The fixes of a Point M or LineString M in (E)WKB, exactly as stored (no rounding)."""
    order = "<" if blob[0] == 1 else ">"
    (kind,) = struct.unpack_from(f"{order}I", blob, 1)
    pos = 5
    if kind & _SRID:
        pos += 4
    has_z, has_m = bool(kind & _Z), bool(kind & _M)
    base = kind & 0x0FFFFFFF
    # ISO WKB spells dimensions in the type number instead: 1001-style Z, 2001 M, 3001 ZM.
    if base > 1000:
        has_z, has_m = base // 1000 in (1, 3), base // 1000 in (2, 3)
        base %= 1000
    dims = 2 + has_z + has_m
    if base == 1:
        count = 1
    elif base == 2:
        (count,) = struct.unpack_from(f"{order}I", blob, pos)
        pos += 4
    else:
        raise ValueError(f"not a point or line string (WKB type {base})")
    values = struct.unpack_from(f"{order}{count * dims}d", blob, pos)
    fixes = []
    for i in range(count):
        chunk = values[i * dims : (i + 1) * dims]
        fixes.append(Fix(chunk[0], chunk[1], chunk[-1] if has_m else float("nan")))
    return fixes


def fix_time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True, slots=True)
class Route:
    workout_id: str
    name: str
    start: str | None
    end: str | None
    fixes: list[Fix]
    offsets_min: Sequence[int]
    per_fix: dict[str, Sequence[float | None] | None]


def geojson(route: Route) -> dict[str, object]:
    """A Feature whose geometry is the route (a Point for one fix); altitude as the third
    coordinate when every fix has one; times and per-fix values in ``properties``."""
    altitude = route.per_fix.get("altitude")
    with_altitude = altitude is not None and all(a is not None for a in altitude)
    coordinates: list[list[float]] = []
    for i, fix in enumerate(route.fixes):
        position = [fix.lon, fix.lat]
        if with_altitude and altitude is not None:
            value = altitude[i]
            if value is not None:
                position.append(value)
        coordinates.append(position)
    geometry: dict[str, object] = (
        {"type": "Point", "coordinates": coordinates[0]}
        if len(coordinates) == 1
        else {"type": "LineString", "coordinates": coordinates}
    )
    properties: dict[str, object] = {
        "workout_id": route.workout_id,
        "name": route.name,
        "start": route.start,
        "end": route.end,
        "point_count": len(route.fixes),
        "times": [
            iso(fix_time(fix.epoch), offset)
            for fix, offset in zip(route.fixes, route.offsets_min, strict=True)
        ],
    }
    for name in PER_FIX:
        values = route.per_fix.get(name)
        if values is not None:
            properties[name] = list(values)
    lons = [fix.lon for fix in route.fixes]
    lats = [fix.lat for fix in route.fixes]
    return {
        "type": "Feature",
        "id": route.workout_id,
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "geometry": geometry,
        "properties": properties,
    }


def gpx(route: Route) -> bytes:
    """GPX 1.1: one track, one segment, a ``trkpt`` per fix with ``ele`` and UTC ``time``."""
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "hae-server"})
    metadata = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    ET.SubElement(metadata, f"{{{GPX_NS}}}name").text = route.name
    if route.fixes:
        ET.SubElement(metadata, f"{{{GPX_NS}}}time").text = _gpx_time(route.fixes[0].epoch)
    track = ET.SubElement(root, f"{{{GPX_NS}}}trk")
    ET.SubElement(track, f"{{{GPX_NS}}}name").text = route.name
    ET.SubElement(track, f"{{{GPX_NS}}}type").text = route.name
    segment = ET.SubElement(track, f"{{{GPX_NS}}}trkseg")
    altitude = route.per_fix.get("altitude")
    for i, fix in enumerate(route.fixes):
        point = ET.SubElement(
            segment, f"{{{GPX_NS}}}trkpt", {"lat": repr(fix.lat), "lon": repr(fix.lon)}
        )
        if altitude is not None and altitude[i] is not None:
            ET.SubElement(point, f"{{{GPX_NS}}}ele").text = repr(altitude[i])
        ET.SubElement(point, f"{{{GPX_NS}}}time").text = _gpx_time(fix.epoch)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _gpx_time(epoch: float) -> str:
    at = fix_time(epoch)
    fraction = f".{at.microsecond:06d}".rstrip("0") if at.microsecond else ""
    return f"{at:%Y-%m-%dT%H:%M:%S}{fraction}Z"
