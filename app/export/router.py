"""``GET /v1/export``: the user's data as Health Auto Export JSON, streamed (scope ``read``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from app.auth.dependencies import ReaderDep
from app.errors import KEYED_ROUTE_ERRORS, problem_responses
from app.export.service import ExportService
from app.query.dependencies import EngineDep, reject_unstorable_text
from app.query.errors import InvalidQuery
from app.query.timerange import parse_range, parse_tz

router = APIRouter(prefix="/v1", tags=["export"], dependencies=[Depends(reject_unstorable_text)])

# The range of a user's data, as the export and the deletion API take it.
RangeStart = Annotated[
    str | None,
    Query(alias="from", description="Inclusive; as in /v1/metrics/{name} (local or instant)."),
]
RangeEnd = Annotated[str | None, Query(description="Exclusive.")]
RangeTz = Annotated[str | None, Query(description="IANA zone for local `from`/`to`.")]


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        **problem_responses(InvalidQuery, *KEYED_ROUTE_ERRORS),
        200: {
            "description": 'A Health Auto Export document, {"data": {...}}',
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def export(
    principal: ReaderDep,
    engine: EngineDep,
    start: RangeStart = None,
    to: RangeEnd = None,
    tz: RangeTz = None,
) -> StreamingResponse:
    """Everything of this key's user (or a time range) as HAE JSON, re-importable anywhere."""
    lo, hi = parse_range(start, to, parse_tz(tz))
    service = ExportService(engine)
    await service.record(principal.user_id, lo, hi, via="api")
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    return StreamingResponse(
        service.stream(principal.user_id, lo, hi),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="hae-export-{stamp}.json"',
            "Cache-Control": "no-store",
        },
    )
