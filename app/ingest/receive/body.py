"""Reading a request body: within the size limit, gzip decoded without trusting its ratio,
hashed and zstd-compressed as it streams, so a large body never needs to sit in memory whole."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import zstandard

from app.errors import MalformedPayload, PayloadTooLarge, UnsupportedMediaType


@dataclass(slots=True)
class ReceivedBody:
    size: int
    sha256: bytes
    compressed: bytes  # zstd frame of the decoded body, as archived
    body: bytes | None  # the decoded body itself, when it is small enough to keep in memory


async def receive_body(
    chunks: AsyncIterator[bytes],
    *,
    limit: int,
    keep_up_to: int,
    compression_level: int,
    content_length: str | None,
    content_encoding: str | None,
    on_received: Callable[[int], Awaitable[None]] | None = None,
    report_every: int = 1024 * 1024,
) -> ReceivedBody:
    """Consume the body: refused with 413 as soon as it (or its decoded form) passes ``limit``.

    ``on_received(n)`` is awaited for every ``report_every`` wire bytes (and the rest at the
    end), so the byte budget is charged while the body streams and can refuse it part way. The
    decoded body is kept in memory only while it is at most ``keep_up_to`` bytes.
    """
    _check_declared_length(content_length, limit)
    sink = _Sink(keep_up_to, compression_level)
    gunzip = _gunzip_for(content_encoding)
    received = 0
    unreported = 0
    async for chunk in chunks:
        received += len(chunk)
        unreported += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes", limit=limit)
        if on_received is not None and unreported >= report_every:
            await on_received(unreported)
            unreported = 0
        if gunzip is None:
            sink.write(chunk)
        else:
            gunzip.feed(chunk, sink, limit)
    if on_received is not None and unreported:
        await on_received(unreported)
    if gunzip is not None:
        gunzip.finish()
    return sink.finish()


def _check_declared_length(content_length: str | None, limit: int) -> None:
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        raise MalformedPayload("invalid Content-Length") from None
    if declared > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}", limit=limit)


def _gunzip_for(content_encoding: str | None) -> _Gunzip | None:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported (use gzip)")
    return _Gunzip() if encoding != "identity" else None


class _Gunzip:
    """Gzip members one after another, decoded as their concatenation (RFC 1952 allows several,
    and ``cat a.gz b.gz`` makes them); never inflates more than the room left, so a bomb is
    refused without being expanded."""

    def __init__(self) -> None:
        self._member: Any = None  # the member being decoded; None between members
        self._members = 0

    def feed(self, data: bytes, sink: _Sink, limit: int) -> None:
        try:
            while data:
                if self._member is None:
                    self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
                sink.write(self._member.decompress(data, limit - sink.size + 1))
                while self._member.unconsumed_tail and sink.size <= limit:
                    tail = self._member.unconsumed_tail
                    sink.write(self._member.decompress(tail, limit - sink.size + 1))
                if sink.size > limit:
                    raise PayloadTooLarge(
                        f"decompressed body exceeds the limit of {limit} bytes", limit=limit
                    )
                if not self._member.eof:
                    return
                data = self._member.unused_data
                self._member = None
                self._members += 1
        except zlib.error as exc:
            raise MalformedPayload(f"invalid gzip body: {exc}") from None

    def finish(self) -> None:
        if self._member is not None or self._members == 0:
            raise MalformedPayload("truncated gzip body")


_BOM = b"\xef\xbb\xbf"


class _Sink:
    """Hashes everything; keeps the body in memory while it is small (then compresses it in one
    shot, with its size in the zstd frame), and switches to streaming compression once it is not."""

    def __init__(self, keep_up_to: int, level: int) -> None:
        self.size = 0
        # The first bytes wait here until a UTF-8 byte order mark can be told apart and dropped:
        # some exporters write one, and a JSON parser refuses it.
        self._head: bytes | None = b""
        self._keep_up_to = keep_up_to
        self._level = level
        self._kept: bytearray | None = bytearray()
        self._hash = hashlib.sha256()
        self._compressor: Any = None
        self._compressed: list[bytes] = []

    def write(self, data: bytes) -> None:
        if self._head is not None:
            self._head += data
            if len(self._head) < len(_BOM):
                return
            data, self._head = self._head.removeprefix(_BOM), None
        if not data:
            return
        self.size += len(data)
        self._hash.update(data)
        if self._kept is not None and self.size <= self._keep_up_to:
            self._kept += data
            return
        if self._compressor is None:
            self._compressor = zstandard.ZstdCompressor(level=self._level).compressobj()
            if self._kept:
                self._compressed.append(self._compressor.compress(bytes(self._kept)))
            self._kept = None  # past the threshold: the archive is the only copy
        self._compressed.append(self._compressor.compress(data))

    def finish(self) -> ReceivedBody:
        if self._head is not None:
            head, self._head = self._head, None
            self.write(head)
        if self._compressor is None:
            body = bytes(self._kept or b"")
            blob = zstandard.ZstdCompressor(level=self._level).compress(body)
            return ReceivedBody(self.size, self._hash.digest(), blob, body)
        self._compressed.append(self._compressor.flush())
        return ReceivedBody(self.size, self._hash.digest(), b"".join(self._compressed), None)


def received_from_bytes(body: bytes, compression_level: int) -> ReceivedBody:
    """The same record for a body already in memory (tests, tools)."""
    sink = _Sink(len(body), compression_level)
    sink.write(body)
    return sink.finish()
