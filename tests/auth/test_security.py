"""Rate limits (requests and bytes, on one replica or two), failed-attempt limits and the cost of
a refusal, against the real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
from argon2 import Type, extract_parameters
from prometheus_client import REGISTRY

from app.auth import keys
from app.config import Settings
from tests.auth.conftest import MakeKey
from tests.auth.support import (
    PAYLOAD,
    asgi_client,
    assert_problem,
    assert_rate_limited,
    bearer,
    fresh_window,
    payload,
    ratelimit,
    running,
    well_formed_key,
)

N, B = 50, 20
MiB = 1024 * 1024


async def post(
    http: httpx.AsyncClient, headers: dict[str, str], body: Any = PAYLOAD
) -> httpx.Response:
    return await http.post("/v1/ingest", json=body, headers=headers)


async def count_raw(db: Any, user_id: int) -> int:
    rows = await db("SELECT count(*) AS n FROM raw_ingestions WHERE user_id = :u", u=user_id)
    return int(rows[0]["n"])


async def ingestion_url(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """The URL of a stored ingestion: a cheap authenticated GET that answers 200."""
    resp = await post(http, headers)
    assert resp.status_code == 200, resp.text
    return f"/v1/ingestions/{resp.json()['ingestion_id']}"


# --- request budget ----------------------------------------------------------------------------


def patient(settings: Settings) -> Settings:
    """The suite's settings with a Redis timeout a loaded test host cannot trip: with 0.5 s, a
    starved event loop makes the limiter fall back to per-process budgets mid-burst (see
    ``no_fallback``), which is the outage path, tested in test_redis_outage.py."""
    return settings.model_copy(update={"redis_timeout_s": 5.0})


def fallbacks() -> float:
    value = REGISTRY.get_sample_value("hae_redis_fallbacks_total", {"component": "ratelimit"})
    return value or 0.0


def no_fallback(before: float) -> None:
    assert fallbacks() == before, (
        "Redis timed out during the burst: the limiter fell back to per-process budgets"
    )


async def test_parallel_requests_admit_exactly_the_budget(
    client: httpx.AsyncClient, new_key: MakeKey, settings: Settings
) -> None:
    owner = await new_key()
    url = await ingestion_url(client, owner.headers)
    limited = await new_key(rate_limit_requests=B)
    async with running(patient(settings)) as app, asgi_client(app) as http:
        await fresh_window(settings.rate_limit_window_s)
        # One request first, so the burst measures the limiter, not 50 concurrent Argon2 checks.
        assert (await http.get(url, headers=limited.headers)).status_code == 200
        before = fallbacks()

        burst = await asyncio.gather(*(http.get(url, headers=limited.headers) for _ in range(N)))

    no_fallback(before)
    assert Counter(r.status_code for r in burst) == {200: B - 1, 429: N - B + 1}
    for resp in burst:
        state = ratelimit(resp)["requests"]
        assert (state["q"], state["w"]) == (B, settings.rate_limit_window_s)
        if resp.status_code == 429:
            assert_rate_limited(resp)
            assert state["r"] == 0
            assert int(resp.headers["retry-after"]) >= state["t"]


async def test_two_replicas_share_one_budget(
    client: httpx.AsyncClient, new_key: MakeKey, settings: Settings
) -> None:
    owner = await new_key()
    url = await ingestion_url(client, owner.headers)
    limited = await new_key(rate_limit_requests=B)
    async with (
        running(patient(settings)) as one,
        running(patient(settings)) as two,
        asgi_client(one) as first,
        asgi_client(two) as second,
    ):
        await fresh_window(settings.rate_limit_window_s)
        # Each replica verifies the key once (its own in-process cache).
        assert (await first.get(url, headers=limited.headers)).status_code == 200
        assert (await second.get(url, headers=limited.headers)).status_code == 200
        before = fallbacks()

        burst = await asyncio.gather(
            *((first if i % 2 else second).get(url, headers=limited.headers) for i in range(N))
        )

    no_fallback(before)
    assert Counter(r.status_code for r in burst) == {200: B - 2, 429: N - B + 2}


# --- byte budget -------------------------------------------------------------------------------


class Body:
    """A request body handed over chunk by chunk, remembering how much the server pulled."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.chunk, self.pulled = data, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.chunk):
            part = self.data[start : start + self.chunk]
            self.pulled += len(part)
            yield part


