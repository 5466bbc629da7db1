"""Kubernetes probes and the Prometheus scrape endpoint (none of them in the OpenAPI)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.errors import problem_response
from app.observability import gauges

router = APIRouter(include_in_schema=False)
_CHECK_TIMEOUT_S = 2.0
_ROOT = Path(__file__).resolve().parents[2]


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
    """Database and Redis reachable, schema at this code's migration head."""
    state = request.app.state
    checks: dict[str, Any] = {}

    async def database() -> None:
        async with state.engine.connect() as conn:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        if state.migration_head is not None and current != state.migration_head:
            raise RuntimeError("schema not at the migration head")

    async def redis() -> None:
        await state.redis.ping()

    for name, check in (("database", database), ("redis", redis)):
        try:
            await asyncio.wait_for(check(), _CHECK_TIMEOUT_S)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"failed: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks})
    body = {"type": "/problems/not-ready", "title": "Not Ready", "status": 503, "checks": checks}
    return problem_response(503, body)


@router.get("/metrics")
async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format."""
    await gauges.refresh(request.app.state)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
