"""The raw archive: every body kept exactly (zstd) and committed before any processing. Its row
is also the job of processing it (see ``app.ingest.jobs``)."""

from __future__ import annotations

import zstandard
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.ingest.receive.body import ReceivedBody
from app.ingest.repository import archive
from app.ingest.types import RawIngestion, Sender

COMPRESSION = "zstd"


async def store(
    engine: AsyncEngine,
    sender: Sender,
    received: ReceivedBody,
    claim_for: str | None,
    lease_s: int,
) -> RawIngestion:
    """Commit the raw body (or find the identical one sent before), claimed for ``claim_for``
    when it is to be processed right away. One statement, committed on its own (``engine`` is
    an autocommit engine: no BEGIN/COMMIT round trips)."""
    async with engine.connect() as conn:
        return await archive.store(
            conn,
            sender,
            archive.Blob(received.sha256, received.size, received.compressed, COMPRESSION),
            claim_for=claim_for,
            lease_s=lease_s,
        )


async def load_body(conn: AsyncConnection, ingestion_id: int) -> bytes:
    """The archived body as it was received (decompressed)."""
    blob, compression, size = await archive.load_blob(conn, ingestion_id)
    if compression != COMPRESSION:
        raise ValueError(f"unknown compression {compression!r}")
    return decompress(blob, size)


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
