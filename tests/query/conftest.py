"""Fixtures of the read / export / deletion tests: two users with owner keys, and the admin CLI
run in-process against the test database and Redis namespace."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

import pytest

from app import config
from app.config import Settings
from tests.query.support import Account, bearer


@pytest.fixture
async def alice(make_key: Callable[..., Any]) -> Account:
    user_id, token = await make_key("alice", ("read", "write"))
    return Account(user_id, "alice", bearer(token))


@pytest.fixture
async def bob(make_key: Callable[..., Any]) -> Account:
    user_id, token = await make_key("bob", ("read", "write"))
    return Account(user_id, "bob", bearer(token))


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, clean_db: None
) -> Iterator[Callable[..., Any]]:
    """``await cli("users", "erase", "alice", "--yes")``: exit code and stdout."""
    from app import cli as cli_module

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("HAE_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("HAE_ENV", "test")
    config.get_settings.cache_clear()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def run(*argv: str) -> CliResult:
        out = io.StringIO()
        with redirect_stdout(out):
            code = cli_module.main(list(argv))
        return CliResult(code, out.getvalue())

    async def invoke(*argv: str) -> CliResult:
        return await asyncio.to_thread(run, *argv)

    yield invoke
    root.handlers[:] = handlers
    root.setLevel(level)
    config.get_settings.cache_clear()
