"""Revocation, user disable and rotation through the admin CLI take effect on the next request,
whatever was cached (in process, in Redis, on another replica)."""

from __future__ import annotations

import io
import sys
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import keys
from app.auth.service import cache_key
from app.config import Settings
from tests.auth.conftest import MakeKey
from tests.auth.support import PAYLOAD, asgi_client, assert_problem, bearer, ratelimit, running


async def post(http: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await http.post("/v1/ingest", json=PAYLOAD, headers=headers)).status_code


async def assert_refused(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    resp = await http.post("/v1/ingest", json=PAYLOAD, headers=headers)
    assert_problem(resp, 401)


async def warm(app: Any, http: httpx.AsyncClient, key_id: str, headers: dict[str, str]) -> None:
    """One successful request: the verification is now cached in process and in Redis."""
    assert await post(http, headers) == 200
    redis: Redis = app.state.redis
    assert await redis.exists(cache_key(app.state.settings, key_id)) == 1


async def test_cli_revoke_takes_effect_on_the_next_request(
    app: Any, client: httpx.AsyncClient, new_key: MakeKey, cli: Any
) -> None:
    key = await new_key()
    other = await new_key()
    await warm(app, client, key.key_id, key.headers)

    result = await cli("keys", "revoke", key.key_id)

    assert result.code == 0, result.out
    await assert_refused(client, key.headers)
    assert await post(client, other.headers) == 200  # only that key
    listed = await cli("keys", "list", key.user)
    line = next(x for x in listed.out.splitlines() if x.startswith(key.key_id))
    assert "\trevoked\t" in line
    assert key.secret not in listed.out
    assert other.secret not in listed.out


async def test_sql_revoke_reaches_every_replica_at_once(
    app: Any, client: httpx.AsyncClient, new_key: MakeKey, settings: Settings, engine: AsyncEngine
) -> None:
    key = await new_key()
    async with running(settings) as replica, asgi_client(replica) as other:
        await warm(app, client, key.key_id, key.headers)
        assert await post(other, key.headers) == 200  # warm on the replica too

        async with engine.begin() as conn:
            # Behind the application's back: no cache is dropped, only the row changes.
            await conn.execute(
                text("UPDATE api_keys SET revoked_at = now() WHERE key_id = :k"),
                {"k": key.key_id},
            )

        await assert_refused(client, key.headers)
        await assert_refused(other, key.headers)


async def test_cli_user_disable_stops_all_their_keys_at_once(
    app: Any, client: httpx.AsyncClient, new_key: MakeKey, cli: Any
) -> None:
    phone = await new_key(user="carol")
    dashboard = await new_key(user="carol", scopes=("read",))
    bystander = await new_key(user="dave")
    await warm(app, client, phone.key_id, phone.headers)
    assert (await client.get("/v1/ingestions/1", headers=dashboard.headers)).status_code == 200

    result = await cli("users", "disable", "carol")

    assert result.code == 0, result.out
    await assert_refused(client, phone.headers)
    resp = await client.get("/v1/ingestions/1", headers=dashboard.headers)
    assert_problem(resp, 401)
    assert await post(client, bystander.headers) == 200
    users = await cli("users", "list")
    carol = next(line for line in users.out.splitlines() if "\tcarol\t" in line)
    assert "\tdisabled " in carol


async def test_cli_rotate_gives_a_working_key_and_keeps_the_old_one_for_the_grace_period(
    app: Any, client: httpx.AsyncClient, new_key: MakeKey, cli: Any
) -> None:
    old = await new_key(rate_limit_requests=77, rate_limit_bytes=123_456)
    await warm(app, client, old.key_id, old.headers)

    rotated = await cli("keys", "rotate", old.key_id, "--grace-hours", "1")

    assert rotated.code == 0, rotated.out
    token = rotated.last_line
    parsed = keys.parse(token)
    assert parsed is not None
    assert parsed[0] != old.key_id
    assert await post(client, bearer(token)) == 200
    assert await post(client, old.headers) == 200  # within the grace period
    # Same user, scopes and budgets.
    resp = await client.get("/v1/ingestions/1", headers=bearer(token))
    assert resp.status_code == 200
    limits = ratelimit(resp)
    assert (limits["requests"]["q"], limits["bytes"]["q"]) == (77, 123_456)


async def test_cli_rotate_without_grace_stops_the_old_key_at_once(
    app: Any, client: httpx.AsyncClient, new_key: MakeKey, cli: Any
) -> None:
    old = await new_key()
    await warm(app, client, old.key_id, old.headers)

    rotated = await cli("keys", "rotate", old.key_id, "--grace-hours", "0")

    assert rotated.code == 0, rotated.out
    await assert_refused(client, old.headers)
    assert await post(client, bearer(rotated.last_line)) == 200
    # A revoked key cannot be rotated back to life.
    assert (await cli("keys", "revoke", old.key_id)).code == 0
    assert (await cli("keys", "rotate", old.key_id)).code == 4


async def test_cli_create_applies_the_key_budgets_it_is_given(
    client: httpx.AsyncClient, cli: Any, db: Any
) -> None:
    assert (await cli("users", "create", "judy")).code == 0

    created = await cli(
        "keys", "create", "judy", "--rate-limit-requests", "7", "--rate-limit-bytes", "9000"
    )

    assert created.code == 0, created.out
    key_id = created.last_line.split("_")[1]
    row = (
        await db(
            "SELECT rate_limit_requests, rate_limit_bytes FROM api_keys WHERE key_id = :k",
            k=key_id,
        )
    )[0]
    assert (row["rate_limit_requests"], row["rate_limit_bytes"]) == (7, 9000)
    resp = await client.post("/v1/ingest", json=PAYLOAD, headers=bearer(created.last_line))
    assert resp.status_code == 200, resp.text
    limits = ratelimit(resp)
    assert (limits["requests"]["q"], limits["bytes"]["q"]) == (7, 9000)
    # A budget below one is a usage error, not a silent fallback to the server's default.
    assert (await cli("keys", "create", "judy", "--rate-limit-requests", "-5")).code == 2


@pytest.mark.parametrize("days", ["0", "-1"])
async def test_cli_create_refuses_an_expiry_below_one_day(
    cli: Any, db: Any, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    # 0 used to make a key that never expires, -1 one that was expired at birth.
    assert (await cli("users", "create", "kate")).code == 0
    capsys.readouterr()

    refused = await cli("keys", "create", "kate", "--expires-days", days)

    assert refused.code == 2
    assert "--expires-days" in capsys.readouterr().err
    assert (await db("SELECT count(*) AS n FROM api_keys"))[0]["n"] == 0


async def test_cli_create_with_expires_days_sets_the_expiry(cli: Any, db: Any) -> None:
    assert (await cli("users", "create", "liam")).code == 0

    created = await cli("keys", "create", "liam", "--expires-days", "1")

    assert created.code == 0, created.out
    row = (await db("SELECT expires_at - created_at AS valid FROM api_keys"))[0]
    assert timedelta(hours=23) < row["valid"] <= timedelta(days=1, minutes=1)


async def test_cli_verify_says_whether_a_key_authenticates(
    cli: Any, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def verify(token: str) -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(token + "\n"))
        return int((await cli("keys", "verify")).code)

    assert (await cli("users", "create", "mia")).code == 0
    token = (await cli("keys", "create", "mia")).last_line
    key_id = token.split("_")[1]

    assert await verify(token) == 0
    assert await verify(token[:-1] + ("a" if token[-1] != "a" else "b")) == 4
    assert await verify("not a key") == 4
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE api_keys SET expires_at = now() - interval '1 minute'"))
    assert await verify(token) == 4
    assert (await cli("keys", "revoke", key_id)).code == 0
    assert await verify(token) == 4
