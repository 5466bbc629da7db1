"""Kubernetes probes and the Prometheus scrape endpoint (none of them in the OpenAPI)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.errors import AppError, problem_response
from app.observability import gauges, metrics

router = APIRouter(include_in_schema=False)
_CHECK_TIMEOUT_S = 2.0
_ROOT = Path(__file__).resolve().parents[2]


class NotReady(AppError):
    status = 503
    title = "Not Ready"
    type = "/problems/not-ready"


def migration_head() -> str | None:
    """The newest revision this code ships, or None when the migrations are not alongside."""
    ini = _ROOT / "alembic.ini"
    if not ini.exists():
        return None
    return ScriptDirectory.from_config(Config(str(ini))).get_current_head()


@router.get("/livez")
async def livez() -> dict[str, str]:
    """The process is up (no dependency is consulted: a DB outage must not restart pods)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready while this pod can serve: its database reachable and at this code's schema head.

    Redis is not required (rate limits and authentication fall back to per-process state and
    the database): its failure shows as ``degraded``, never as 503, or a Redis outage would take
    every pod out of service at once."""
    state = request.app.state

    async def database() -> None:
        async with state.engine.connect() as conn:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        if state.migration_head is not None and current != state.migration_head:
            raise RuntimeError("schema not at the migration head")

    async def redis() -> None:
        await state.redis.ping()

    database_ok, redis_ok = await asyncio.gather(_check(database), _check(redis))
    checks = {"database": database_ok, "redis": redis_ok}
    for name, outcome in checks.items():
        metrics.DEPENDENCY_UP.labels(dependency=name).set(1 if outcome == "ok" else 0)
    if database_ok != "ok":
        error = NotReady(checks=checks)
        return problem_response(error.status, error.problem())
    status = "ready" if redis_ok == "ok" else "degraded"
    return JSONResponse({"status": status, "checks": checks})


async def _check(check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), _CHECK_TIMEOUT_S)
    except Exception as exc:
        return f"failed: {type(exc).__name__}"
    return "ok"


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format."""
    await gauges.refresh(request.app.state)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
