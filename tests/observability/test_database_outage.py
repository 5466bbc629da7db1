"""The database made unreachable under a running app (every connection cut, new ones refused),
then reachable again: each route answers 503 with Retry-After meanwhile, never a bare 500, and
the app recovers by itself, without a restart.

The outage is a TCP relay in front of the suite's PostgreSQL that this test closes and reopens on
the same port: for the app exactly what a stopped server is (connections reset, connects
refused), without building a second cluster and its schema for one test."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import engine as engine_module
from tests import hae_generator as g
from tests.auth.support import asgi_client, bearer, running

PAYLOAD = g.envelope(
    metrics=[g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 3))]
)


class SwitchablePostgres:
    """A relay to PostgreSQL on a port of its own; ``stop()`` is the server going away."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        await self._server.wait_closed()
        self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}
        await asyncio.gather(
            _pump(reader, up_writer), _pump(up_reader, writer), return_exceptions=True
        )
        self._links -= {writer, up_writer}


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    finally:
        sink.transport.abort()


@pytest.fixture
async def switchable(settings: Settings) -> AsyncIterator[SwitchablePostgres]:
    url = make_url(settings.database_url)
    relay = SwitchablePostgres(url.host or "127.0.0.1", url.port or 5432)
    await relay.start()
    yield relay
    with contextlib.suppress(AssertionError):
        await relay.stop()


def through(settings: Settings, relay: SwitchablePostgres) -> Settings:
    url = make_url(settings.database_url).set(host="127.0.0.1", port=relay.port)
    return settings.model_copy(
        update={"database_url": url.render_as_string(hide_password=False), "db_pool_size": 2}
    )


def assert_unavailable(resp: httpx.Response) -> None:
    assert resp.status_code == 503, (resp.request.url, resp.text)
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["status"] == 503


async def test_database_stopped_then_started_is_503_then_recovers_without_restart(
    switchable: SwitchablePostgres,
    settings: Settings,
    make_key: Callable[..., Any],
) -> None:
    _, token = await make_key()
    headers = bearer(token)
    async with running(through(settings, switchable)) as app, asgi_client(app) as http:
        first = await http.post("/v1/ingest", json=PAYLOAD, headers=headers)
        assert first.status_code == 200, first.text
        status_url = f"/v1/ingestions/{first.json()['ingestion_id']}"

        await switchable.stop()
        during = [
            await http.post("/v1/ingest", json=PAYLOAD, headers=headers),
            await http.get(status_url, headers=headers),
            await http.get("/v1/metrics", headers=headers),
        ]
        ready_during = await http.get("/readyz")

        await switchable.start()
        deadline = time.monotonic() + 15
        while (after := await http.get(status_url, headers=headers)).status_code != 200:
            assert_unavailable(after)  # at most a connection found dead on the way back
            assert time.monotonic() < deadline, "the app never recovered"
            await asyncio.sleep(0.2)
        again = await http.post("/v1/ingest", json=g.envelope(metrics=[]), headers=headers)
        ready_after = await http.get("/readyz")

    for resp in during:
        assert_unavailable(resp)
        assert int(resp.headers["retry-after"]) >= 1
        assert resp.json()["type"] == "/problems/database-unavailable"
    assert ready_during.status_code == 503
    assert ready_during.json()["checks"]["database"].startswith("failed")
    assert again.status_code == 200, again.text
    assert ready_after.status_code == 200, ready_after.text


async def test_connection_terminated_by_the_server_is_503_and_the_next_request_recovers(
    settings: Settings, make_key: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a PostgreSQL shutdown or fail-over does to a pooled connection in steady use (not
    # pinged on checkout): its next statement meets "terminating connection" (57P01).
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)
    _, token = await make_key()
    headers = bearer(token)
    one = settings.model_copy(update={"db_pool_size": 1})
    async with running(one) as app, asgi_client(app) as http:
        first = await http.post("/v1/ingest", json=PAYLOAD, headers=headers)
        assert first.status_code == 200, first.text
        status_url = f"/v1/ingestions/{first.json()['ingestion_id']}"
        async with app.state.engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        admin = await asyncpg.connect(
            make_url(settings.database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()

        cut = await http.get(status_url, headers=headers)
        after = await http.get(status_url, headers=headers)

    assert_unavailable(cut)
    assert cut.headers["retry-after"]
    assert after.status_code == 200, after.text
