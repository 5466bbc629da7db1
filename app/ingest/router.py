"""HTTP surface of ingest: thin; the service does the work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from app.auth.dependencies import PrincipalDep, WriterDep
from app.errors import (
    IngestFailed,
    InvalidEnvelope,
    MalformedPayload,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    problem_response,
    problem_responses,
)
from app.ingest import raw
from app.ingest.body import read_limited
from app.ingest.report import IngestReport
from app.ingest.service import IngestService
from app.ingest.wire import openapi_request_schema

router = APIRouter(prefix="/v1", tags=["ingest"])

# Headers the app adds to every request of an automation, kept with the raw body.
HAE_HEADERS = (
    "automation-name",
    "automation-id",
    "automation-aggregation",
    "automation-period",
    "session-id",
    "user-agent",
)


def get_ingest_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.ingest
    return service


IngestServiceDep = Annotated[IngestService, Depends(get_ingest_service)]


@router.post(
    "/ingest",
    response_model=IngestReport,
    responses=problem_responses(
        MalformedPayload, Unauthorized, PayloadTooLarge, UnsupportedMediaType, InvalidEnvelope, IngestFailed
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": openapi_request_schema()}},
        }
    },
)
async def ingest(request: Request, principal: WriterDep, service: IngestServiceDep) -> Any:
    """Store a Health Auto Export payload; the report counts every point's fate."""
    settings = request.app.state.settings
    body = await read_limited(
        request.stream(),
        limit=settings.max_body_bytes,
        content_length=request.headers.get("content-length"),
        content_encoding=request.headers.get("content-encoding"),
    )
    headers = {name: request.headers[name] for name in HAE_HEADERS if name in request.headers}
    report = await service.ingest(
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        body=body,
        headers=headers,
        content_type=request.headers.get("content-type"),
        content_encoding=request.headers.get("content-encoding"),
    )
    if report["status"] == "failed":
        # Some series could not be written: what was written is kept, the raw body is kept,
        # and a non-2xx makes the app send it again.
        problem = IngestFailed(
            "some sections could not be stored; the payload is kept and can be re-sent or replayed",
            ingestion_id=report["ingestion_id"],
            report=report,
        ).problem()
        return problem_response(503, problem, {"Retry-After": "60"})
    return JSONResponse(report)


@router.get(
    "/ingestions/{ingestion_id}",
    response_model=IngestReport,
    responses=problem_responses(Unauthorized, NotFound),
)
async def get_ingestion(
    ingestion_id: Annotated[int, Path(ge=1, le=2**63 - 1)], principal: PrincipalDep, request: Request) -> Any:
    """The report of an earlier ingestion of this key's user."""
    async with request.app.state.engine.connect() as conn:
        found = await raw.get(conn, ingestion_id, principal.user_id)
    if found is None or found.report is None or found.status == "rejected":
        if found is not None and found.status in ("pending", "processing"):
            return JSONResponse({"ingestion_id": found.id, "status": found.status}, status_code=202)
        raise NotFound("no such ingestion")
    return JSONResponse(found.report)
