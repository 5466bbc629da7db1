"""Fixtures of the event read tests: two users with read+write keys, helpers to read pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.query.support import Account, bearer

EVENT_LISTS = (
    "/v1/symptoms",
    "/v1/state-of-mind",
    "/v1/medications",
    "/v1/ecg",
    "/v1/heart-rate-notifications",
    "/v1/cycle-tracking",
    "/v1/hrv",
)
EVENT_ROUTES = (*EVENT_LISTS, "/v1/state-of-mind/daily", "/v1/medications/daily")


@pytest.fixture
async def alice(make_key: Callable[..., Any]) -> Account:
    user_id, token = await make_key("alice", ("read", "write"))
    return Account(user_id, "alice", bearer(token))


@pytest.fixture
async def bob(make_key: Callable[..., Any]) -> Account:
    user_id, token = await make_key("bob", ("read", "write"))
    return Account(user_id, "bob", bearer(token))


async def get(client: httpx.AsyncClient, account: Account, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def every_item(
    client: httpx.AsyncClient, account: Account, path: str, **params: Any
) -> list[dict[str, Any]]:
    """All items of a paged route, following ``next_cursor``."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = await get(client, account, path, **query)
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