async def test_body_over_byte_budget_with_content_length_is_refused_unread(
    client: httpx.AsyncClient, new_key: MakeKey, db: Any
) -> None:
    key = await new_key(rate_limit_bytes=5000)
    data = json.dumps(payload(points=100)).encode()
    assert len(data) > 5000
    body = Body(data, chunk=1000)

    resp = await client.post(
        "/v1/ingest",
        content=body.__aiter__(),
        headers={
            **key.headers,
            "Content-Type": "application/json",
            "Content-Length": str(len(data)),
        },
    )

    problem = assert_rate_limited(resp)
    assert problem.get("policy") == "bytes"
    assert body.pulled == 0  # refused on its Content-Length, before a byte was read
    assert await count_raw(db, key.user_id) == 0
    assert ratelimit(resp)["bytes"]["q"] == 5000


async def test_streamed_body_over_byte_budget_is_refused_part_way(
    client: httpx.AsyncClient, new_key: MakeKey, db: Any
) -> None:
    budget = 500_000
    key = await new_key(rate_limit_bytes=budget)
    data = b'{"data": {"metrics": [], "padding": "' + b"x" * (3 * MiB) + b'"}}'
    body = Body(data, chunk=64 * 1024)

    # No Content-Length: the body is charged per MiB as it streams.
    resp = await client.post(
        "/v1/ingest",
        content=body.__aiter__(),
        headers={**key.headers, "Content-Type": "application/json"},
    )

    assert "content-length" not in resp.request.headers
    assert_rate_limited(resp)
    assert body.pulled <= MiB + body.chunk, body.pulled  # stopped at the first MiB charged
    assert await count_raw(db, key.user_id) == 0
    assert ratelimit(resp)["bytes"]["q"] == budget


async def test_small_bodies_within_the_byte_budget_pass_and_are_counted(
    client: httpx.AsyncClient, new_key: MakeKey, db: Any, settings: Settings
) -> None:
    budget = 5000
    key = await new_key(rate_limit_bytes=budget)
    await fresh_window(settings.rate_limit_bytes_window_s)
    spent = 0
    for seed in range(3):
        data = json.dumps(payload(points=3, seed=seed)).encode()
        headers = {**key.headers, "Content-Type": "application/json"}
        if seed == 1:  # streamed without Content-Length: charged once it has all arrived
            resp = await client.post("/v1/ingest", content=Body(data, 100), headers=headers)
        else:
            resp = await client.post("/v1/ingest", content=data, headers=headers)
        assert resp.status_code == 200, resp.text
        spent += len(data)
        state = ratelimit(resp)["bytes"]
        assert (state["q"], state["r"], state["w"]) == (
            budget,
            budget - spent,
            settings.rate_limit_bytes_window_s,
        )
    assert await count_raw(db, key.user_id) == 3

    # One byte more than what is left: refused, and nothing was taken from the budget.
    too_big = json.dumps({**payload(points=3, seed=9), "pad": "x" * (budget - spent)}).encode()
    refused = await client.post(
        "/v1/ingest", content=too_big, headers={**key.headers, "Content-Type": "application/json"}
    )
    assert_rate_limited(refused)
    assert ratelimit(refused)["bytes"]["r"] == budget - spent
    assert await count_raw(db, key.user_id) == 3


async def test_every_authenticated_answer_carries_ratelimit_headers(
    client: httpx.AsyncClient, new_key: MakeKey, settings: Settings
) -> None:
    key = await new_key(rate_limit_requests=4)
    reader = await new_key(scopes=("read",))
    await fresh_window(settings.rate_limit_window_s)

    ok = await post(client, key.headers)
    missing = await client.get("/v1/ingestions/999999", headers=key.headers)
    invalid = await client.post(
        "/v1/ingest",
        content=b"{not json",
        headers={**key.headers, "Content-Type": "application/json"},
    )
    forbidden = await post(client, reader.headers)
    await post(client, key.headers)
    spent = await post(client, key.headers)

    assert [r.status_code for r in (ok, missing, invalid, forbidden, spent)] == [
        200,
        404,
        400,
        403,
        429,
    ]
    for resp in (ok, missing, invalid, forbidden, spent):
        limits = ratelimit(resp)
        assert limits.keys() == {"requests", "bytes"}, resp.headers["ratelimit-policy"]
        assert limits["requests"]["w"] == settings.rate_limit_window_s
        assert limits["bytes"]["w"] == settings.rate_limit_bytes_window_s
    assert ratelimit(ok)["requests"] == {
        "q": 4,
        "w": settings.rate_limit_window_s,
        "r": 3,
        "t": ratelimit(ok)["requests"]["t"],
    }
    assert ratelimit(missing)["requests"]["r"] == 2
    assert ratelimit(forbidden)["bytes"]["q"] == settings.rate_limit_bytes  # the server default
    assert ratelimit(spent)["requests"]["r"] == 0
    assert_rate_limited(spent)


