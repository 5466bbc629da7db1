"""Fixtures of the security tests: keys with their own budgets, clients with their own address,
the admin CLI run in-process, and a count of Argon2 verifications."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app import config
from app.auth import keys
from app.auth import repository as auth_repo
from app.auth import service as auth_service
from app.config import Settings
from app.db.engine import create_sessionmaker
from tests.auth.support import Key, asgi_client

MakeKey = Callable[..., Any]


@pytest.fixture
def new_key(engine: AsyncEngine, clean_db: None) -> MakeKey:
    """``await new_key(user="alice", rate_limit_requests=20)`` -> Key (user created on first use)."""

    async def make(
        user: str = "alice",
        scopes: tuple[str, ...] = ("write", "read"),
        rate_limit_requests: int | None = None,
        rate_limit_bytes: int | None = None,
    ) -> Key:
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            account = await auth_repo.user_by_name(session, user)
            account = account or await auth_service.create_user(session, user)
            key, token = await auth_service.create_key(
                session,
                account,
                scopes=scopes,
                rate_limit_requests=rate_limit_requests,
                rate_limit_bytes=rate_limit_bytes,
            )
            return Key(account.id, user, key.key_id, token)

    return make


@pytest.fixture
def client_from(app: Any, clean_db: None) -> Callable[[str], httpx.AsyncClient]:
    """``async with client_from("203.0.113.9") as http``: failure budgets are per address."""
    return lambda host: asgi_client(app, host)


@pytest.fixture
def verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Argon2 verification made while the test runs (the hash it was checked against)."""
    calls: list[str] = []
    real = keys.verify

    def counting(secret_hash: str, secret: str) -> bool:
        calls.append(secret_hash)
        return real(secret_hash, secret)

    monkeypatch.setattr(keys, "verify", counting)
    return calls


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str

    @property
    def last_line(self) -> str:
        return self.out.strip().splitlines()[-1]


@pytest.fixture
def cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, clean_db: None
) -> Iterator[Callable[..., Any]]:
    """``await cli("keys", "revoke", key_id)`` runs ``python -m app.cli`` in-process against the
    test database and Redis namespace; returns its exit code and stdout."""
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
            try:
                code = cli_module.main(list(argv))
            except SystemExit as exc:  # argparse refusing the arguments
                code = exc.code if isinstance(exc.code, int) else 2
        return CliResult(code, out.getvalue())

    async def invoke(*argv: str) -> CliResult:
        # Its own event loop (asyncio.run) in a thread, as when run from a shell.
        return await asyncio.to_thread(run, *argv)

    yield invoke
    # The CLI reconfigures logging (WARNING, its own handler): give the suite its own back.
    root.handlers[:] = handlers
    root.setLevel(level)
    config.get_settings.cache_clear()
