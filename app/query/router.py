"""Read API for metrics and sleep (scope ``read``, always the key's own user); thin."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.auth.dependencies import ReaderDep
from app.errors import KEYED_ROUTE_ERRORS, NotFound, problem_responses
from app.query import render
from app.query.dependencies import QueryServiceDep, SleepServiceDep, reject_unstorable_text
from app.query.errors import InvalidQuery
from app.query.schemas import MetricList, SeriesPage, SleepPage
from app.query.service import MAX_LIMIT
from app.query.sleep import MAX_NIGHTS

router = APIRouter(prefix="/v1", tags=["query"], dependencies=[Depends(reject_unstorable_text)])

From = Annotated[
    str | None,
    Query(
        alias="from",
        description="Inclusive. A date-time with offset is an instant; a date or a date-time"
        " without offset is local time (in `tz`, else in each point's recorded offset).",
    ),
]
To = Annotated[str | None, Query(description="Exclusive; same forms as `from`.")]
Tz = Annotated[
    str | None,
    Query(
        description="IANA time zone for buckets and times (DST-aware). Without it, buckets follow"
        " the UTC offset each point was recorded in, so a day is the phone's local day."
    ),
]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
_CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}}}


@router.get("/metrics", response_model=MetricList, responses=problem_responses(*KEYED_ROUTE_ERRORS))
async def list_metrics(
    principal: ReaderDep, service: QueryServiceDep, request: Request
) -> Response:
    """Every metric of this key's user: units, point count, first and last time, sources."""
    return render.json_response(await service.metric_list(principal.user_id), request)


@router.get(
    "/metrics/{name}",
    response_model=SeriesPage,
    responses={
        **problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS, NotFound),
        200: {"content": _CSV_CONTENT},
    },
)
async def read_metric(
    name: Annotated[str, Path(max_length=200)],
    principal: ReaderDep,
    service: QueryServiceDep,
    request: Request,
    start: From = None,
    to: To = None,
    source: Annotated[str | None, Query(description="Only points of this source.")] = None,
    bucket: Annotated[
        Literal["minute", "hour", "day", "week", "month"] | None,
        Query(description="Aggregate: sum for cumulative metrics, min/avg/max for discrete."),
    ] = None,
    tz: Tz = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
) -> Response:
    """Raw points, or buckets computed in SQL; cursor pages; `Accept: text/csv` gives CSV."""
    page = await service.series(
        principal.user_id,
        name,
        start=start,
        end=to,
        source=source,
        bucket=bucket,
        tz=tz,
        page=cursor,
        limit=limit,
    )
    if render.negotiate(request.headers.get("accept"), (render.JSON, render.CSV)) == render.CSV:
        response = Response(render.csv_text(page), media_type="text/csv; charset=utf-8")
        render.link_next_page(response, page, request)
        return response
    return render.json_response(page, request)


@router.get(
    "/sleep",
    response_model=SleepPage,
    responses=problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS),
)
async def read_sleep(
    principal: ReaderDep,
    service: SleepServiceDep,
    request: Request,
    start: Annotated[
        str | None, Query(alias="from", description="First night (date), inclusive.")
    ] = None,
    to: Annotated[str | None, Query(description="Night (date) to stop before.")] = None,
    tz: Tz = None,
    segments: Annotated[bool, Query(description="Include the stage segments.")] = True,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_NIGHTS)] = 31,
) -> Response:
    """Nights with stage totals (as sent, and from segments) and, where stored, the segments."""
    page = await service.nights(
        principal.user_id,
        start=start,
        end=to,
        tz=tz,
        segments=segments,
        page=cursor,
        limit=limit,
    )
    return render.json_response(page, request)