# --- failed attempts ---------------------------------------------------------------------------


async def test_wrong_secrets_lock_out_their_address_on_that_key_never_its_owner(
    client_from: Any, new_key: MakeKey, verify_calls: list[str], db: Any, settings: Settings
) -> None:
    # The budget used to be the key id's: ten wrong secrets from anywhere locked its owner out.
    assert settings.auth_failures_per_key == 10
    key = await new_key()
    wrong_secrets = [well_formed_key(key.key_id) for _ in range(10)]
    async with client_from("198.51.100.7") as http:
        for token in wrong_secrets:
            assert_problem(await post(http, bearer(token)), 401)
        assert len(verify_calls) == 10

        locked = await post(http, key.headers)

    assert_rate_limited(locked)
    state = ratelimit(locked)["auth-failures"]
    assert (state["q"], state["w"], state["r"]) == (10, 900, 0)
    assert len(verify_calls) == 10  # refused before any Argon2 work
    async with client_from("198.51.100.8") as elsewhere:
        assert (await post(elsewhere, key.headers)).status_code == 200

    rows = await db(
        "SELECT details, details::text AS raw FROM audit_log WHERE action = 'auth.failed'"
        " ORDER BY id"
    )
    assert len(rows) == 10
    for row in rows:
        assert row["details"]["key_id"] == key.key_id
        assert row["details"]["reason"] == "bad_credentials"
        assert row["details"]["client"] == "198.51.100.7"
    audit_text = " ".join(r["raw"] for r in rows)
    for token in [*wrong_secrets, key.token]:
        assert token.rsplit("_", 1)[1] not in audit_text


async def test_concurrent_wrong_secrets_get_no_more_argon2_checks_than_the_limit(
    client_from: Any, new_key: MakeKey, verify_calls: list[str], settings: Settings
) -> None:
    key = await new_key()
    async with client_from("198.51.100.20") as owner_behind_the_nat:
        # Verified recently: the shared address's lockout must not reach this owner.
        assert (await post(owner_behind_the_nat, key.headers)).status_code == 200
        verify_calls.clear()
        async with client_from("198.51.100.20") as attacker:
            burst = await asyncio.gather(
                *(post(attacker, bearer(well_formed_key(key.key_id))) for _ in range(100))
            )

        assert Counter(r.status_code for r in burst) == {401: 10, 429: 90}
        assert len(verify_calls) == settings.auth_failures_per_key
        for resp in burst:
            if resp.status_code == 429:
                assert_rate_limited(resp)
        assert (await post(owner_behind_the_nat, key.headers)).status_code == 200
    async with client_from("198.51.100.21") as owner_elsewhere:
        assert (await post(owner_elsewhere, key.headers)).status_code == 200


async def test_argon2_checks_run_at_most_the_configured_number_at_once(
    client_from: Any, new_key: MakeKey, monkeypatch: Any, settings: Settings
) -> None:
    concurrency = settings.auth_verify_concurrency
    running_now, most = 0, 0
    guard = threading.Lock()
    real = keys.verify

    def counting(secret_hash: str, secret: str) -> bool:
        nonlocal running_now, most
        with guard:
            running_now += 1
            most = max(most, running_now)
        try:
            time.sleep(0.05)  # long enough for the others to pile up if nothing bounds them
            return real(secret_hash, secret)
        finally:
            with guard:
                running_now -= 1

    monkeypatch.setattr(keys, "verify", counting)
    key = await new_key()
    clients = [client_from(f"198.51.100.{30 + i}") for i in range(3 * concurrency)]
    burst = await asyncio.gather(*(post(c, bearer(well_formed_key(key.key_id))) for c in clients))
    for c in clients:
        await c.aclose()

    assert {r.status_code for r in burst} == {401}
    assert most == concurrency


