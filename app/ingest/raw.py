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


_STORE = text(
    "INSERT INTO raw_ingestions (user_id, api_key_id, sha256, size_bytes, body, compression,"
    " content_type, content_encoding, headers, status, attempts, worker, locked_until)"
    " VALUES (:user_id, :api_key_id, :sha256, :size, :body, :compression,"
    " :content_type, :content_encoding, CAST(:headers AS jsonb),"
    " CASE WHEN CAST(:worker AS text) IS NULL THEN 'pending' ELSE 'processing' END,"
    " CASE WHEN CAST(:worker AS text) IS NULL THEN 0 ELSE 1 END, :worker,"
    " CASE WHEN CAST(:worker AS text) IS NULL THEN NULL"
    " ELSE now() + make_interval(secs => :lease) END)"
    " ON CONFLICT (user_id, sha256) DO NOTHING RETURNING id, user_id, status, report, error, attempts"
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
    inserted = await conn.execute(
        _STORE,
        {
            "user_id": user_id,
            "api_key_id": api_key_id,
            "sha256": sha256,
            "size": size,
            "body": blob,
            "compression": COMPRESSION,
            "content_type": content_type,
            "content_encoding": content_encoding,
            "headers": _json(headers),
            "worker": claim_for,
            "lease": lease_s,
        },
    )
    row = inserted.one_or_none()
    if row is not None:
        if claim_for is None:  # queued: wake a worker as soon as this commits
            await notify.send(conn, notify.QUEUED, row.id)
        return _record(row, created=True, claimed=claim_for is not None)
    existing = (
        await conn.execute(
            text(
                "SELECT id, user_id, status, report, error, attempts FROM raw_ingestions WHERE user_id = :user_id AND sha256 = :sha256"
            ),
            {"user_id": user_id, "sha256": sha256},
        )
    ).one()
    return _record(existing)


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


_FINISH = text(
    "UPDATE raw_ingestions SET status = :status, report = CAST(:report AS jsonb),"
    " error = :error, processed_at = now(), locked_until = NULL, worker = NULL,"
    " next_attempt_at = CASE WHEN CAST(:retry AS float8) IS NULL THEN NULL"
    " ELSE now() + make_interval(secs => CAST(:retry AS float8)) END"
    " WHERE id = :id RETURNING pg_notify(:channel, CAST(id AS text))"
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
    await conn.execute(
        _FINISH,
        {
            "id": ingestion_id,
            "status": status,
            "report": _json(report),
            "error": error,
            "retry": retry_in_s,
            "channel": notify.FINISHED,
        },
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
