"""The raw payload archive: every body kept exactly (zstd), committed before any processing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec
import zstandard
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

COMPRESSION = "zstd"


@dataclass(slots=True)
class RawIngestion:
    id: int
    user_id: int
    status: str
    report: dict[str, Any] | None
    error: str | None
    created: bool


def digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def compress(body: bytes, level: int) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(body)


def decompress(blob: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(blob)


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
) -> RawIngestion:
    """Insert the raw body, or find the identical one this user sent before."""
    inserted = await conn.execute(
        text(
            "INSERT INTO raw_ingestions (user_id, api_key_id, sha256, size_bytes, body, compression,"
            " content_type, content_encoding, headers, status)"
            " VALUES (:user_id, :api_key_id, :sha256, :size, :body, :compression,"
            " :content_type, :content_encoding, CAST(:headers AS jsonb), 'pending')"
            " ON CONFLICT (user_id, sha256) DO NOTHING RETURNING id"
        ),
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
        },
    )
    new_id = inserted.scalar_one_or_none()
    if new_id is not None:
        return RawIngestion(new_id, user_id, "pending", None, None, created=True)
    existing = (
        await conn.execute(
            text(
                "SELECT id, status, report, error FROM raw_ingestions"
                " WHERE user_id = :user_id AND sha256 = :sha256"
            ),
            {"user_id": user_id, "sha256": sha256},
        )
    ).one()
    return RawIngestion(
        existing.id, user_id, existing.status, existing.report, existing.error, created=False
    )


async def load_body(conn: AsyncConnection, ingestion_id: int) -> bytes:
    row = (
        await conn.execute(
            text("SELECT body, compression FROM raw_ingestions WHERE id = :id"),
            {"id": ingestion_id},
        )
    ).one()
    if row.compression != COMPRESSION:
        raise ValueError(f"unknown compression {row.compression!r}")
    return decompress(row.body)


async def mark_processing(conn: AsyncConnection, ingestion_id: int) -> None:
    await conn.execute(
        text(
            "UPDATE raw_ingestions SET status = 'processing', attempts = attempts + 1, error = NULL"
            " WHERE id = :id"
        ),
        {"id": ingestion_id},
    )


async def finish(
    conn: AsyncConnection,
    ingestion_id: int,
    *,
    status: str,
    report: dict[str, Any] | None,
    error: str | None = None,
) -> None:
    await conn.execute(
        text(
            "UPDATE raw_ingestions SET status = :status, report = CAST(:report AS jsonb),"
            " error = :error, processed_at = now() WHERE id = :id"
        ),
        {"id": ingestion_id, "status": status, "report": _json(report), "error": error},
    )


async def get(conn: AsyncConnection, ingestion_id: int, user_id: int) -> RawIngestion | None:
    row = (
        await conn.execute(
            text(
                "SELECT id, status, report, error FROM raw_ingestions"
                " WHERE id = :id AND user_id = :user_id"
            ),
            {"id": ingestion_id, "user_id": user_id},
        )
    ).one_or_none()
    if row is None:
        return None
    return RawIngestion(row.id, user_id, row.status, row.report, row.error, created=False)


async def get_any(conn: AsyncConnection, ingestion_id: int) -> RawIngestion | None:
    """An ingestion whoever it belongs to (operator tools only)."""
    row = (
        await conn.execute(
            text("SELECT id, user_id, status, report, error FROM raw_ingestions WHERE id = :id"),
            {"id": ingestion_id},
        )
    ).one_or_none()
    if row is None:
        return None
    return RawIngestion(row.id, row.user_id, row.status, row.report, row.error, created=False)


def _json(value: Any) -> str | None:
    return None if value is None else msgspec.json.encode(value).decode()
