"""Workout reads: pages of workouts (with spatial filters), one workout with its series, its
route as GeoJSON or GPX, and distance per period from the route geometry."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from app.errors import NotFound
from app.ingest.models.workouts import SUMMARY_COLUMNS
from app.query import cursor
from app.query.cache import Json, JsonValue, QueryCache
from app.query.errors import InvalidQuery
from app.query.timerange import iso, local_label, parse_range, parse_tz, stamp
from app.workout import geo, repository
from app.workout.repository import BBox, Near, WorkoutFilter

MAX_LIMIT = 1000
PERIODS = ("day", "week", "month", "year")
_SUMMARY_COLUMNS = (*SUMMARY_COLUMNS, "route_points", "route_distance_m")


def parse_near(value: str | None, radius_m: float | None) -> Near | None:
    if value is None:
        if radius_m is not None:
            raise InvalidQuery("`radius_m` needs `near`", field="radius_m")
        return None
    try:
        lat, lon = (float(part) for part in value.split(","))
    except ValueError:
        raise InvalidQuery("`near` must be `lat,lon`", field="near") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidQuery("`near` is outside -90..90, -180..180", field="near")
    return Near(lat, lon, radius_m if radius_m is not None else 1000.0)


def parse_bbox(value: str | None) -> BBox | None:
    if value is None:
        return None
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in value.split(","))
    except ValueError:
        raise InvalidQuery(
            "`bbox` must be `min_lon,min_lat,max_lon,max_lat`", field="bbox"
        ) from None
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise InvalidQuery("`bbox` corners are out of order or out of range", field="bbox")
    return BBox(min_lon, min_lat, max_lon, max_lat)


class WorkoutService:
    def __init__(self, engine: AsyncEngine, cache: QueryCache) -> None:
        self._engine = engine
        self._cache = cache

    async def find(
        self,
        f: WorkoutFilter,
        *,
        raw: tuple[str | None, str | None, str | None, str | None, str | None],
        page: str | None,
        limit: int,
    ) -> Json:
        """One page of the user's workouts, oldest first."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery(f"`limit` must be 1-{MAX_LIMIT}", field="limit")
        query_id = cursor.fingerprint("workouts", *raw, f.near, f.bbox)
        after_values = cursor.decode(page, "workouts", query_id)
        after = None
        if after_values is not None:
            try:
                start, workout_id = after_values
                after = (stamp(start), UUID(workout_id))
            except (TypeError, ValueError):
                raise InvalidQuery(
                    "`cursor` is not a cursor of this query", field="cursor"
                ) from None
        async with self._engine.connect() as conn:
            rows = await repository.list_workouts(conn, f, after, limit)
        more = len(rows) > limit
        rows = rows[:limit]
        items: list[JsonValue] = [_summary(row) for row in rows]
        next_page = (
            cursor.encode(
                "workouts", query_id, [rows[-1]["start_at"].isoformat(), str(rows[-1]["id"])]
            )
            if more
            else None
        )
        return {"items": items, "next_cursor": next_page}

    async def get(self, user_id: int, workout_id: UUID) -> Json:
        """One workout: summary as sent, canonical headline values, series, route statistics."""
        async with self._engine.connect() as conn:
            row = await repository.get_workout(conn, user_id, workout_id)
            if row is None:
                raise NotFound("no such workout")
            series_rows = await repository.workout_series(conn, user_id, workout_id)
            stats = await repository.route_stats(conn, user_id, workout_id)
        series: dict[str, list[JsonValue]] = {}
        for s in series_rows:
            point: dict[str, JsonValue] = {
                "date": iso(s["start_at"], s["utc_offset_min"]),
                "source": s["source"],
                "unit": s["unit"],
            }
            for column in ("qty", "min", "avg", "max"):
                if s[column] is not None:
                    point[column] = s[column]
            if s["extra"] is not None:
                point["extra"] = s["extra"]
            series.setdefault(s["series"], []).append(point)
        route: JsonValue = None
        if stats is not None:
            route = {
                "point_count": stats["point_count"],
                "distance_m": stats["distance_m"],
                "bbox": [stats["min_lon"], stats["min_lat"], stats["max_lon"], stats["max_lat"]],
            }
        return {
            **_summary(row),
            "summary": row["summary"],
            "metadata": row["metadata"],
            "extra": row["extra"],
            "series": series,
            "route": route,
        }

    async def route(self, user_id: int, workout_id: UUID) -> geo.Route:
        async with self._engine.connect() as conn:
            row = await repository.route(conn, user_id, workout_id)
        if row is None:
            raise NotFound("no such workout, or it has no route")
        fixes = geo.decode_ewkb(bytes(row["ewkb"]))
        return geo.Route(
            workout_id=str(workout_id),
            name=row["name"],
            start=iso(row["start_at"], row["utc_offset_min"]),
            end=iso(row["end_at"], row["end_offset_min"]),
            fixes=fixes,
            offsets_min=row["utc_offsets_min"],
            per_fix={name: row[name] for name in geo.PER_FIX},
        )

    async def distance(self, f: WorkoutFilter, *, period: str, tz: str | None) -> Json:
        """Distance along the routes per period of the workouts' local start."""
        if period not in PERIODS:
            raise InvalidQuery(f"`bucket` must be one of {', '.join(PERIODS)}", field="bucket")
        key = (period, tz, f.lo and f.lo.text(), f.hi and f.hi.text(), f.name, f.near, f.bbox)

        async def compute() -> Json:
            async with self._engine.connect() as conn:
                rows = await repository.distance_per_period(conn, f, period, tz)
            items: list[JsonValue] = [
                {
                    "start": iso(r["period"], tz=tz)
                    if tz is not None
                    else local_label(r["period"], (r["off_lo"], r["off_hi"])),
                    "workouts": r["workouts"],
                    "route_distance_m": r["route_distance_m"],
                    "reported_distance_m": r["reported_distance_m"],
                }
                for r in rows
            ]
            return {"bucket": period, "tz": tz, "items": items}

        return await self._cache.get_or_compute(f.user_id, "distance", key, compute)


def build_filter(
    user_id: int,
    *,
    start: str | None,
    end: str | None,
    tz: str | None,
    name: str | None,
    near: str | None,
    radius_m: float | None,
    bbox: str | None,
) -> tuple[WorkoutFilter, str | None]:
    zone = parse_tz(tz)
    lo, hi = parse_range(start, end, zone)
    return (
        WorkoutFilter(
            user_id=user_id,
            lo=lo,
            hi=hi,
            name=name,
            near=parse_near(near, radius_m),
            bbox=parse_bbox(bbox),
        ),
        zone,
    )


def _summary(row: RowMapping) -> dict[str, JsonValue]:
    item: dict[str, JsonValue] = {
        "id": str(row["id"]),
        "external_id": row["external_id"],
        "export_version": row["export_version"],
        "name": row["name"],
        "start": iso(row["start_at"], row["utc_offset_min"]),
        "end": iso(row["end_at"], row["end_offset_min"]),
    }
    for column in _SUMMARY_COLUMNS:
        item[column] = row[column]
    return item
