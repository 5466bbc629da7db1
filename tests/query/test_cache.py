"""The Redis cache of aggregates: on for a user once an ingest has given them a data version;
hits are served from Redis, the next ingest or a deletion makes the next read fresh; with Redis
unreachable every read still works."""

from __future__ import annotations

from typing import Any

import httpx
from redis.asyncio import Redis

from app.config import Settings
from app.main import create_app
from app.query.cache import QueryCache, invalidate_user, version_key
from tests import hae_generator as g
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


async def test_nothing_is_cached_for_a_user_without_a_data_version(
    client: httpx.AsyncClient, alice: Account, settings: Settings, app: Any
) -> None:
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    await app.state.redis.delete(version_key(settings.redis_prefix, alice.user_id))

    assert await day_total(client, alice) > 0
    assert await entries(settings, alice.user_id) == []


async def test_reads_are_cached_and_never_stale_after_an_ingest(
    client: httpx.AsyncClient, alice: Account, bob: Account, settings: Settings, app: Any
) -> None:
    redis, prefix = app.state.redis, settings.redis_prefix
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))  # gives alice a version
    listed = (await client.get("/v1/metrics", headers=alice.headers)).json()
    total = await day_total(client, alice)
    cached = await entries(settings, alice.user_id)
    assert len(cached) == 2  # the metric list and the day buckets

    # Served from Redis: a value planted under the current version is what comes back.
    cache = QueryCache(redis, prefix)
    assert await cache.get_or_compute(alice.user_id, "metrics", (), _fail) == listed
    assert await day_total(client, alice) == total

    # The ingest itself invalidates (IngestService.process): no manual step.
    await ingest(client, alice.headers, steps(g.T0 + g.HOUR, 10, seed=2))

    assert await day_total(client, alice) > total
    refreshed = (await client.get("/v1/metrics", headers=alice.headers)).json()
    assert refreshed["metrics"][0]["count"] == 20
    assert await entries(settings, bob.user_id) == []  # per user


async def _fail() -> Any:
    raise AssertionError("computed instead of read from the cache")


async def test_a_deletion_invalidates_cached_reads(
    client: httpx.AsyncClient, alice: Account, settings: Settings, app: Any
) -> None:
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    assert await day_total(client, alice) > 0
    version = await app.state.redis.get(version_key(settings.redis_prefix, alice.user_id))

    deleted = await client.delete(
        "/v1/data", params={"metric": "step_count"}, headers=alice.headers
    )

    assert deleted.status_code == 200
    assert await day_total(client, alice) == 0
    after = await app.state.redis.get(version_key(settings.redis_prefix, alice.user_id))
    assert int(after) == int(version) + 1


async def test_a_deletion_does_not_switch_caching_on(
    client: httpx.AsyncClient, alice: Account, settings: Settings, app: Any
) -> None:
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    await app.state.redis.delete(version_key(settings.redis_prefix, alice.user_id))

    await client.delete("/v1/data", params={"section": "ecg"}, headers=alice.headers)

    assert await app.state.redis.get(version_key(settings.redis_prefix, alice.user_id)) is None


async def test_reads_work_with_redis_unreachable(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    await ingest(client, alice.headers, steps(g.T0, 10, seed=1))
    workout = g.workout_v2()
    await ingest(client, alice.headers, g.envelope(workouts=[workout]))
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    application = create_app(broken)
    async with application.router.lifespan_context(application):
        await invalidate_user(application.state.redis, broken.redis_prefix, alice.user_id)
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
