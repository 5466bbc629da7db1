"""Background processing: 202 for large bodies, and nothing lost whatever kills the worker."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from app import worker
from app.config import Settings
from app.main import create_app
from tests import hae_generator as g
from tests.conftest import ROOT, _dsn

DATA_TABLES = (
    "heart_rate_metrics",
    "activity_metrics",
    "sleep_segments",
    "workouts",
    "workout_series",
)


@pytest.fixture
async def small_threshold_client(
    settings: Settings, clean_db: None
) -> AsyncIterator[httpx.AsyncClient]:
    """An app that queues every body over 1 kB for the worker."""
    app = create_app(settings.model_copy(update={"async_threshold_bytes": 1000}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def _counts(url: str, user_id: int) -> dict[str, int]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return {
            table: await conn.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", user_id)  # noqa: S608
            for table in DATA_TABLES
        }
    finally:
        await conn.close()


async def _drain(settings: Settings) -> int:
    return await worker.run(settings, asyncio.Event(), exit_when_idle=True)


async def test_large_body_is_accepted_then_processed_by_the_worker(
    small_threshold_client: httpx.AsyncClient, make_key: Any, settings: Settings, migrated_url: str
) -> None:
    user_id, token = await make_key(user="big")
    headers = {"Authorization": f"Bearer {token}"}
    body = json.dumps(g.big_payload(points=3000, seed=1)).encode()

    accepted = await small_threshold_client.post("/v1/ingest", content=body, headers=headers)

    assert accepted.status_code == 202, accepted.text
    location = accepted.headers["location"]
    assert location == f"/v1/ingestions/{accepted.json()['ingestion_id']}"
    waiting = await small_threshold_client.get(location, headers=headers)
    assert waiting.status_code == 202
    assert waiting.json()["status"] == "pending"
    assert sum((await _counts(migrated_url, user_id)).values()) == 0

    assert await _drain(settings) == 1

    done = await small_threshold_client.get(location, headers=headers)
    assert done.status_code == 200
    report = done.json()
    assert report["status"] == "processed"
    assert report["totals"]["rejected"] == 0
    assert report["totals"]["inserted"] == report["totals"]["received"] == 3000 + 2
    again = await small_threshold_client.post("/v1/ingest", content=body, headers=headers)
    assert again.json()["status"] == "duplicate"


async def test_gzip_large_body_is_streamed_to_the_archive(
    small_threshold_client: httpx.AsyncClient, make_key: Any, settings: Settings, db: Any
) -> None:
    _, token = await make_key(user="gz")
    body = json.dumps(g.big_payload(points=2000, seed=2)).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}

    accepted = await small_threshold_client.post(
        "/v1/ingest", content=gzip.compress(body), headers=headers
    )

    assert accepted.status_code == 202
    rows = await db("SELECT size_bytes, body FROM raw_ingestions")
    from app.ingest.receive.archive import decompress

    assert rows[0]["size_bytes"] == len(body)
    assert decompress(rows[0]["body"]) == body
    assert await _drain(settings) == 1


async def _queue(url: str, client: httpx.AsyncClient, headers: dict[str, str], body: bytes) -> int:
    response = await client.post("/v1/ingest", content=body, headers=headers)
    assert response.status_code == 202, response.text
    return int(response.json()["ingestion_id"])


def _worker_process(url: str, settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.redis_url,
        "HAE_REDIS_PREFIX": settings.redis_prefix,
        "HAE_WORKER_LEASE_S": "5",
        "HAE_WORKER_POLL_S": "0.2",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _status(url: str, ingestion_id: int) -> str:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return str(
            await conn.fetchval("SELECT status FROM raw_ingestions WHERE id = $1", ingestion_id)
        )
    finally:
        await conn.close()


async def _wait_for(predicate: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_worker_killed_mid_ingest_is_finished_by_the_next_one(
    small_threshold_client: httpx.AsyncClient, make_key: Any, settings: Settings, migrated_url: str
) -> None:
    payload = json.dumps(g.big_payload(points=60_000, seed=3)).encode()
    clean_user, clean_token = await make_key(user="clean")
    victim_user, victim_token = await make_key(user="victim")
    clean_id = await _queue(
        migrated_url, small_threshold_client, {"Authorization": f"Bearer {clean_token}"}, payload
    )
    assert await _drain(settings) == 1
    assert await _status(migrated_url, clean_id) == "processed"
    expected = await _counts(migrated_url, clean_user)

    victim_id = await _queue(
        migrated_url, small_threshold_client, {"Authorization": f"Bearer {victim_token}"}, payload
    )
    admin = await asyncpg.connect(_dsn(migrated_url))
    lock_key = f"activity_metrics:{victim_user}"
    # The victim's steps upsert waits on this lock: the worker is caught mid-ingest every time.
    await admin.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", lock_key)
    first = _worker_process(migrated_url, settings)
    try:

        async def half_written() -> bool:
            waiting = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'hae-server' AND wait_event = 'advisory'"
            )
            counts = await _counts(migrated_url, victim_user)
            return bool(waiting) and sum(counts.values()) > 0

        await _wait_for(half_written, within=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        await admin.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock_key)
        await admin.close()
    assert await _status(migrated_url, victim_id) == "processing"  # held by a dead worker
    partial = await _counts(migrated_url, victim_user)

    second = _worker_process(migrated_url, settings)
    try:

        async def processed() -> bool:
            return await _status(migrated_url, victim_id) == "processed"

        await _wait_for(processed, within=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    assert sum(partial.values()) < sum(expected.values())
    assert await _counts(migrated_url, victim_user) == expected
    assert second.returncode == 0  # SIGTERM: finished cleanly


async def test_lost_database_connection_is_retried_to_exact_rows(
    small_threshold_client: httpx.AsyncClient, make_key: Any, settings: Settings, migrated_url: str
) -> None:
    payload = json.dumps(g.big_payload(points=40_000, seed=4)).encode()
    clean_user, clean_token = await make_key(user="clean2")
    user_id, token = await make_key(user="cut")
    await _queue(
        migrated_url, small_threshold_client, {"Authorization": f"Bearer {clean_token}"}, payload
    )
    assert await _drain(settings) == 1
    expected = await _counts(migrated_url, clean_user)
    ingestion_id = await _queue(
        migrated_url, small_threshold_client, {"Authorization": f"Bearer {token}"}, payload
    )
    fast = settings.model_copy(update={"worker_poll_s": 0.1})
    admin = await asyncpg.connect(_dsn(migrated_url))
    # Hold the lock the worker's activity upsert needs, so it is caught mid-ingest every time:
    # heart rate already committed, steps waiting on the lock.
    lock = "SELECT pg_advisory_lock(hashtextextended('activity_metrics:' || $1::text, 0))"
    await admin.execute(lock, str(user_id))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(fast, stop))
    try:

        async def waiting_mid_ingest() -> bool:
            waiting = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'hae-server' AND wait_event = 'advisory'"
            )
            return bool(waiting) and sum((await _counts(migrated_url, user_id)).values()) > 0

        await _wait_for(waiting_mid_ingest, within=60)
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'hae-server'"
            " AND wait_event = 'advisory'"
        )
        assert killed == 1
        await admin.execute(
            "SELECT pg_advisory_unlock(hashtextextended('activity_metrics:' || $1::text, 0))",
            str(user_id),
        )

        async def processed() -> bool:
            return await _status(migrated_url, ingestion_id) == "processed"

        await _wait_for(processed, within=90)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
        attempts = await admin.fetchval(
            "SELECT attempts FROM raw_ingestions WHERE id = $1", ingestion_id
        )
        await admin.close()

    assert attempts >= 2
    assert await _counts(migrated_url, user_id) == expected


async def test_an_idle_worker_is_woken_by_the_queue_and_waiters_by_the_outcome(
    small_threshold_client: httpx.AsyncClient, make_key: Any, settings: Settings, migrated_url: str
) -> None:
    """The worker polls only every 5 minutes here: it can only be this quick if NOTIFY woke it,
    and the held GET returns with the report as soon as the outcome is committed."""
    user_id, token = await make_key(user="notified")
    headers = {"Authorization": f"Bearer {token}"}
    stop = asyncio.Event()
    sleepy = settings.model_copy(update={"worker_poll_s": 300.0})
    running = asyncio.create_task(worker.run(sleepy, stop))
    try:
        await asyncio.sleep(0.5)  # idle, and listening
        body = json.dumps(g.big_payload(points=500, seed=3)).encode()
        accepted = await small_threshold_client.post("/v1/ingest", content=body, headers=headers)
        assert accepted.status_code == 202, accepted.text

        held = await asyncio.wait_for(
            small_threshold_client.get(
                accepted.headers["location"], params={"wait": 60}, headers=headers
            ),
            timeout=60,
        )

        assert held.status_code == 200, held.text
        assert held.json()["status"] == "processed"
        assert held.json()["totals"]["rejected"] == 0
        assert sum((await _counts(migrated_url, user_id)).values()) > 500
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=30)


async def test_a_held_get_answers_202_when_its_wait_runs_out(
    small_threshold_client: httpx.AsyncClient, make_key: Any
) -> None:
    _, token = await make_key(user="patient")
    headers = {"Authorization": f"Bearer {token}"}
    body = json.dumps(g.big_payload(points=200, seed=4)).encode()
    accepted = await small_threshold_client.post("/v1/ingest", content=body, headers=headers)
    location = accepted.headers["location"]

    held = await small_threshold_client.get(location, params={"wait": 0.3}, headers=headers)

    assert held.status_code == 202
    assert held.json()["status"] == "pending"
    too_long = await small_threshold_client.get(location, params={"wait": 61}, headers=headers)
    assert too_long.status_code == 422
    assert too_long.headers["content-type"].startswith("application/problem+json")
