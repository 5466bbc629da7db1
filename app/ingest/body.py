"""Reading a request body within the size limit, decoding gzip without trusting its ratio."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

from app.errors import MalformedPayload, PayloadTooLarge, UnsupportedMediaType


async def read_limited(
    chunks: AsyncIterator[bytes],
    *,
    limit: int,
    content_length: str | None,
    content_encoding: str | None,
    on_received: Callable[[int], Awaitable[None]] | None = None,
    report_every: int = 1024 * 1024,
) -> bytes:
    """The decoded body, refused with 413 as soon as it (or its decoded form) passes ``limit``.

    ``on_received(n)`` is awaited for every ``report_every`` wire bytes (and the rest at the end):
    the byte budget is charged while the body streams, so it can refuse it part way.
    """
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise MalformedPayload("invalid Content-Length") from None
        if declared > limit:
            raise PayloadTooLarge(
                f"body of {declared} bytes exceeds the limit of {limit}", limit=limit
            )
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported (use gzip)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding != "identity" else None
    body = bytearray()
    received = 0
    unreported = 0
    async for chunk in chunks:
        received += len(chunk)
        unreported += len(chunk)
        if on_received is not None and unreported >= report_every:
            await on_received(unreported)
            unreported = 0
        if received > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes", limit=limit)
        if inflater is None:
            body += chunk
            continue
        try:
            # Never inflate more than the room left: a bomb is refused without being expanded.
            body += inflater.decompress(chunk, limit - len(body) + 1)
            while inflater.unconsumed_tail and len(body) <= limit:
                body += inflater.decompress(inflater.unconsumed_tail, limit - len(body) + 1)
        except zlib.error as exc:
            raise MalformedPayload(f"invalid gzip body: {exc}") from None
        if len(body) > limit:
            raise PayloadTooLarge(
                f"decompressed body exceeds the limit of {limit} bytes", limit=limit
            )
    if on_received is not None and unreported:
        await on_received(unreported)
    if inflater is not None:
        if not inflater.eof:
            raise MalformedPayload("truncated gzip body")
        body += inflater.flush()
    return bytes(body)
