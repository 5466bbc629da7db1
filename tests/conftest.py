"""Fixtures: a freshly migrated PostgreSQL+PostGIS test database, real Redis, the app in-process.

Each test starts from empty tables (TRUNCATE after every test); the schema is built by the
migrations, never by ``create_all``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.config import Config
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import service as auth_service
from app.config import Settings
from app.db.engine import create_sessionmaker
from app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "hae-samples"
_BASE_TEST_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/hae_test"
)
# One database per pytest process, so concurrent runs (two developers' shells, CI) never share.
_BASE_NAME = make_url(_BASE_TEST_URL).database or "hae_test"
_STARTED = int(time.time())
TEST_DATABASE_URL = (
    make_url(_BASE_TEST_URL)
    .set(database=f"{_BASE_NAME}_{_STARTED}_{os.getpid()}")
    .render_as_string(hide_password=False)
)
_STALE_AFTER_S = 6 * 3600
REDIS_PREFIX = f"test{os.getpid()}"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
KEEP_TABLES = {"metric_types", "alembic_version", "spatial_ref_sys"}


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    return config


async def _recreate_database(url: str) -> None:
    name = make_url(url).database
    admin = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        # Databases left behind by killed runs (a live run finishes in minutes, not hours).
        for row in await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname ~ $1", f"^{_BASE_NAME}_[0-9]+_[0-9]+$"
        ):
            started = int(row["datname"].rsplit("_", 2)[1])
            if started < _STARTED - _STALE_AFTER_S:
                await admin.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        await conn.close()


async def _drop_database(url: str) -> None:
    admin = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    assert SAMPLES.is_dir(), f"the shared sample payloads are missing: {SAMPLES}"
    return SAMPLES


@pytest.fixture(scope="session")
async def migrated_url() -> AsyncIterator[str]:
    await _recreate_database(TEST_DATABASE_URL)
    await asyncio.to_thread(command.upgrade, alembic_config(TEST_DATABASE_URL), "head")
    yield TEST_DATABASE_URL
    await _drop_database(TEST_DATABASE_URL)


@pytest.fixture(scope="session")
def settings(migrated_url: str) -> Settings:
    return Settings(
        DATABASE_URL=migrated_url,
        REDIS_URL=TEST_REDIS_URL,
        HAE_REDIS_PREFIX=REDIS_PREFIX,
        HAE_ENV="test",
        HAE_DB_POOL_SIZE=5,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def engine(app: Any) -> AsyncEngine:
    engine: AsyncEngine = app.state.engine
    return engine


@pytest.fixture
async def clean_db(migrated_url: str) -> AsyncIterator[None]:
    """Every test that touches the database (and Redis) leaves them empty for the next."""
    yield
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        # Only this process's keys: other test runs may share the Redis database.
        stale = [key async for key in redis.scan_iter(match=f"{REDIS_PREFIX}:*", count=1000)]
        if stale:
            await redis.delete(*stale)
    finally:
        await redis.aclose()
    conn = await asyncpg.connect(_dsn(migrated_url))
    try:
        tables = await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
        names = [r["relname"] for r in tables if r["relname"] not in KEEP_TABLES]
        if names:
            # Replica mode skips the audit log's append-only triggers: tests only.
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(
                "TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"
            )
    finally:
        await conn.close()


@pytest.fixture
async def client(app: Any, clean_db: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def make_key(engine: AsyncEngine, clean_db: None) -> Callable[..., Any]:
    """Factory: ``await make_key(user="alice", scopes=("write",))`` -> (user_id, token)."""

    async def make(
        user: str = "alice", scopes: tuple[str, ...] = ("write", "read")
    ) -> tuple[int, str]:
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            existing = await auth_service.repo.user_by_name(session, user)
            account = existing or await auth_service.create_user(session, user)
            _, token = await auth_service.create_key(session, account, scopes=scopes)
            return account.id, token

    return make


@pytest.fixture
async def writer(make_key: Callable[..., Any]) -> tuple[int, dict[str, str]]:
    user_id, token = await make_key()
    return user_id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def db(engine: AsyncEngine, clean_db: None) -> Callable[..., Any]:
    """``await db("SELECT ...", **params)`` -> list of row mappings."""

    async def query(sql: str, **params: Any) -> list[Any]:
        async with engine.connect() as conn:
            result = await conn.execute(text(sql), params)
            return list(result.mappings())

    return query
