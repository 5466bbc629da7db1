"""HTTP surface of ingest: thin; the service does the work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from app.auth.dependencies import PrincipalDep, WriterDep, record_limits
from app.auth.service import AuthService
from app.errors import (
    IngestFailed,
    InvalidEnvelope,
    MalformedPayload,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
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
from app.observability import metrics

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
        MalformedPayload,
        Unauthorized,
        PayloadTooLarge,
        UnsupportedMediaType,
        InvalidEnvelope,
        IngestFailed,
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
    auth: AuthService = request.app.state.auth
    declared = request.headers.get("content-length")

    async def charge(size: int) -> None:
        decision = await auth.reserve_bytes(principal, size)
        record_limits(request, decision)
        if not decision.allowed:
            metrics.RATE_LIMITED.labels(kind="bytes").inc()
            raise TooManyRequests(
                "byte budget of this key is spent", retry_after=decision.reset_s, policy="bytes"
            )

    # With a Content-Length the whole body is charged before a byte is read; without one, it is
    # charged as it streams.
    if declared is not None and declared.isdigit() and int(declared) <= settings.max_body_bytes:
        await charge(int(declared))
    body = await read_limited(
        request.stream(),
        limit=settings.max_body_bytes,
        content_length=declared,
        content_encoding=request.headers.get("content-encoding"),
        on_received=None if declared is not None else charge,
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
    ingestion_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: PrincipalDep,
    request: Request,
) -> Any:
    """The report of an earlier ingestion of this key's user."""
    async with request.app.state.engine.connect() as conn:
        found = await raw.get(conn, ingestion_id, principal.user_id)
    if found is None or found.report is None or found.status == "rejected":
        if found is not None and found.status in ("pending", "processing"):
            return JSONResponse({"ingestion_id": found.id, "status": found.status}, status_code=202)
        raise NotFound("no such ingestion")
    return JSONResponse(found.report)
