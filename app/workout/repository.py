"""All SQL of the workout read API; every statement is scoped to one ``user_id``.

Spatial filters use the GiST index on ``workout_routes.geom`` through a bounding-box test (``&&``)
and then the exact test on the spheroid (geography), in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.query import sql
from app.query.timerange import Bound

_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True, slots=True)
class Near:
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True, slots=True)
class WorkoutFilter:
    user_id: int
    lo: Bound | None = None
    hi: Bound | None = None
    name: str | None = None
    near: Near | None = None
    bbox: BBox | None = None


_SUMMARY = (
    "w.id, w.external_id, w.export_version, w.name, w.start_at, w.end_at, w.utc_offset_min,"
    " w.end_offset_min, w.duration_s, w.location, w.is_indoor, w.active_energy_kcal,"
    " w.total_energy_kcal, w.distance_m, w.avg_heart_rate, w.max_heart_rate,"
    " r.point_count AS route_points, ST_Length(r.geom::geography) AS route_distance_m"
)


def _where(f: WorkoutFilter, params: sql.Params) -> list[str]:
    where = [f"w.user_id = {params.add(f.user_id)}"]
    where += sql.time_range("w.start_at", "w.utc_offset_min", f.lo, f.hi, params)
    if f.name is not None:
        where.append(f"lower(w.name) = lower({params.add(f.name)})")
    if f.near is not None:
        point = (
            f"ST_SetSRID(ST_MakePoint({params.add(f.near.lon, 'float8')},"
            f" {params.add(f.near.lat, 'float8')}), 4326)"
        )
        # Degrees that surely cover the radius (longitude degrees shrink towards the poles).
        shrink = max(math.cos(math.radians(f.near.lat)), 0.01)
        degrees = f.near.radius_m / _METRES_PER_DEGREE / shrink * 1.1 + 1e-6
        where.append(
            f"r.geom && ST_Expand({point}, {params.add(degrees, 'float8')})"
            f" AND ST_DWithin(r.geom::geography, {point}::geography,"
            f" {params.add(f.near.radius_m, 'float8')})"
        )
    if f.bbox is not None:
        box = (
            f"ST_MakeEnvelope({params.add(f.bbox.min_lon, 'float8')},"
            f" {params.add(f.bbox.min_lat, 'float8')}, {params.add(f.bbox.max_lon, 'float8')},"
            f" {params.add(f.bbox.max_lat, 'float8')}, 4326)"
        )
        where.append(f"r.geom && {box} AND ST_Intersects(r.geom, {box})")
    return where


def _join(f: WorkoutFilter, params: sql.Params) -> str:
    spatial = f.near is not None or f.bbox is not None
    kind = "JOIN" if spatial else "LEFT JOIN"
    return f"{kind} workout_routes r ON r.workout_id = w.id AND r.user_id = {params.add(f.user_id)}"


async def list_workouts(
    conn: AsyncConnection, f: WorkoutFilter, after: tuple[Any, UUID] | None, limit: int
) -> list[RowMapping]:
    """A page (``limit + 1`` at most) in (start, id) order."""
    params = sql.Params()
    join = _join(f, params)
    where = _where(f, params)
    if after is not None:
        start = params.add(after[0], "timestamptz")
        where.append(
            f"(w.start_at, w.id) > ({start}, {params.add(str(after[1]), 'uuid')})"
            f" AND w.start_at >= {start}"
        )
    statement = (
        f"SELECT {_SUMMARY} FROM workouts w {join} WHERE {' AND '.join(where)}"
        f" ORDER BY w.start_at, w.id LIMIT {params.add(limit + 1)}"
    )
    return list((await conn.execute(text(statement), params)).mappings())


async def get_workout(conn: AsyncConnection, user_id: int, workout_id: UUID) -> RowMapping | None:
    return await _one_of_workout(
        conn,
        f"SELECT {_SUMMARY}, w.summary, w.metadata, w.extra"
        " FROM workouts w LEFT JOIN workout_routes r"
        " ON r.workout_id = w.id AND r.user_id = :u WHERE w.id = :id AND w.user_id = :u",
        user_id,
        workout_id,
    )


async def workout_series(conn: AsyncConnection, user_id: int, workout_id: UUID) -> list[RowMapping]:
    rows = await conn.execute(
        text(
            "SELECT series, start_at, utc_offset_min, source, qty, min, avg, max, unit, extra"
            " FROM workout_series WHERE user_id = :u AND workout_id = :id"
            " ORDER BY series, start_at, source"
        ),
        {"u": user_id, "id": workout_id},
    )
    return list(rows.mappings())


async def route(conn: AsyncConnection, user_id: int, workout_id: UUID) -> RowMapping | None:
    return await _one_of_workout(
        conn,
        "SELECT w.name, w.start_at, w.end_at, w.utc_offset_min, w.end_offset_min,"
        " ST_AsEWKB(r.geom) AS ewkb, r.point_count, r.utc_offsets_min, r.altitude, r.speed,"
        " r.speed_accuracy, r.course, r.course_accuracy, r.horizontal_accuracy,"
        " r.vertical_accuracy, r.export_version"
        " FROM workouts w JOIN workout_routes r ON r.workout_id = w.id AND r.user_id = :u"
        " WHERE w.id = :id AND w.user_id = :u",
        user_id,
        workout_id,
    )


async def route_stats(conn: AsyncConnection, user_id: int, workout_id: UUID) -> RowMapping | None:
    return await _one_of_workout(
        conn,
        "SELECT r.point_count, ST_Length(r.geom::geography) AS distance_m,"
        " ST_XMin(r.geom) AS min_lon, ST_YMin(r.geom) AS min_lat,"
        " ST_XMax(r.geom) AS max_lon, ST_YMax(r.geom) AS max_lat"
        " FROM workout_routes r WHERE r.workout_id = :id AND r.user_id = :u",
        user_id,
        workout_id,
    )


async def _one_of_workout(
    conn: AsyncConnection, statement: str, user_id: int, workout_id: UUID
) -> RowMapping | None:
    """The row of ``statement`` (bound to ``:u`` and ``:id``), or None when there is none."""
    row = await conn.execute(text(statement), {"u": user_id, "id": workout_id})
    return row.mappings().one_or_none()


async def distance_per_period(
    conn: AsyncConnection, f: WorkoutFilter, unit: str, tz: str | None
) -> list[RowMapping]:
    """Per period of the workouts' (local) start: routed workouts, metres along their routes
    (on the spheroid) and the distance the app reported for them."""
    params = sql.Params()
    where = _where(f, params)
    period = sql.bucket("w.start_at", "w.utc_offset_min", unit, tz, params)
    statement = (
        f"SELECT {period} AS period, count(*) AS workouts,"
        " sum(ST_Length(r.geom::geography)) AS route_distance_m,"
        " sum(w.distance_m) AS reported_distance_m,"
        " min(w.utc_offset_min) AS off_lo, max(w.utc_offset_min) AS off_hi"
        f" FROM workouts w JOIN workout_routes r ON r.workout_id = w.id"
        f" AND r.user_id = {params.add(f.user_id)} WHERE {' AND '.join(where)}"
        " GROUP BY 1 ORDER BY 1"
    )
    return list((await conn.execute(text(statement), params)).mappings())
