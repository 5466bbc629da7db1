"""Helpers shared by the security tests (the fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import re
import secrets
import string
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from app.config import Settings
from app.main import create_app
from tests import hae_generator as g

BASE62 = string.digits + string.ascii_letters
PAYLOAD = g.envelope(
    metrics=[g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 3))]
)


@dataclass(frozen=True)
class Key:
    user_id: int
    user: str
    key_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def secret(self) -> str:
        return self.token.rsplit("_", 1)[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def well_formed_key(key_id: str | None = None) -> str:
    """A token of the right shape: a random key id (or ``key_id``) and a random secret."""
    key_id = key_id or "".join(
        secrets.choice(string.digits + string.ascii_lowercase) for _ in range(12)
    )
    return f"hae_{key_id}_{''.join(secrets.choice(BASE62) for _ in range(43))}"


def payload(points: int = 3, seed: int = 0) -> dict[str, Any]:
    """A valid body; distinct seeds give distinct bodies (no duplicate-body shortcut)."""
    start = g.T0 + g.DAY * seed
    return g.envelope(
        metrics=[
            g.metric(
                "step_count",
                "count",
                g.quantity_points("step_count", "count", start, points, seed=seed),
            )
        ]
    )


def asgi_client(application: Any, client_host: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of ``application`` whose requests come from ``client_host``."""
    transport = httpx.ASGITransport(app=application, client=(client_host, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Any]:
    """Another app instance with its own engine, Redis client and in-process caches: a replica."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def fresh_window(window_s: int, needed_s: float = 5.0) -> None:
    """Wait, if need be, so the next ``needed_s`` seconds fall in one fixed rate-limit window
    (windows are aligned on the clock: a burst across a boundary would see two budgets)."""
    left = window_s - time.time() % window_s
    if left < needed_s:
        await asyncio.sleep(left + 0.05)


def assert_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = resp.json()
    assert problem["status"] == status
    assert {"type", "title", "status"} <= problem.keys()
    return problem


def assert_rate_limited(resp: httpx.Response) -> dict[str, Any]:
    problem = assert_problem(resp, 429)
    assert problem["type"] == "/problems/rate-limited"
    retry_after = resp.headers.get("retry-after")
    assert retry_after is not None
    assert retry_after.isdigit(), retry_after
    assert int(retry_after) >= 1, retry_after
    return problem


# An sf-list of sf-strings with integer parameters: "name";q=600;w=60, "other";q=1;w=2
_ITEM = re.compile(r'"([a-z0-9_.-]+)"((?:;[a-z]+=[0-9]+)+)')


def _sf_list(value: str) -> dict[str, dict[str, int]]:
    items: dict[str, dict[str, int]] = {}
    for part in value.split(","):
        match = _ITEM.fullmatch(part.strip())
        assert match is not None, f"not a structured-field item with integer parameters: {value!r}"
        params = dict(p.split("=") for p in match.group(2)[1:].split(";"))
        items[match.group(1)] = {k: int(v) for k, v in params.items()}
    return items


def ratelimit(resp: httpx.Response) -> dict[str, dict[str, int]]:
    """``{policy: {q, w, r, t}}`` from RateLimit-Policy and RateLimit (IETF httpapi draft),
    checking their syntax and that they describe the same policies."""
    policy = resp.headers.get("ratelimit-policy")
    state = resp.headers.get("ratelimit")
    assert policy is not None, dict(resp.headers)
    assert state is not None, dict(resp.headers)
    policies, states = _sf_list(policy), _sf_list(state)
    assert policies.keys() == states.keys(), (policy, state)
    merged: dict[str, dict[str, int]] = {}
    for name, params in policies.items():
        assert params.keys() == {"q", "w"}, policy
        assert states[name].keys() == {"r", "t"}, state
        merged[name] = {**params, **states[name]}
        assert 0 <= merged[name]["r"] <= merged[name]["q"], merged
        assert 0 <= merged[name]["t"] <= merged[name]["w"], merged
    return merged
