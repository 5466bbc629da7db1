"""The raw payload archive, which is also the job queue: every body kept exactly (zstd),
committed before any processing; its row is claimed with a lease by whoever processes it.

Nothing can be acknowledged and lost: the 2xx is sent after the row is committed, and a row is
only ever marked processed by the transaction that wrote its report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import zstandard
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import driver_connection
from app.ingest import notify

COMPRESSION = "zstd"


@dataclass(slots=True)
class RawIngestion:
    id: int
    user_id: int
    status: str
    report: dict[str, Any] | None
    error: str | None
    attempts: int = 0
    created: bool = False
    claimed: bool = False


def decompress(blob: bytes, size: int | None = None) -> bytes:
    """The body; ``size`` (as recorded) lets a streamed frame, which does not carry its own
    size, be decompressed into one buffer instead of pieces joined at the end (2x the body)."""
    if size is not None:
        try:
            body = zstandard.ZstdDecompressor().decompress(blob, max_output_size=max(size, 1))
        except zstandard.ZstdError:
            pass  # not the size recorded: let the stream decoder say what it is
        else:
            if len(body) == size:
                return body
    return zstandard.ZstdDecompressor().decompressobj().decompress(blob)


def _record(row: Any, *, created: bool = False, claimed: bool = False) -> RawIngestion:
    return RawIngestion(
        row.id, row.user_id, row.status, row.report, row.error, row.attempts, created, claimed
    )


# Positional ($n) statements go to asyncpg directly (hot path): see db.engine.driver_connection.
_STORE = (
    "INSERT INTO raw_ingestions (user_id, api_key_id, sha256, size_bytes, body, compression,"
    " content_type, content_encoding, headers, status, attempts, worker, locked_until)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb,"
    " CASE WHEN $10::text IS NULL THEN 'pending' ELSE 'processing' END,"
    " CASE WHEN $10::text IS NULL THEN 0 ELSE 1 END, $10::text,"
    " CASE WHEN $10::text IS NULL THEN NULL ELSE now() + make_interval(secs => $11::float8) END)"
    " ON CONFLICT (user_id, sha256) DO NOTHING RETURNING id, user_id, status, report, error, attempts"
)
_EXISTING = (
    "SELECT id, user_id, status, report, error, attempts FROM raw_ingestions"
    " WHERE user_id = $1 AND sha256 = $2"
)


async def store(
    conn: AsyncConnection,
    *,
    user_id: int,
    api_key_id: int | None,
    sha256: bytes,
    size: int,
    blob: bytes,
    content_type: str | None,
    content_encoding: str | None,
    headers: dict[str, str],
    claim_for: str | None,
    lease_s: int,
) -> RawIngestion:
    """Insert the raw body (claimed for ``claim_for`` when given), or find the identical one."""
    driver = await driver_connection(conn)
    row = await driver.fetchrow(
        _STORE,
        user_id,
        api_key_id,
        sha256,
        size,
        blob,
        COMPRESSION,
        content_type,
        content_encoding,
        _json(headers),
        claim_for,
        lease_s,
    )
    if row is not None:
        if claim_for is None:  # queued: wake a worker as soon as this commits
            await notify.send(conn, notify.QUEUED, row["id"])
        return _record(_Row(row), created=True, claimed=claim_for is not None)
    return _record(_Row(await driver.fetchrow(_EXISTING, user_id, sha256)))


class _Row:
    """Attribute access to an asyncpg record, as :func:`_record` reads SQLAlchemy rows."""

    __slots__ = ("_record",)

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return self._record[name]


async def claim(
    conn: AsyncConnection, ingestion_id: int, worker: str, lease_s: int, *, force: bool = False
) -> RawIngestion | None:
    """Take this ingestion if nobody holds it (``force``: whatever its state, for replays)."""
    row = (
        await conn.execute(
            text(
                "UPDATE raw_ingestions SET status = 'processing', attempts = attempts + 1,"
                " worker = :worker, locked_until = now() + make_interval(secs => :lease),"
                " next_attempt_at = NULL"
                " WHERE id = :id AND (:force OR status IN ('pending', 'failed')"
                " OR (status = 'processing' AND locked_until < now()))"
                " RETURNING id, user_id, status, report, error, attempts"
            ),
            {"id": ingestion_id, "worker": worker, "lease": lease_s, "force": force},
        )
    ).one_or_none()
    return _record(row, claimed=True) if row is not None else None


async def claim_next(conn: AsyncConnection, worker: str, lease_s: int) -> RawIngestion | None:
    """The oldest ingestion that is due: pending, or held by a processor whose lease ran out."""
    row = (
        await conn.execute(
            text(
                "UPDATE raw_ingestions SET status = 'processing', attempts = attempts + 1,"
                " worker = :worker, locked_until = now() + make_interval(secs => :lease),"
                " next_attempt_at = NULL"
                " WHERE id = (SELECT id FROM raw_ingestions"
                " WHERE (status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now()))"
                " OR (status = 'processing' AND locked_until < now())"
                " ORDER BY received_at FOR UPDATE SKIP LOCKED LIMIT 1)"
                " RETURNING id, user_id, status, report, error, attempts"
            ),
            {"worker": worker, "lease": lease_s},
        )
    ).one_or_none()
    return _record(row, claimed=True) if row is not None else None


async def renew(conn: AsyncConnection, ingestion_id: int, worker: str, lease_s: int) -> bool:
    result = await conn.execute(
        text(
            "UPDATE raw_ingestions SET locked_until = now() + make_interval(secs => :lease)"
            " WHERE id = :id AND worker = :worker AND status = 'processing'"
        ),
        {"id": ingestion_id, "worker": worker, "lease": lease_s},
    )
    return bool(result.rowcount)


async def load_body(conn: AsyncConnection, ingestion_id: int) -> bytes:
    row = (
        await conn.execute(
            text("SELECT body, compression, size_bytes FROM raw_ingestions WHERE id = :id"),
            {"id": ingestion_id},
        )
    ).one()
    if row.compression != COMPRESSION:
        raise ValueError(f"unknown compression {row.compression!r}")
    return decompress(row.body, row.size_bytes)


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
            text(
                "SELECT id, user_id, status, report, error, attempts FROM raw_ingestions WHERE id = :id AND user_id = :user_id"
            ),
            {"id": ingestion_id, "user_id": user_id},
        )
    ).one_or_none()
    return _record(row) if row is not None else None


async def get_any(conn: AsyncConnection, ingestion_id: int) -> RawIngestion | None:
    """An ingestion whoever it belongs to (operator tools only)."""
    row = (
        await conn.execute(
            text(
                "SELECT id, user_id, status, report, error, attempts FROM raw_ingestions WHERE id = :id"
            ),
            {"id": ingestion_id},
        )
    ).one_or_none()
    return _record(row) if row is not None else None


def _json(value: Any) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()
