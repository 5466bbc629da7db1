"""The Redis cache of aggregates, keyed by the user's data generation in PostgreSQL: hits are
served from Redis, the next ingest or a deletion makes the next read fresh (even when Redis lost
the invalidation); with Redis unreachable every read still works."""

from __future__ import annotations

from typing import Any

import httpx
from redis.asyncio import Redis

from app.config import Settings
from app.main import create_app
from app.query.cache import QueryCache
from tests import hae_generator as g
from tests.auth.support import running
from tests.conftest import TEST_REDIS_URL
from tests.query.support import Account, ingest

DAY = {"bucket": "day"}


def steps(start: Any, count: int, seed: int) -> dict[str, Any]:
    points = g.quantity_points("step_count", "count", start, count, seed=seed)
    return g.envelope(metrics=[g.metric("step_count", "count", points)])


async def entries(settings: Settings, user_id: int) -> list[bytes]:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        pattern = f"{settings.redis_prefix}:q:{user_id}:*"
        return [key async for key in redis.scan_iter(match=pattern)]
    finally:
        await redis.aclose()


async def day_total(client: httpx.AsyncClient, account: Account) -> float:
    response = await client.get("/v1/metrics/step_count", params=DAY, headers=account.headers)
    assert response.status_code == 200, response.text
    return float(sum(b["sum"] for b in response.json()["items"]))


async def generation(db: Any, user_id: int) -> int:
    rows = await db("SELECT generation FROM user_data_generations WHERE user_id = :u", u=user_id)
    return int(rows[0]["generation"]) if rows else 0


async def test_each_finished_ingest_bumps_the_generation_in_its_transaction(
    client: httpx.AsyncClient, alice: Account, bob: Account, db: Any
) -> None:
    assert await generation(db, alice.user_id) == 0

    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    first = await generation(db, alice.user_id)
    await ingest(client, alice.headers, steps(g.T0 + g.HOUR, 10, seed=2))

    assert first >= 1
    assert await generation(db, alice.user_id) > first
    assert await generation(db, bob.user_id) == 0  # per user


async def test_reads_are_cached_and_never_stale_after_an_ingest(
    client: httpx.AsyncClient, alice: Account, bob: Account, settings: Settings, app: Any
) -> None:
    redis, prefix = app.state.redis, settings.redis_prefix
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    listed = (await client.get("/v1/metrics", headers=alice.headers)).json()
    total = await day_total(client, alice)
    cached = await entries(settings, alice.user_id)
    assert len(cached) == 2  # the metric list and the day buckets

    # Served from Redis: a value planted under the current version is what comes back.
    cache = QueryCache(redis, prefix, engine=app.state.engine)
    assert await cache.get_or_compute(alice.user_id, "metrics", (), _fail) == listed
    assert await day_total(client, alice) == total

    # The ingest itself moves the generation on (in its transaction): no manual step.
    await ingest(client, alice.headers, steps(g.T0 + g.HOUR, 10, seed=2))

    assert await day_total(client, alice) > total
    refreshed = (await client.get("/v1/metrics", headers=alice.headers)).json()
    assert refreshed["metrics"][0]["count"] == 20
    assert await entries(settings, bob.user_id) == []  # per user


async def _fail() -> Any:
    raise AssertionError("computed instead of read from the cache")


async def test_a_deletion_invalidates_cached_reads(
    client: httpx.AsyncClient, alice: Account, db: Any
) -> None:
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    assert await day_total(client, alice) > 0
    before = await generation(db, alice.user_id)

    deleted = await client.delete(
        "/v1/data", params={"metric": "step_count"}, headers=alice.headers
    )

    assert deleted.status_code == 200
    assert await day_total(client, alice) == 0
    assert await generation(db, alice.user_id) == before + 1


async def test_an_invalidation_lost_in_redis_leaves_no_stale_read(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    total = await day_total(client, alice)
    assert len(await entries(settings, alice.user_id)) == 1  # the day buckets, cached

    # Another replica takes the next sync while Redis does not answer it (a stall): the data is
    # committed and acknowledged, whatever invalidation that replica attempted is lost.
    stalled = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with running(stalled) as replica:
        transport = httpx.ASGITransport(app=replica)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await ingest(http, alice.headers, steps(g.T0 + g.HOUR, 10, seed=2))

    assert await day_total(client, alice) > total


async def test_reads_work_with_redis_unreachable(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    workout = g.workout_v2()
    await ingest(client, alice.headers, g.envelope(workouts=[workout]))
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    application = create_app(broken)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            paths = [
                "/v1/metrics",
                "/v1/metrics/step_count?bucket=day",
                "/v1/metrics/step_count",
                "/v1/sleep",
                "/v1/workouts",
                "/v1/workouts/distance",
                "/v1/export",
            ]
            for path in paths:
                response = await http.get(path, headers=alice.headers)
                assert response.status_code == 200, (path, response.text)
            erased = await http.delete(
                "/v1/account", params={"confirm": "alice"}, headers=alice.headers
            )
            assert erased.status_code == 200, erased.text
            assert erased.json()["redis_keys_deleted"] is None
