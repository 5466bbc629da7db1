"""Bodies at the edge of the format: gzip of several members, a UTF-8 byte order mark, and a body
that stalls part way (answered 408 by a real server within the idle timeout, nothing stored)."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.errors import PayloadTooLarge
from app.ingest.receive.body import receive_body
from app.main import create_app
from tests import hae_generator as g


def _steps_payload(count: int = 20) -> bytes:
    points = g.quantity_points("step_count", "count", g.WORKOUT_START, count)
    return json.dumps(g.envelope(metrics=[g.metric("step_count", "count", points)])).encode()


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], body: bytes, **extra: str
) -> httpx.Response:
    return await client.post("/v1/ingest", content=body, headers={**headers, **extra})


async def test_gzip_of_two_members_is_their_concatenation(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]]
) -> None:
    _, headers = writer
    body = _steps_payload()
    middle = len(body) // 2
    two_members = gzip.compress(body[:middle]) + gzip.compress(body[middle:])
    response = await _post(client, headers, two_members, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["inserted"] == 20


async def test_gzip_member_cut_short_is_refused(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]]
) -> None:
    _, headers = writer
    body = _steps_payload()
    cut = gzip.compress(body[:50]) + gzip.compress(body[50:])[:-6]
    response = await _post(client, headers, cut, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400, response.text


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_members_together_past_the_limit_are_refused_without_inflating() -> None:
    member = gzip.compress(b"0" * 800)
    with pytest.raises(PayloadTooLarge):
        await receive_body(
            _chunks(member, member),
            limit=1000,
            keep_up_to=1000,
            compression_level=1,
            content_length=None,
            content_encoding="gzip",
        )


@pytest.mark.parametrize("encoding", [None, "gzip"])
async def test_body_with_a_utf8_byte_order_mark_is_accepted(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], encoding: str | None
) -> None:
    _, headers = writer
    body = b"\xef\xbb\xbf" + _steps_payload()
    if encoding:
        body, headers = gzip.compress(body), {**headers, "Content-Encoding": encoding}
    response = await _post(client, headers, body)
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["inserted"] == 20


async def test_byte_order_mark_split_across_chunks_is_dropped() -> None:
    received = await receive_body(
        _chunks(b"\xef", b"\xbb", b"\xbf{}"),
        limit=100,
        keep_up_to=100,
        compression_level=1,
        content_length=None,
        content_encoding=None,
    )
    assert received.body == b"{}"


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the app logs (structlog and stdlib), rendered as the app renders it."""
    root = logging.getLogger()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[int]:
    """The app under a real uvicorn on a free loopback port; yields the port."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started
        port: int = server.servers[0].sockets[0].getsockname()[1]
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_stalled_body_gets_408_and_a_closed_connection(
    settings: Settings, make_key: Callable[..., Any], db: Callable[..., Any]
) -> None:
    _, token = await make_key("stalling", ("write",))
    head = (
        "POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n\r\n"
    ).encode()
    async with serving(settings.model_copy(update={"body_idle_timeout_s": 1.0})) as port:
        with captured_logs() as logs:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            writer.write(head + b'{"data": {"metrics": [' + b" " * 77)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)  # to EOF: the server closed
            elapsed = time.monotonic() - started
            writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", answer
    assert b"application/problem+json" in rest
    assert 0.9 <= elapsed < 5
    assert await db("SELECT count(*) AS n FROM raw_ingestions") == [{"n": 0}]
    assert "request.failed" not in logs.getvalue()
    assert "Traceback" not in logs.getvalue()
