"""A real Redis, killed mid-test (and one hung): the service keeps authenticating and limiting,
never answers 500, counts the fallbacks, and goes back to Redis once it returns."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from app.config import Settings
from tests.auth.conftest import MakeKey
from tests.auth.support import PAYLOAD, asgi_client, fresh_window, running

REDIS_SERVER = Path("/usr/bin/redis-server")
BREAKER_S = 5.0  # app.ratelimit.limiter._BREAKER_S: how long the limiter leaves Redis alone


class PrivateRedis:
    """A redis-server of this test's own, on a free port, without persistence."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            str(REDIS_SERVER),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            assert self.proc.returncode is None, "redis-server exited"
            try:
                await self.command("PING")
                return
            except (RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        self.proc = None

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    async def command(self, *args: Any) -> Any:
        redis = Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return await redis.execute_command(*args)  # type: ignore[no-untyped-call]
        finally:
            await redis.aclose()

    async def keys(self, pattern: str) -> list[bytes]:
        return list(await self.command("KEYS", pattern))


@pytest.fixture
def redis_server_binary() -> Path:
    assert REDIS_SERVER.is_file(), f"redis-server is needed at {REDIS_SERVER}"
    return REDIS_SERVER


@pytest.fixture
async def private_redis(redis_server_binary: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis()
    await server.start()
    yield server
    if server.proc is not None:
        server.proc.send_signal(signal.SIGCONT)
        await server.kill()


def fallbacks(component: str) -> float:
    value = REGISTRY.get_sample_value("hae_redis_fallbacks_total", {"component": component})
    return value or 0.0


async def ingest(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await http.post("/v1/ingest", json=PAYLOAD, headers=headers)


async def test_redis_killed_mid_test_service_keeps_authenticating_and_limiting(
    private_redis: PrivateRedis, settings: Settings, new_key: MakeKey, clean_db: None
) -> None:
    budget = 5
    ours = settings.model_copy(update={"redis_url": private_redis.url})
    seen = await new_key()  # used before the outage: verified and cached
    unseen = await new_key()  # first used during it: Argon2 against the database
    limited = await new_key(rate_limit_requests=budget)
    async with running(ours) as app, asgi_client(app) as http:
        first = await ingest(http, seen.headers)
        assert first.status_code == 200, first.text
        url = f"/v1/ingestions/{first.json()['ingestion_id']}"
        prefix = ours.redis_prefix
        assert await private_redis.keys(f"{prefix}:rl:requests:{seen.key_id}:*")
        assert await private_redis.keys(f"{prefix}:auth:{seen.key_id}")
        ratelimit_before, auth_before = fallbacks("ratelimit"), fallbacks("auth")

        await private_redis.kill()

        await fresh_window(ours.rate_limit_window_s)
        assert (await http.get(url, headers=seen.headers)).status_code == 200
        assert (await http.get(url, headers=unseen.headers)).status_code == 200
        burst = await asyncio.gather(
            *(http.get(url, headers=limited.headers) for _ in range(budget + 7))
        )
        assert Counter(r.status_code for r in burst) == {200: budget, 429: 7}
        assert all(r.headers.get("retry-after") for r in burst if r.status_code == 429)
        # Ingest too (byte budget, database writes): no 500 anywhere.
        assert (await ingest(http, unseen.headers)).status_code == 200
        assert fallbacks("ratelimit") > ratelimit_before
        assert fallbacks("auth") > auth_before  # the unseen key's cache lookup

        # Redis back (empty, on the same port): used again once the breaker lets it.
        await private_redis.start()
        deadline = time.monotonic() + BREAKER_S + 5
        while not await private_redis.keys(f"{prefix}:rl:requests:{seen.key_id}:*"):
            assert time.monotonic() < deadline, "the limiter never went back to Redis"
            assert (await http.get(url, headers=seen.headers)).status_code == 200
            await asyncio.sleep(0.5)
        settled = fallbacks("ratelimit")
        assert (await http.get(url, headers=seen.headers)).status_code == 200
        assert fallbacks("ratelimit") == settled


async def test_hung_redis_costs_at_most_its_timeout(
    private_redis: PrivateRedis, settings: Settings, new_key: MakeKey, clean_db: None
) -> None:
    ours = settings.model_copy(update={"redis_url": private_redis.url, "redis_timeout_s": 0.3})
    seen = await new_key()
    unseen = await new_key()
    async with running(ours) as app, asgi_client(app) as http:
        assert (await ingest(http, seen.headers)).status_code == 200

        auth_before = fallbacks("auth")
        private_redis.signal(signal.SIGSTOP)  # accepts connections, never answers
        try:
            timings = []
            for key in (seen, unseen, seen, unseen):
                started = time.monotonic()
                resp = await http.get("/v1/ingestions/1", headers=key.headers)
                timings.append(time.monotonic() - started)
                assert resp.status_code == 200, resp.text
        finally:
            private_redis.signal(signal.SIGCONT)

    # A few timeouts at most (cache lookup and store, one limiter call before its breaker
    # opens), plus one Argon2 check: never a stall.
    assert max(timings) < 3.0, timings
    # The verified-key cache has a breaker of its own: one timeout, then Redis is left alone
    # (without it, each lookup and store of the unseen key waited for its own timeout).
    assert fallbacks("auth") - auth_before == 1


async def test_redis_stopped_pod_stays_ready_and_revoked_keys_are_still_refused(
    private_redis: PrivateRedis, settings: Settings, new_key: MakeKey, engine: Any
) -> None:
    ours = settings.model_copy(update={"redis_url": private_redis.url})
    revoked = await new_key()
    other = await new_key(user="bob")
    async with running(ours) as app, asgi_client(app) as http:
        assert (await ingest(http, revoked.headers)).status_code == 200  # verified and cached
        assert (await http.get("/readyz")).json()["status"] == "ready"

        await private_redis.kill()
        ready = await http.get("/readyz")
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE api_keys SET revoked_at = now() WHERE key_id = :k"),
                {"k": revoked.key_id},
            )
        refused = await ingest(http, revoked.headers)
        accepted = await ingest(http, other.headers)
        scraped = (await http.get("/metrics")).text

    # The API still works through its fallbacks: a readiness probe must not pull the pod.
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["redis"].startswith("failed")
    assert 'hae_dependency_up{dependency="redis"} 0.0' in scraped
    assert 'hae_dependency_up{dependency="database"} 1.0' in scraped
    assert refused.status_code == 401
    assert accepted.status_code == 200, accepted.text
