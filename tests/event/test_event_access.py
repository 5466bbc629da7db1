"""Event reads are the key's own user's only, need the ``read`` scope, and answer hostile
parameters (bad dates, NUL, forged cursors, huge limits) with problem+json, never a 5xx."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests import hae_generator as g
from tests.event.conftest import EVENT_LISTS, EVENT_ROUTES, every_item, get
from tests.event.test_event_reads import payload
from tests.query.support import Account, bearer, ingest, problem

FILTERS = ("name", "severity", "kind", "label", "association", "status", "classification", "source")
HOSTILE: tuple[dict[str, Any], ...] = (
    {"from": "yesterday"},
    {"from": "2023-01-20\x00"},
    {"to": "2023-13-45"},
    {"from": "2023-01-21", "to": "2023-01-20"},
    {"from": "0001-01-01T00:00:00+01:00"},
    {"to": "0001-01-01"},
    {"from": "9999-12-31"},
    {"from": "9999-12-31T23:00:00-05:00"},
    {"from": "2023-01-20", "tz": "9999-12-31"},
    {"to": "9999-12-31T23:59:59", "tz": "Pacific/Kiritimati"},
    {"tz": "Mars/Olympus_Mons"},
    {"tz": "+11:00"},
    {"tz": "\x00"},
    {"cursor": "not-a-cursor"},
    {"cursor": "\x00"},
    {"cursor": "A" * 5000},
    {"limit": 10**12},
    {"limit": 0},
    {"limit": "many"},
    *({name: "\x00"} for name in FILTERS),
    *({name: "x" * 10_000} for name in FILTERS),
    *({name: "   "} for name in FILTERS),
)


@pytest.fixture
async def both(client: httpx.AsyncClient, alice: Account, bob: Account) -> None:
    await ingest(client, alice.headers, payload())
    await ingest(client, bob.headers, g.envelope(symptoms=[g.symptom(name="Bob's cough")]))


async def test_another_users_events_are_unreachable(
    client: httpx.AsyncClient, alice: Account, bob: Account, both: None
) -> None:
    for path in EVENT_LISTS:
        assert await every_item(client, alice, path), path
        bobs = await every_item(client, bob, path)
        assert bobs == ([] if path != "/v1/symptoms" else bobs), path
    assert [s["name"] for s in await every_item(client, bob, "/v1/symptoms")] == ["Bob's cough"]
    assert (await get(client, bob, "/v1/state-of-mind/daily"))["items"] == []
    assert (await get(client, bob, "/v1/medications/daily"))["items"] == []
    for ecg in await every_item(client, alice, "/v1/ecg"):
        problem(await client.get(f"/v1/ecg/{ecg['id']}", headers=bob.headers), 404)
    # Alice's cursor is not a way into her data for Bob: it pages Bob's own rows, or is refused.
    first = await get(client, alice, "/v1/symptoms", limit=1)
    replay = await client.get(
        "/v1/symptoms", params={"limit": 1, "cursor": first["next_cursor"]}, headers=bob.headers
    )
    assert replay.status_code in (200, 400), replay.text
    if replay.status_code == 200:
        assert all(s["name"] == "Bob's cough" for s in replay.json()["items"])


async def test_a_write_only_key_is_refused(
    client: httpx.AsyncClient, make_key: Callable[..., Any], alice: Account, both: None
) -> None:
    _, token = await make_key("alice", ("write",))
    [ecg, *_] = await every_item(client, alice, "/v1/ecg")
    for path in (*EVENT_ROUTES, f"/v1/ecg/{ecg['id']}"):
        problem(await client.get(path, headers=bearer(token)), 403)
        problem(await client.get(path), 401)


async def test_hostile_parameters_get_a_problem_naming_the_field(
    client: httpx.AsyncClient, alice: Account, both: None
) -> None:
    for path in EVENT_ROUTES:
        for params in HOSTILE:
            response = await client.get(path, params=params, headers=alice.headers)
            if response.status_code == 200:
                # A filter this route does not have, or a value the route may ignore.
                continue
            body = problem(response, response.status_code)
            assert response.status_code in (400, 422), (path, params, response.text)
            named = body.get("field") or " ".join(e["field"] for e in body.get("errors", []))
            assert named, (path, params, body)


def _forge(token: str, values: list[Any]) -> str:
    doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    doc["v"] = values
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")


async def test_forged_cursors_are_refused(
    client: httpx.AsyncClient, alice: Account, both: None
) -> None:
    for path, width in (("/v1/symptoms", 4), ("/v1/ecg", 2), ("/v1/hrv", 3)):
        token = (await get(client, alice, path, limit=1))["next_cursor"]
        assert token is not None
        for values in (
            [],
            [None] * width,
            ["2023-01-20"] + [None] * (width - 1),
            ["0001-01-01T00:00:00+01:00"] + [None] * (width - 1),
            ["not a date"] + [None] * (width - 1),
            [1.5] * width,
            ["2023-01-20T00:00:00+00:00"] + ["\x00"] * (width - 1),
            ["2023-01-20T00:00:00+00:00"] * (width + 1),
            [{"a": 1}] * width,
        ):
            forged = _forge(token, values)
            response = await client.get(
                path, params={"limit": 1, "cursor": forged}, headers=alice.headers
            )
            assert problem(response, 400)["field"] == "cursor", (path, values)
        response = await client.get(
            path,
            params={"limit": 1, "cursor": token, "from": "2023-01-01"},
            headers=alice.headers,
        )
        assert problem(response, 400)["field"] == "cursor"
