"""Aliases of the vendor server's read endpoints (scope ``read``), for its Grafana dashboards.
See app.query.vendor for the shapes; thin: /v1 services do the work."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from app.auth.dependencies import ReaderDep
from app.errors import KEYED_ROUTE_ERRORS, NotFound, problem_responses
from app.query import render, vendor
from app.query.cache import JsonValue
from app.query.dependencies import QueryServiceDep, SleepServiceDep, reject_unstorable_text
from app.query.errors import InvalidQuery
from app.query.specs import SLEEP
from app.query.timerange import parse_range
from app.workout.repository import WorkoutFilter
from app.workout.router import WorkoutServiceDep

router = APIRouter(
    prefix="/api", tags=["compatibility"], dependencies=[Depends(reject_unstorable_text)]
)


@router.get(
    "/metrics/{name}", responses=problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS, NotFound)
)
async def vendor_metrics(
    name: Annotated[str, Path(max_length=200)],
    principal: ReaderDep,
    service: QueryServiceDep,
    sleep: SleepServiceDep,
    start: Annotated[
        str | None, Query(alias="from", description="ISO date(-time) or epoch ms.")
    ] = None,
    to: Annotated[str | None, Query(description="ISO date(-time) or epoch ms.")] = None,
    granularity: Literal["daily", "hourly"] | None = None,
) -> Response:
    """The vendor server's metric read: a JSON array of points, or of daily/hourly aggregates."""
    lo, hi = vendor.when(start, "from"), vendor.when(to, "to")
    documents: list[JsonValue] = []
    if name == SLEEP:
        page = await sleep.nights(
            principal.user_id, start=lo, end=hi, tz=None, segments=False, page=None, limit=366
        )
        nights = page["nights"]
        for night in nights if isinstance(nights, list) else []:
            records = night.get("records") if isinstance(night, dict) else None
            documents += [vendor.sleep_document(r) for r in records or [] if isinstance(r, dict)]
        return Response(render.json_bytes(documents), media_type=render.JSON)
    bucket = vendor.GRANULARITY.get(granularity or "")
    cursor: str | None = None
    while len(documents) < vendor.MAX_DOCUMENTS:
        page = await service.series(
            principal.user_id, name, start=lo, end=hi, source=None, bucket=bucket, tz=None,
            page=cursor, limit=10_000,
        )  # fmt: skip
        items = page["items"]
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                documents.append(
                    vendor.bucket_document(item, name) if bucket else vendor.point_document(item)
                )
        next_cursor = page.get("next_cursor")
        if not isinstance(next_cursor, str):
            break
        cursor = next_cursor
    return Response(render.json_bytes(documents), media_type=render.JSON)


@router.get("/workouts", responses=problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS))
async def vendor_workouts(
    principal: ReaderDep,
    service: WorkoutServiceDep,
    start_date: Annotated[str | None, Query(alias="startDate", description="Epoch ms.")] = None,
    end_date: Annotated[str | None, Query(alias="endDate", description="Epoch ms.")] = None,
) -> Response:
    """The vendor server's workout read: a JSON array of workouts starting in the range."""
    lo, hi = parse_range(vendor.when(start_date, "startDate"), vendor.when(end_date, "endDate"))
    page = await service.find(
        WorkoutFilter(principal.user_id, lo=lo, hi=hi),
        raw=(start_date, end_date, None, None, None),
        page=None,
        limit=1000,
    )
    items = page["items"]
    documents: list[JsonValue] = [
        {
            **item,
            "id": item.get("external_id") or item.get("id"),
            "duration": item.get("duration_s"),
        }
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]
    return Response(render.json_bytes(documents), media_type=render.JSON)
