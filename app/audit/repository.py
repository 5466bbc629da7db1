"""Audit records, written in the caller's transaction so the record and the action commit together."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


async def record(
    conn: AsyncConnection | AsyncSession,
    *,
    action: str,
    user_id: int | None = None,
    api_key_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(text("SELECT hae_ensure_month_partition('audit_log', now())"))
    await conn.execute(
        text(
            "INSERT INTO audit_log (user_id, api_key_id, action, details)"
            " VALUES (:user_id, :api_key_id, :action, CAST(:details AS jsonb))"
        ),
        {
            "user_id": user_id,
            "api_key_id": api_key_id,
            "action": action,
            "details": msgspec.json.encode(details or {}).decode(),
        },
    )
