"""HTTP surface of ingest: thin; the service does the work."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from app.auth.dependencies import PrincipalDep, WriterDep, record_limits
from app.auth.service import AuthService
from app.errors import (
    Forbidden,
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
from app.ingest import notify
from app.ingest.decode.wire import openapi_request_schema
from app.ingest.receive.body import receive_body
from app.ingest.report.builder import IngestReport
from app.ingest.repository import archive
from app.ingest.service import IngestService
from app.ingest.types import Sender
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


async def get_ingest_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.ingest
    return service


IngestServiceDep = Annotated[IngestService, Depends(get_ingest_service)]


@router.post(
    "/ingest",
    response_model=IngestReport,
    responses={
        202: {"description": "Archived (durable) and queued; the report comes from Location."},
        **problem_responses(
            MalformedPayload,
            Unauthorized,
            Forbidden,
            PayloadTooLarge,
            UnsupportedMediaType,
            InvalidEnvelope,
            TooManyRequests,
            IngestFailed,
        ),
    },
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
    if (
        declared is not None
        and declared.isascii()
        and declared.isdigit()
        and int(declared) <= settings.max_body_bytes
    ):
        await charge(int(declared))
    received = await receive_body(
        request.stream(),
        limit=settings.max_body_bytes,
        keep_up_to=settings.async_threshold_bytes,
        compression_level=settings.raw_compression_level,
        content_length=declared,
        content_encoding=request.headers.get("content-encoding"),
        on_received=None if declared is not None else charge,
    )
    headers = {name: request.headers[name] for name in HAE_HEADERS if name in request.headers}
    sender = Sender(
        principal.user_id,
        principal.api_key_id,
        headers,
        request.headers.get("content-type"),
        request.headers.get("content-encoding"),
    )
    outcome = await service.ingest(sender, received)
    location = {"Location": f"/v1/ingestions/{outcome.ingestion_id}"}
    report = outcome.report
    if report is None:
        # Archived and committed: durable. The worker processes it; the report comes later.
        accepted = {"ingestion_id": outcome.ingestion_id, "status": "pending"}
        return JSONResponse(accepted, status_code=202, headers=location)
    if report["status"] == "retrying":
        # Some sections could not be stored yet: the body is safe and will be retried.
        return JSONResponse(report, status_code=202, headers=location)
    if report["status"] == "failed":
        problem = IngestFailed(
            "the payload could not be stored after retries; it is kept and can be replayed",
            ingestion_id=report["ingestion_id"],
            report=report,
        ).problem()
        return problem_response(503, problem, {"Retry-After": "300"})
    return JSONResponse(report)


@router.get(
    "/ingestions/{ingestion_id}",
    response_model=IngestReport,
    responses={
        202: {"description": "Still queued or being processed."},
        **problem_responses(Unauthorized, Forbidden, TooManyRequests, NotFound),
    },
)
async def get_ingestion(
    ingestion_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: PrincipalDep,
    request: Request,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=60,
            description="Seconds to hold the request while the ingestion is still queued or"
            " being processed; it is answered as soon as its outcome is recorded.",
        ),
    ] = 0,
) -> Any:
    """The report of an earlier ingestion of this key's user."""
    listener: notify.Listener = request.app.state.finished
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        ticket = listener.ticket(notify.FINISHED)  # before reading: no outcome slips between
        async with request.app.state.engine.connect() as conn:
            found = await archive.get(conn, ingestion_id, principal.user_id)
        remaining = deadline - loop.time()
        if found is None or found.status not in ("pending", "processing") or remaining <= 0:
            break
        # Notifications are hints: the row is re-read at least every second regardless.
        await listener.wait(ticket, min(remaining, 1.0))
    if found is None:
        raise NotFound("no such ingestion")
    if found.status == "rejected" and found.report is not None:
        return problem_response(int(found.report.get("status", 422)), found.report)
    if found.status in ("pending", "processing") or found.report is None:
        # Queued or being processed (a retry keeps the last attempt's report): ask again later.
        waiting = {"ingestion_id": found.id, "status": found.status, "attempts": found.attempts}
        return JSONResponse(waiting, status_code=202, headers={"Retry-After": "2"})
    return JSONResponse(found.report)
