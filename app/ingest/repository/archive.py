"""SQL of the raw body archive, which is also the job queue (``raw_ingestions``).

Nothing can be acknowledged and lost: the 2xx is sent after the row is committed, and a row is
only ever marked processed by the transaction that wrote its report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import driver_connection
from app.ingest import notify
from app.ingest.types import RawIngestion, Sender

_COLUMNS = "id, user_id, status, report, error, attempts"

# Positional ($n) statements go to asyncpg directly (hot path): see db.engine.driver_connection.
_STORE = (
    "INSERT INTO raw_ingestions (user_id, api_key_id, sha256, size_bytes, body, compression,"
    " content_type, content_encoding, headers, status, attempts, worker, locked_until)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb,"
    " CASE WHEN $10::text IS NULL THEN 'pending' ELSE 'processing' END,"
    " CASE WHEN $10::text IS NULL THEN 0 ELSE 1 END, $10::text,"
    " CASE WHEN $10::text IS NULL THEN NULL ELSE now() + make_interval(secs => $11::float8) END)"
    f" ON CONFLICT (user_id, sha256) DO NOTHING RETURNING {_COLUMNS}"
)
_EXISTING = f"SELECT {_COLUMNS} FROM raw_ingestions WHERE user_id = $1 AND sha256 = $2"
# Taken: processing by ``worker`` with a lease, one more attempt, no retry scheduled.
_TAKE = (
    "UPDATE raw_ingestions SET status = 'processing', attempts = attempts + 1,"
    " worker = :worker, locked_until = now() + make_interval(secs => :lease),"
    " next_attempt_at = NULL"
)


def _record(row: Any, *, created: bool = False, claimed: bool = False) -> RawIngestion:
    return RawIngestion(
        row["id"],
        row["user_id"],
        row["status"],
        row["report"],
        row["error"],
        row["attempts"],
        created,
        claimed,
    )


@dataclass(slots=True, frozen=True)
class Blob:
    """A body as archived: its digest, size, stored bytes and their compression."""

    sha256: bytes
    size: int
    data: bytes
    compression: str


async def store(
    conn: AsyncConnection, sender: Sender, blob: Blob, *, claim_for: str | None, lease_s: int
) -> RawIngestion:
    """Insert the raw body (claimed for ``claim_for`` when given), or find the identical one."""
    driver = await driver_connection(conn)
    row = await driver.fetchrow(
        _STORE,
        sender.user_id,
        sender.api_key_id,
        blob.sha256,
        blob.size,
        blob.data,
        blob.compression,
        sender.content_type,
        sender.content_encoding,
        _json(sender.headers),
        claim_for,
        lease_s,
    )
    if row is not None:
        if claim_for is None:  # queued: wake a worker as soon as this commits
            await notify.send(conn, notify.QUEUED, row["id"])
        return _record(row, created=True, claimed=claim_for is not None)
    return _record(await driver.fetchrow(_EXISTING, sender.user_id, blob.sha256))


async def claim(
    conn: AsyncConnection, ingestion_id: int, worker: str, lease_s: int, *, force: bool = False
) -> RawIngestion | None:
    """Take this ingestion if nobody holds it (``force``: whatever its state, for replays)."""
    row = (
        await conn.execute(
            text(
                f"{_TAKE} WHERE id = :id AND (:force OR status IN ('pending', 'failed')"
                " OR (status = 'processing' AND locked_until < now()))"
                f" RETURNING {_COLUMNS}"
            ),
            {"id": ingestion_id, "worker": worker, "lease": lease_s, "force": force},
        )
    ).one_or_none()
    return _record(row._mapping, claimed=True) if row is not None else None


async def claim_next(conn: AsyncConnection, worker: str, lease_s: int) -> RawIngestion | None:
    """The oldest ingestion that is due: pending, or held by a processor whose lease ran out."""
    row = (
        await conn.execute(
            text(
                f"{_TAKE} WHERE id = (SELECT id FROM raw_ingestions"
                " WHERE (status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now()))"
                " OR (status = 'processing' AND locked_until < now())"
                f" ORDER BY received_at FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING {_COLUMNS}"
            ),
            {"worker": worker, "lease": lease_s},
        )
    ).one_or_none()
    return _record(row._mapping, claimed=True) if row is not None else None


async def renew(conn: AsyncConnection, ingestion_id: int, worker: str, lease_s: int) -> bool:
    result = await conn.execute(
        text(
            "UPDATE raw_ingestions SET locked_until = now() + make_interval(secs => :lease)"
            " WHERE id = :id AND worker = :worker AND status = 'processing'"
        ),
        {"id": ingestion_id, "worker": worker, "lease": lease_s},
    )
    return bool(result.rowcount)


async def load_blob(conn: AsyncConnection, ingestion_id: int) -> tuple[bytes, str, int]:
    """(the stored body, its compression, its size uncompressed)."""
    row = (
        await conn.execute(
            text("SELECT body, compression, size_bytes FROM raw_ingestions WHERE id = :id"),
            {"id": ingestion_id},
        )
    ).one()
    return row.body, row.compression, row.size_bytes


_FINISH = (
    "UPDATE raw_ingestions SET status = $2, report = $3::jsonb, error = $4, processed_at = now(),"
    " locked_until = NULL, worker = NULL,"
    " next_attempt_at = CASE WHEN $5::float8 IS NULL THEN NULL"
    " ELSE now() + make_interval(secs => $5::float8) END"
    " WHERE id = $1 RETURNING pg_notify($6, CAST(id AS text))"
)


async def finish(
    conn: AsyncConnection,
    ingestion_id: int,
    *,
    status: str,
    report: dict[str, Any] | None,
    error: str | None = None,
    retry_in_s: float | None = None,
) -> None:
    """Record the outcome; ``retry_in_s`` puts the row back in the queue for a later attempt.
    Whoever waits on the ingestion is notified when this commits (by the same statement)."""
    driver = await driver_connection(conn)
    await driver.execute(
        _FINISH, ingestion_id, status, _json(report), error, retry_in_s, notify.FINISHED
    )


async def get(conn: AsyncConnection, ingestion_id: int, user_id: int) -> RawIngestion | None:
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} FROM raw_ingestions WHERE id = :id AND user_id = :user_id"),
            {"id": ingestion_id, "user_id": user_id},
        )
    ).one_or_none()
    return _record(row._mapping) if row is not None else None


async def failed_ids(conn: AsyncConnection) -> list[int]:
    """Every ingestion whose attempts are spent, oldest first (operator tools only)."""
    found = await conn.execute(
        text("SELECT id FROM raw_ingestions WHERE status = 'failed' ORDER BY id")
    )
    return list(found.scalars())


def _json(value: Any) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()
