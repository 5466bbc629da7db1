"""SQL for quality flags and data freshness."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import driver_connection
from app.ingest.types import Flag

LABEL_PREFIX = "label:"  # what record_flags returns for a flagged word, before its field


async def record_flags(
    conn: AsyncConnection, user_id: int, ingestion_id: int, flags: list[Flag]
) -> list[str]:
    """Store flags (idempotent: a re-sent value is not flagged twice); the metrics newly flagged,
    and ``label:<field>`` for each word newly flagged as unknown to the label tables."""
    if not flags:
        return []
    result = await conn.execute(
        text(
            "INSERT INTO quality_flags (user_id, ingestion_id, table_name, metric, start_at, value, unit, reason)"
            " SELECT :user_id, :ingestion_id, * FROM unnest(CAST(:tables AS text[]), CAST(:metrics AS text[]),"
            " CAST(:starts AS timestamptz[]), CAST(:vals AS float8[]), CAST(:units AS text[]),"
            " CAST(:reasons AS text[]))"
            " ON CONFLICT (user_id, metric, start_at, reason) DO NOTHING RETURNING metric, reason"
        ),
        {
            "user_id": user_id,
            "ingestion_id": ingestion_id,
            "tables": [f.table for f in flags],
            "metrics": [f.metric for f in flags],
            "starts": [f.start_at for f in flags],
            "vals": [f.value for f in flags],
            "units": [f.unit for f in flags],
            "reasons": [f.reason for f in flags],
        },
    )
    labels = {(f.metric, f.reason): f.label for f in flags if f.label is not None}
    return [
        f"{LABEL_PREFIX}{labels[(metric, reason)]}" if (metric, reason) in labels else metric
        for metric, reason in result.all()
    ]


async def list_flags(
    conn: AsyncConnection,
    *,
    user_id: int | None,
    metric: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            "SELECT u.name AS user, q.metric, q.start_at, q.value, q.unit, q.reason, q.ingestion_id"
            " FROM quality_flags q JOIN users u ON u.id = q.user_id"
            " WHERE (CAST(:user_id AS bigint) IS NULL OR q.user_id = :user_id)"
            " AND (CAST(:metric AS text) IS NULL OR q.metric = :metric)"
            " AND (CAST(:since AS timestamptz) IS NULL OR q.start_at >= :since)"
            " AND (CAST(:until AS timestamptz) IS NULL OR q.start_at < :until)"
            " ORDER BY q.start_at DESC LIMIT :limit"
        ),
        {"user_id": user_id, "metric": metric, "since": since, "until": until, "limit": limit},
    )
    return [dict(row) for row in rows.mappings()]


_RECORD_FRESHNESS = (  # positional: sent to asyncpg directly (hot path)
    "INSERT INTO data_freshness AS f (user_id, kind, name, automation_id, automation_name,"
    " last_point_at, last_ingested_at, ingestion_id)"
    " SELECT $1, e.kind, e.name, coalesce(r.headers->>'automation-id', ''),"
    " r.headers->>'automation-name', e.last_at, now(), $2"
    " FROM unnest($3::text[], $4::text[], $5::timestamptz[])"
    " AS e(kind, name, last_at) JOIN raw_ingestions r ON r.id = $2"
    " ON CONFLICT (user_id, kind, name, automation_id) DO UPDATE SET"
    " last_point_at = GREATEST(f.last_point_at, excluded.last_point_at),"
    " last_ingested_at = excluded.last_ingested_at, ingestion_id = excluded.ingestion_id,"
    " automation_name = coalesce(excluded.automation_name, f.automation_name)"
)


async def record_freshness(
    conn: AsyncConnection,
    user_id: int,
    ingestion_id: int,
    entries: Sequence[tuple[str, str, datetime | None]],
) -> None:
    """Newest point per (kind, name) of this ingestion, under its automation id."""
    newest: dict[tuple[str, str], datetime | None] = {}
    for kind, name, last in entries:  # a metric may come in several series of one body
        known = newest.get((kind, name))
        newest[(kind, name)] = (
            last if known is None or (last is not None and last > known) else known
        )
    if not newest:
        return
    await (await driver_connection(conn)).execute(
        _RECORD_FRESHNESS,
        user_id,
        ingestion_id,
        [kind for kind, _ in newest],
        [name for _, name in newest],
        list(newest.values()),
    )


async def freshness(conn: AsyncConnection, user_id: int | None) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            "SELECT u.name AS user, f.kind, f.name, nullif(f.automation_id, '') AS automation_id,"
            " f.automation_name, f.last_point_at, f.last_ingested_at"
            " FROM data_freshness f JOIN users u ON u.id = f.user_id"
            " WHERE CAST(:user_id AS bigint) IS NULL OR f.user_id = :user_id"
            " ORDER BY u.name, f.kind, f.name, f.automation_id"
        ),
        {"user_id": user_id},
    )
    return [dict(row) for row in rows.mappings()]