async def test_unknown_key_ids_lock_out_their_address_but_not_its_real_keys(
    client_from: Any, new_key: MakeKey, verify_calls: list[str], settings: Settings
) -> None:
    assert settings.auth_failures_per_client == 30
    key = await new_key()
    async with client_from("198.51.100.9") as http:
        for i in range(30):
            # Unknown key ids and malformed keys alike count against the address.
            token = well_formed_key() if i % 3 else f"hae_garbage_{i}"
            assert_problem(await post(http, bearer(token)), 401)
        argon2_before = len(verify_calls)

        assert_rate_limited(await post(http, bearer(well_formed_key())))
        assert_rate_limited(await post(http, bearer("hae_garbage_again")))
        assert len(verify_calls) == argon2_before
        # A real key shares the address (a NAT): unknown ids tried there are not its failures.
        assert (await post(http, key.headers)).status_code == 200
    assert argon2_before == 20  # one per well-formed key, none for malformed ones


# --- timing: one path for every bad key --------------------------------------------------------


async def test_wrong_secret_and_unknown_key_id_run_the_same_argon2_check(
    client: httpx.AsyncClient, new_key: MakeKey, verify_calls: list[str], db: Any
) -> None:
    key = await new_key()
    stored = (await db("SELECT secret_hash FROM api_keys WHERE key_id = :k", k=key.key_id))[0][
        "secret_hash"
    ]

    wrong = await post(client, bearer(well_formed_key(key.key_id)))
    assert verify_calls == [stored]
    unknown = await post(client, bearer(well_formed_key()))
    assert verify_calls == [stored, keys.DUMMY_HASH]

    assert assert_problem(wrong, 401) == assert_problem(unknown, 401)
    # The stand-in hash costs what a real one does: same algorithm, memory, passes and lanes.
    assert extract_parameters(keys.DUMMY_HASH) == extract_parameters(stored)
    assert stored.startswith("$argon2id$")


async def test_inactive_key_with_its_right_secret_costs_the_same_check(
    client: httpx.AsyncClient, new_key: MakeKey, verify_calls: list[str], engine: Any
) -> None:
    from sqlalchemy import text

    key = await new_key()
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET revoked_at = now() WHERE key_id = :k"), {"k": key.key_id}
        )

    revoked = await post(client, key.headers)
    unknown = await post(client, bearer(well_formed_key()))

    assert len(verify_calls) == 2
    assert assert_problem(revoked, 401) == assert_problem(unknown, 401)


async def test_the_secret_never_reaches_redis(
    app: Any, client: httpx.AsyncClient, new_key: MakeKey, settings: Settings, db: Any
) -> None:
    key = await new_key()
    assert (await post(client, key.headers)).status_code == 200

    redis = app.state.redis
    names = [name async for name in redis.scan_iter(match=f"{settings.redis_prefix}:*")]
    entries = {name: await redis.get(name) for name in names if await redis.type(name) == b"string"}
    cached = entries.get(f"{settings.redis_prefix}:auth:{key.key_id}".encode())
    assert cached is not None, names  # the verification is cached...
    secret = key.secret.encode()
    unsalted = [hashlib.sha256(secret).digest(), hashlib.sha256(secret).hexdigest().encode()]
    for name, value in entries.items():  # ...but neither the secret nor a plain hash of it
        for needle in (secret, key.token.encode(), *unsalted):
            assert needle not in name
            assert value is None or needle not in value, name
    stored = (await db("SELECT secret_hash FROM api_keys WHERE key_id = :k", k=key.key_id))[0]
    assert stored["secret_hash"].encode() not in b"".join(v or b"" for v in entries.values())


async def test_keys_are_recognisable_and_hashed_at_owasp_strength(
    new_key: MakeKey, db: Any
) -> None:
    key = await new_key()
    parsed = keys.parse(key.token)

    assert parsed is not None
    assert key.token.startswith("hae_")
    assert len(key.secret) == 43  # base62: 43 characters carry 256 bits
    assert 62**43 >= 2**256
    stored = (await db("SELECT secret_hash FROM api_keys WHERE key_id = :k", k=key.key_id))[0]
    params = extract_parameters(stored["secret_hash"])
    assert params.type is Type.ID
    # OWASP: m >= 19 MiB with t >= 2 (or m >= 46 MiB with t = 1).
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert key.secret not in stored["secret_hash"]
