"""Audit records, written in the caller's transaction so the record and the action commit together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.models import audit_log
from app.db.engine import driver_connection

_ENSURE_PARTITION = "SELECT hae_ensure_month_partition('audit_log', now())"
_INSERT = (
    "INSERT INTO audit_log (user_id, api_key_id, action, details) VALUES ($1, $2, $3, $4::jsonb)"
)


async def record(
    conn: AsyncConnection | AsyncSession,
    *,
    action: str,
    user_id: int | None = None,
    api_key_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    connection = await conn.connection() if isinstance(conn, AsyncSession) else conn
    driver = await driver_connection(connection)  # every ingest writes one: the hot path
    await driver.execute(_ENSURE_PARTITION)
    await driver.execute(
        _INSERT, user_id, api_key_id, action, msgspec.json.encode(details or {}).decode()
    )


async def search(
    session: AsyncSession,
    *,
    user_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    query = (
        select(audit_log)
        .order_by(audit_log.c.occurred_at.desc(), audit_log.c.id.desc())
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(audit_log.c.user_id == user_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if since is not None:
        query = query.where(audit_log.c.occurred_at >= since)
    if until is not None:
        query = query.where(audit_log.c.occurred_at < until)
    return [dict(row) for row in (await session.execute(query)).mappings()]
