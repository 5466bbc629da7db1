"""Security headers on every answer, no server banner (through the real server command too), and
refusals that say nothing about which key ids exist."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from tests.auth.conftest import MakeKey
from tests.auth.support import PAYLOAD, bearer, well_formed_key

ROOT = Path(__file__).resolve().parents[2]
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def assert_hardened(resp: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, (resp.request.url, name, dict(resp.headers))
    csp = resp.headers.get("content-security-policy")
    assert csp is not None, (resp.request.url, dict(resp.headers))
    assert "frame-ancestors 'none'" in csp, (resp.request.url, csp)
    assert "server" not in resp.headers
    assert "x-powered-by" not in resp.headers


async def test_every_kind_of_answer_carries_the_security_headers(
    client: httpx.AsyncClient, new_key: MakeKey
) -> None:
    key = await new_key(rate_limit_requests=2)
    answers = {
        "ok": await client.post("/v1/ingest", json=PAYLOAD, headers=key.headers),
        "unauthorized": await client.post("/v1/ingest", json=PAYLOAD),
        "invalid": await client.get("/v1/ingestions/0", headers=key.headers),
        "rate_limited": await client.get("/v1/ingestions/1", headers=key.headers),
        "not_found": await client.get("/nowhere"),
        "method": await client.delete("/v1/ingest"),
        "schema": await client.get("/openapi.json"),
        "docs": await client.get("/docs"),
    }
    statuses = {name: resp.status_code for name, resp in answers.items()}
    assert statuses == {
        "ok": 200,
        "unauthorized": 401,
        "invalid": 422,
        "rate_limited": 429,
        "not_found": 404,
        "method": 405,
        "schema": 200,
        "docs": 200,
    }
    for resp in answers.values():
        assert_hardened(resp)
    assert answers["ok"].headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )


INACTIVE = {
    "revoked": "UPDATE api_keys SET revoked_at = now() WHERE key_id = :k",
    "expired": "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE key_id = :k",
    "user_disabled": (
        "UPDATE users SET disabled_at = now() WHERE id = (SELECT user_id FROM api_keys WHERE key_id = :k)"
    ),
}


def comparable(resp: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Everything a caller sees but the request id."""
    headers = sorted((k, v) for k, v in resp.headers.items() if k not in ("x-request-id",))
    return resp.status_code, resp.content, headers


async def test_every_refused_key_gets_the_very_same_answer(
    client_from: Any, new_key: MakeKey, engine: AsyncEngine
) -> None:
    keys = {name: await new_key(user=name) for name in INACTIVE}
    live = await new_key(user="live")
    async with engine.begin() as conn:
        for name, sql in INACTIVE.items():
            await conn.execute(text(sql), {"k": keys[name].key_id})
    tokens = {
        "unknown_key_id": well_formed_key(),
        "wrong_secret": well_formed_key(live.key_id),
        "malformed": "hae_" + "x" * 20,
        **{name: key.token for name, key in keys.items()},
    }

    answers = {}
    for i, (name, token) in enumerate(tokens.items()):
        # A fresh address each: the failure budget is not what is compared here.
        async with client_from(f"192.0.2.{i + 1}") as http:
            answers[name] = comparable(
                await http.post("/v1/ingest", json=PAYLOAD, headers=bearer(token))
            )

    reference = answers.pop("unknown_key_id")
    assert reference[0] == 401
    assert answers == dict.fromkeys(answers, reference)


# --- the real server: its banner is not the app's to remove ------------------------------------


def launch_commands() -> dict[str, list[str]]:
    """uvicorn's arguments in every shipped way of starting the API (after ``app.main:app``)."""
    found: dict[str, list[str]] = {}
    run_sh = ROOT / "deploy" / "local" / "run.sh"
    for number, line in enumerate(run_sh.read_text().splitlines(), 1):
        if "uvicorn" in line and "app.main:app" in line and not line.lstrip().startswith("#"):
            words = shlex.split(line.rstrip(" &"))
            found[f"run.sh:{number}"] = words[words.index("app.main:app") + 1 :]
    dockerfile = ROOT / "Dockerfile"
    if dockerfile.exists():
        for match in re.finditer(r"^CMD\s+(\[.*\])\s*$", dockerfile.read_text(), re.M):
            words = json.loads(match.group(1))
            if "app.main:app" in words:
                found["Dockerfile CMD"] = words[words.index("app.main:app") + 1 :]
    assert found, "no uvicorn command found in deploy/local/run.sh"
    return found


def on_port(arguments: list[str], port: int) -> list[str]:
    """The same arguments, listening on 127.0.0.1:port."""
    out, skip = [], False
    for word in arguments:
        if skip:
            skip = False
            continue
        if word in ("--host", "--port"):
            skip = True
            continue
        out.append(word)
    return [*out, "--host", "127.0.0.1", "--port", str(port)]


@pytest.mark.parametrize("name", sorted(launch_commands()))
async def test_the_real_server_sends_no_banner(name: str, settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "HAE_REDIS_PREFIX": settings.redis_prefix,
        "HAE_ENV": "test",
    }
    arguments = on_port(launch_commands()[name], port)
    server = await asyncio.create_subprocess_exec(
        str(UVICORN), "app.main:app", *arguments,
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            deadline = time.monotonic() + 30
            while True:
                assert server.returncode is None, f"uvicorn {arguments} exited"
                try:
                    live = await http.get("/livez")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "uvicorn did not start"
                    await asyncio.sleep(0.1)
            refused = await http.post("/v1/ingest", json=PAYLOAD)
    finally:
        server.terminate()
        await server.wait()

    assert (live.status_code, refused.status_code) == (200, 401)
    for resp in (live, refused):
        # uvicorn adds its own `server: uvicorn` after the app has answered, unless told not to
        # (--no-server-header): the middleware cannot strip it.
        assert "server" not in resp.headers, f"{name}: {arguments} sends {resp.headers['server']!r}"
        assert_hardened(resp)
