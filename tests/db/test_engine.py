"""Pooled connections: one that died while idle is replaced unseen; one in steady use is not
pinged, and when it dies its statement fails and the pool starts afresh. The pool is filled at
start, and what start-up loaded is frozen out of the garbage collector's walks."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import engine as engine_module
from app.db.errors import STORAGE_ERRORS
from app.lifespan import settle_heap, warm_pool
from tests.conftest import _dsn


@pytest.fixture
async def one_connection(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = engine_module.create_engine(settings, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _kill_pooled_connection(engine: AsyncEngine, url: str) -> int:
    """Terminate the backend of the (only) pooled connection, as a server restart would."""
    async with engine.connect() as conn:
        pid = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
    admin = await asyncpg.connect(_dsn(url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    return pid


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_that_died_while_idle_is_replaced(
    one_connection: AsyncEngine, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = await _kill_pooled_connection(one_connection, migrated_url)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # it has idled long enough

    assert await _backend_pid(one_connection) != dead


async def test_a_connection_in_steady_use_is_not_pinged_and_a_death_resets_the_pool(
    one_connection: AsyncEngine, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = await _kill_pooled_connection(one_connection, migrated_url)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)

    with pytest.raises(DBAPIError) as failed:
        await _backend_pid(one_connection)
    assert failed.value.connection_invalidated
    assert await _backend_pid(one_connection) != dead


async def test_app_connections_run_without_jit(one_connection: AsyncEngine) -> None:
    # asyncpg's type introspection (first use of an array or jsonb type on each connection) is
    # planned expensive enough to be JIT-compiled: 100 ms and more on a cold connection.
    async with one_connection.connect() as conn:
        assert (await conn.execute(text("SHOW jit"))).scalar_one() == "off"


async def test_the_pool_is_filled_at_start(settings: Settings) -> None:
    engine = engine_module.create_engine(settings, pool_size=3)
    try:
        await warm_pool(engine, 3)
        assert engine.sync_engine.pool.checkedin() == 3  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_start_up_objects_are_out_of_the_collectors_sight() -> None:
    gc.unfreeze()
    settle_heap()
    try:
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


async def test_statements_sent_to_asyncpg_directly_join_the_transaction(
    one_connection: AsyncEngine,
) -> None:
    # SQLAlchemy sends BEGIN with its first statement; a hot-path statement may come first.
    async with one_connection.begin() as conn:
        driver = await engine_module.driver_connection(conn)
        assert driver.is_in_transaction()
        await driver.execute("CREATE TEMP TABLE joined (x int) ON COMMIT DROP")
        await conn.rollback()
    async with one_connection.connect() as conn:
        found = await conn.execute(text("SELECT to_regclass('pg_temp.joined')"))
        assert found.scalar() is None  # rolled back with the transaction
    async with engine_module.autocommit(one_connection).connect() as conn:
        assert not (await engine_module.driver_connection(conn)).is_in_transaction()


async def test_a_dead_connection_met_by_a_direct_statement_leaves_the_pool(
    one_connection: AsyncEngine, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = await _kill_pooled_connection(one_connection, migrated_url)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)

    with pytest.raises(STORAGE_ERRORS):  # what the ingest and the worker handle
        async with one_connection.begin() as conn:
            await engine_module.driver_connection(conn)
    assert await _backend_pid(one_connection) != dead
