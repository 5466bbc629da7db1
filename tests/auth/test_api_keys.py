"""API keys: who may write, who may read what, and how a refusal looks."""

from __future__ import annotations

import secrets
import string
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import hae_generator as g

Writer = tuple[int, dict[str, str]]
BASE62 = string.digits + string.ascii_letters
PAYLOAD = g.envelope(
    metrics=[g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 3))]
)


def well_formed_key(key_id: str | None = None) -> str:
    key_id = key_id or "".join(
        secrets.choice(string.digits + string.ascii_lowercase) for _ in range(12)
    )
    return f"hae_{key_id}_{''.join(secrets.choice(BASE62) for _ in range(43))}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post("/v1/ingest", json=PAYLOAD, headers=headers)


def assert_unauthorized(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.headers["www-authenticate"].lower().startswith("bearer")
    problem: dict[str, Any] = resp.json()
    assert {"type", "title", "status"} <= problem.keys()
    assert (problem["type"], problem["status"]) == ("/problems/unauthorized", 401)
    return problem


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


async def count(db: Any, table: str, user_id: int) -> int:
    sql = f"SELECT count(*) AS n FROM {table} WHERE user_id = :u"  # noqa: S608 - table is ours
    rows = await db(sql, u=user_id)
    return int(rows[0]["n"])


async def test_no_key_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await post(client, {}))


@pytest.mark.parametrize(
    "token",
    [
        "not-a-key",
        "hae_short_secret",
        well_formed_key("ABCDEFGHIJKL"),  # key id must be lower case
        well_formed_key() + "x",  # secret one character too long
    ],
    ids=["garbage", "short", "upper_key_id", "long_secret"],
)
async def test_malformed_key_is_401(token: str, client: httpx.AsyncClient) -> None:
    assert_unauthorized(await post(client, bearer(token)))


async def test_unknown_key_id_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await post(client, bearer(well_formed_key())))


async def test_wrong_secret_for_existing_key_id_is_401(
    client: httpx.AsyncClient, make_key: Any, db: Any
) -> None:
    user_id, token = await make_key()
    key_id = token.split("_")[1]

    assert_unauthorized(await post(client, bearer(well_formed_key(key_id))))
    assert await count(db, "raw_ingestions", user_id) == 0


async def test_unknown_key_id_and_wrong_secret_look_the_same(
    client: httpx.AsyncClient, make_key: Any
) -> None:
    _, token = await make_key()
    key_id = token.split("_")[1]

    unknown = await post(client, bearer(well_formed_key()))
    wrong = await post(client, bearer(well_formed_key(key_id)))

    assert assert_unauthorized(unknown) == assert_unauthorized(wrong)
    assert unknown.headers["www-authenticate"] == wrong.headers["www-authenticate"]


@pytest.mark.parametrize(
    "header",
    [
        lambda t: {"Authorization": f"Bearer {t}"},
        lambda t: {"X-API-Key": t},
        lambda t: {"api-key": t},
    ],
    ids=["authorization_bearer", "x_api_key", "api_key"],
)
async def test_each_key_header_is_accepted(
    header: Any, client: httpx.AsyncClient, make_key: Any, db: Any
) -> None:
    user_id, token = await make_key()

    resp = await post(client, header(token))

    assert resp.status_code == 200, resp.text
    assert resp.json()["totals"]["inserted"] == 3
    assert await count(db, "activity_metrics", user_id) == 3


async def test_read_only_key_cannot_ingest(
    client: httpx.AsyncClient, make_key: Any, db: Any
) -> None:
    user_id, token = await make_key(user="reader", scopes=("read",))

    resp = await post(client, bearer(token))

    assert resp.status_code == 403, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["status"] == 403
    assert await count(db, "raw_ingestions", user_id) == 0


async def test_ingestion_of_another_user_is_404(
    client: httpx.AsyncClient, writer: Writer, make_key: Any
) -> None:
    _, alice = writer
    _, bob_token = await make_key(user="bob")
    bobs = await post(client, bearer(bob_token))
    assert bobs.status_code == 200, bobs.text
    url = f"/v1/ingestions/{bobs.json()['ingestion_id']}"

    as_alice = await client.get(url, headers=alice)
    as_bob = await client.get(url, headers=bearer(bob_token))

    assert as_alice.status_code == 404
    assert as_alice.headers["content-type"].startswith("application/problem+json")
    assert as_bob.status_code == 200


INACTIVE = {
    "revoked_key": "UPDATE api_keys SET revoked_at = now() WHERE key_id = :key_id",
    "disabled_user": (
        "UPDATE users SET disabled_at = now()"
        " WHERE id = (SELECT user_id FROM api_keys WHERE key_id = :key_id)"
    ),
    "expired_key": (
        "UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE key_id = :key_id"
    ),
}


@pytest.mark.parametrize("sql", INACTIVE.values(), ids=INACTIVE.keys())
async def test_inactive_key_is_401_even_after_it_worked(
    sql: str, client: httpx.AsyncClient, make_key: Any, engine: AsyncEngine
) -> None:
    _, token = await make_key()
    assert (await post(client, bearer(token))).status_code == 200  # verified and cached

    await execute(engine, sql, key_id=token.split("_")[1])

    refused = assert_unauthorized(await post(client, bearer(token)))
    assert_unauthorized(await client.get("/v1/ingestions/1", headers=bearer(token)))
    # One answer for every refusal: nothing tells a caller the key exists but is inactive.
    assert refused == assert_unauthorized(await post(client, bearer(well_formed_key())))
