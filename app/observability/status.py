"""``GET /v1/status``: is data arriving for this key's user, per metric and per automation."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.auth.dependencies import ReaderDep
from app.errors import Forbidden, TooManyRequests, Unauthorized, problem_responses
from app.quality import repository as quality

router = APIRouter(prefix="/v1", tags=["status"])


class Freshness(BaseModel):
    kind: str
    name: str
    automation_id: str | None
    automation_name: str | None
    last_point_at: datetime | None
    last_ingested_at: datetime


class Status(BaseModel):
    last_ingested_at: datetime | None
    last_point_at: datetime | None
    series: list[Freshness]


@router.get(
    "/status",
    response_model=Status,
    responses=problem_responses(Unauthorized, Forbidden, TooManyRequests),
)
async def status(principal: ReaderDep, request: Request) -> Status:
    """Freshness of this key's user's data: newest point and last ingest per metric and automation."""
    async with request.app.state.engine.connect() as conn:
        rows = await quality.freshness(conn, principal.user_id)
    series = [Freshness(**{k: v for k, v in row.items() if k != "user"}) for row in rows]
    points = [s.last_point_at for s in series if s.last_point_at is not None]
    return Status(
        last_ingested_at=max((s.last_ingested_at for s in series), default=None),
        last_point_at=max(points, default=None),
        series=series,
    )
