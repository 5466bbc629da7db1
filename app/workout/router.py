"""Workout read API (scope ``read``, always the key's own user); thin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.dependencies import ReaderDep
from app.errors import KEYED_ROUTE_ERRORS, NotFound, problem_responses
from app.query import render
from app.query.dependencies import CacheDep, EngineDep, reject_unstorable_text
from app.query.errors import InvalidQuery
from app.workout import geo
from app.workout.repository import WorkoutFilter
from app.workout.service import MAX_LIMIT, WorkoutService, build_filter

router = APIRouter(
    prefix="/v1/workouts", tags=["workouts"], dependencies=[Depends(reject_unstorable_text)]
)


async def get_workout_service(engine: EngineDep, cache: CacheDep) -> WorkoutService:
    return WorkoutService(engine, cache)


WorkoutServiceDep = Annotated[WorkoutService, Depends(get_workout_service)]
From = Annotated[
    str | None,
    Query(alias="from", description="Inclusive, on the workout's start; see /v1/metrics/{name}."),
]
To = Annotated[str | None, Query(description="Exclusive.")]
Tz = Annotated[str | None, Query(description="IANA time zone for local dates and periods.")]
WorkoutType = Annotated[
    str | None, Query(alias="type", description="Workout name, e.g. `Outdoor Run`.")
]
NearParam = Annotated[
    str | None, Query(description="`lat,lon`: workouts whose route passes within `radius_m`.")
]
Radius = Annotated[float | None, Query(gt=0, le=20_000_000, description="Metres (default 1000).")]
BBoxParam = Annotated[
    str | None,
    Query(description="`min_lon,min_lat,max_lon,max_lat`: workouts whose route enters the box."),
]


@dataclass(frozen=True, slots=True)
class Selection:
    """The parameters, as sent, that select the workouts of the list and the distance routes."""

    start: str | None
    to: str | None
    tz: str | None
    name: str | None
    near: str | None
    radius_m: float | None
    bbox: str | None

    def parse(self, user_id: int) -> tuple[WorkoutFilter, str | None]:
        """The filter and the time zone; InvalidQuery names a parameter that does not parse."""
        return build_filter(
            user_id,
            start=self.start,
            end=self.to,
            tz=self.tz,
            name=self.name,
            near=self.near,
            radius_m=self.radius_m,
            bbox=self.bbox,
        )

    def cursor_key(self) -> tuple[str | None, str | None, str | None, str | None, str | None]:
        radius = str(self.radius_m) if self.radius_m is not None else None
        return (self.start, self.to, self.tz, self.name, radius)


async def selection(
    start: From = None,
    to: To = None,
    tz: Tz = None,
    name: WorkoutType = None,
    near: NearParam = None,
    radius_m: Radius = None,
    bbox: BBoxParam = None,
) -> Selection:
    return Selection(start, to, tz, name, near, radius_m, bbox)


SelectionDep = Annotated[Selection, Depends(selection)]


@router.get("", responses=problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS))
async def list_workouts(
    principal: ReaderDep,
    service: WorkoutServiceDep,
    request: Request,
    selected: SelectionDep,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Response:
    """Workouts, oldest first; by type, time, or a route near a point or inside a box."""
    workout_filter, _ = selected.parse(principal.user_id)
    raw = selected.cursor_key()
    return render.json_response(
        await service.find(workout_filter, raw=raw, page=cursor, limit=limit), request
    )


@router.get("/distance", responses=problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS))
async def distance_per_period(
    principal: ReaderDep,
    service: WorkoutServiceDep,
    request: Request,
    selected: SelectionDep,
    bucket: Annotated[Literal["day", "week", "month", "year"], Query()] = "week",
) -> Response:
    """Total distance per period, measured along the stored route geometry."""
    workout_filter, zone = selected.parse(principal.user_id)
    return render.json_response(
        await service.distance(workout_filter, period=bucket, tz=zone), request
    )


@router.get("/{workout_id}", responses=problem_responses(*KEYED_ROUTE_ERRORS, NotFound))
async def get_workout(
    workout_id: UUID, principal: ReaderDep, service: WorkoutServiceDep, request: Request
) -> Response:
    """One workout with its summary, series and route statistics."""
    return render.json_response(await service.get(principal.user_id, workout_id), request)


@router.get(
    "/{workout_id}/route",
    responses={
        **problem_responses(*KEYED_ROUTE_ERRORS, NotFound),
        200: {
            "content": {
                geo.GEOJSON_MEDIA_TYPE: {"schema": {"type": "object"}},
                geo.GPX_MEDIA_TYPE: {"schema": {"type": "string"}},
            }
        },
    },
)
async def get_route(
    workout_id: UUID,
    principal: ReaderDep,
    service: WorkoutServiceDep,
    request: Request,
    fmt: Annotated[
        Literal["geojson", "gpx"] | None,
        Query(alias="format", description="Overrides `Accept` (for browsers): geojson or gpx."),
    ] = None,
) -> Response:
    """The route as GeoJSON (default) or GPX (`Accept: application/gpx+xml`)."""
    route = await service.route(principal.user_id, workout_id)
    if fmt is None:
        chosen = render.negotiate(
            request.headers.get("accept"),
            (geo.GEOJSON_MEDIA_TYPE, render.JSON, geo.GPX_MEDIA_TYPE, "application/xml"),
        )
        fmt = "gpx" if chosen in (geo.GPX_MEDIA_TYPE, "application/xml") else "geojson"
    if fmt == "gpx":
        filename = f"workout-{workout_id}.gpx"
        return Response(
            geo.gpx(route),
            media_type=geo.GPX_MEDIA_TYPE,
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )
    return Response(render.json_bytes(geo.geojson(route)), media_type=geo.GEOJSON_MEDIA_TYPE)
