"""One user cannot make the database create partitions without bound: months older than the
window share the default partition, creation does not block other writers, and maintenance
creates the coming months ahead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import partitions
from app.db.partitions import (
    PartitionManager,
    add_months,
    create_month,
    month_bounds,
    partition_name,
    window_floor,
)
from tests import hae_generator as g
from tests.conftest import _dsn

TABLES = ("heart_rate_metrics", "activity_metrics", "quantity_metrics")
_COUNT_PARTITIONS = (
    "SELECT count(*) AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE i.inhparent = CAST(:parent AS regclass)"
)


def _monthly_body(first: datetime, last: datetime) -> dict[str, Any]:
    """A point per month in three metrics (three tables), from ``first`` to ``last``."""
    stamps = []
    month = (first.year, first.month)
    while month <= (last.year, last.month):
        stamps.append(month_bounds(month)[0] + timedelta(days=14, hours=12))
        month = add_months(month, 1)

    def points(key: str, value: float) -> list[dict[str, Any]]:
        return [{"date": g.fmt_date(at), key: value, "source": "Probe"} for at in stamps]

    heart = [{**p, "Min": 60, "Max": 60} for p in points("Avg", 60)]
    return g.envelope(
        metrics=[
            g.metric("heart_rate", "count/min", heart),
            g.metric("step_count", "count", points("qty", 10)),
            g.metric("weight_body_mass", "kg", points("qty", 70)),
        ]
    )


def _window_months(settings: Settings, now: datetime) -> int:
    """How many months may have a partition of their own: floor to now + future tolerance."""
    floor = window_floor(now, settings.partition_window_years)
    newest = now + timedelta(days=settings.future_tolerance_days)
    return (newest.year - floor.year) * 12 + newest.month - floor.month + 1


async def _partitions(db: Callable[..., Any]) -> dict[str, int]:
    return {t: (await db(_COUNT_PARTITIONS, parent=t))[0]["n"] for t in TABLES}


async def _free_month(db: Callable[..., Any], table: str, floor: datetime) -> tuple[int, int]:
    """A month inside the window whose partition does not exist yet."""
    month = add_months((floor.year, floor.month), 1)
    while (await db("SELECT to_regclass(:n) AS r", n=partition_name(table, month)))[0]["r"]:
        month = add_months(month, 1)
    return month


async def test_a_body_from_1900_to_2028_creates_a_bounded_number_of_partitions(
    client: httpx.AsyncClient,
    make_key: Callable[..., Any],
    db: Callable[..., Any],
    settings: Settings,
) -> None:
    prober, prober_token = await make_key(user="prober")
    _, other_token = await make_key(user="other")
    prober_headers = {"Authorization": f"Bearer {prober_token}"}
    other_headers = {"Authorization": f"Bearer {other_token}"}
    now = datetime.now(UTC)
    first, last = datetime(1900, 1, 1, tzinfo=UTC), datetime(2028, 12, 1, tzinfo=UTC)
    body = _monthly_body(first, last)
    newest = now + timedelta(days=settings.future_tolerance_days)
    accepted = sum(1 for p in body["data"]["metrics"][0]["data"] if p["date"] <= g.fmt_date(newest))
    before = await _partitions(db)

    async def other_user() -> list[int]:
        """Another user's syncs and reads while the probe is stored."""
        statuses = []
        for i in range(5):
            sync = _monthly_body(now - timedelta(days=40 + i), now - timedelta(days=40 + i))
            statuses.append(
                (await client.post("/v1/ingest", json=sync, headers=other_headers)).status_code
            )
            read = await client.get("/v1/metrics/step_count", headers=other_headers)
            statuses.append(read.status_code)
        return statuses

    probe, others = await asyncio.gather(
        client.post("/v1/ingest", json=body, headers=prober_headers), other_user()
    )

    assert probe.status_code == 200, probe.text
    assert others == [200] * 10
    created = {t: n - before[t] for t, n in (await _partitions(db)).items()}
    assert all(n <= _window_months(settings, now) for n in created.values()), created
    for table in TABLES:
        stored = await db(f"SELECT count(*) AS n FROM {table} WHERE user_id = :u", u=prober)  # noqa: S608
        assert stored[0]["n"] == accepted
    old = await db(
        "SELECT count(*) AS n FROM heart_rate_metrics_default WHERE user_id = :u", u=prober
    )
    floor = window_floor(now, settings.partition_window_years)
    assert old[0]["n"] == (floor.year - 1900) * 12 + floor.month - 1  # every month before it
    page = await client.get(
        "/v1/metrics/heart_rate",
        params={"from": "1899-12-01", "to": "2030-01-01", "limit": 10_000},
        headers=prober_headers,
    )
    assert page.status_code == 200, page.text
    assert len(page.json()["items"]) == accepted


async def test_months_before_the_floor_get_no_partition(
    engine: AsyncEngine, db: Callable[..., Any]
) -> None:
    manager = PartitionManager(engine)

    await manager.ensure("heart_rate_metrics", [(1901, 3)])
    async with engine.begin() as conn:
        created = await create_month(conn, "audit_log", (1901, 3))

    assert not created
    for table in ("heart_rate_metrics", "audit_log"):
        found = await db("SELECT to_regclass(:n) AS r", n=partition_name(table, (1901, 3)))
        assert found[0]["r"] is None


async def test_creation_does_not_wait_for_a_writer_in_flight(
    engine: AsyncEngine, db: Callable[..., Any], settings: Settings
) -> None:
    """CREATE TABLE ... PARTITION OF would queue behind the open insert (ACCESS EXCLUSIVE on
    the parent), and every later writer behind it; ATTACH does not."""
    table = "heart_rate_metrics"
    floor = window_floor(datetime.now(UTC), settings.partition_window_years)
    month = await _free_month(db, table, floor)
    writer = await asyncpg.connect(_dsn(settings.database_url))
    pending = writer.transaction()
    try:
        await pending.start()
        await writer.execute(
            f"INSERT INTO {table} (user_id, start_at, utc_offset_min, avg, ingestion_id)"  # noqa: S608
            " VALUES (-1, now(), 0, 60, -1)"
        )
        await asyncio.wait_for(PartitionManager(engine).ensure(table, [month]), 10)
        exists = await db("SELECT to_regclass(:n) AS r", n=partition_name(table, month))
        assert exists[0]["r"] is not None
    finally:
        await pending.rollback()
        await writer.close()


async def test_writers_and_readers_go_on_while_a_creation_is_pending(
    engine: AsyncEngine, db: Callable[..., Any], settings: Settings
) -> None:
    table = "heart_rate_metrics"
    floor = window_floor(datetime.now(UTC), settings.partition_window_years)
    month = await _free_month(db, table, floor)
    now = datetime.now(UTC)
    this_month = (now.year, now.month)
    other = await asyncpg.connect(_dsn(settings.database_url))
    try:
        async with engine.connect() as creator:
            await creator.begin()
            assert await create_month(creator, table, month)
            held = await creator.scalar(
                text(
                    "SELECT array_agg(mode) FROM pg_locks"
                    " WHERE pid = pg_backend_pid() AND relation = CAST(:t AS regclass)"
                ),
                {"t": table},
            )
            assert "ShareUpdateExclusiveLock" in held
            assert "AccessExclusiveLock" not in held
            # A second user's insert and read, each allowed to wait one second at most.
            await other.execute("SET lock_timeout = '1s'")
            await other.execute(
                f"INSERT INTO {table} (user_id, start_at, utc_offset_min, avg, ingestion_id)"  # noqa: S608
                " VALUES (-2, now(), 0, 61, -2)"
            )
            # A read of existing months (pruned to them: one that reaches the default waits
            # for the attach to commit, a matter of milliseconds outside a test).
            start, end = month_bounds(this_month)
            rows = await other.fetchval(
                f"SELECT count(*) FROM {table} WHERE user_id = -2"  # noqa: S608
                f" AND start_at >= '{start.isoformat()}' AND start_at < '{end.isoformat()}'"
            )
            assert rows == 1
            await creator.rollback()
    finally:
        await other.execute(f"DELETE FROM {table} WHERE user_id = -2")  # noqa: S608
        await other.close()


async def test_attaching_a_month_does_not_scan_the_default(
    db: Callable[..., Any], settings: Settings
) -> None:
    """The default's CHECK (time < floor) proves it holds nothing of a window month."""
    table = "quantity_metrics"
    floor = window_floor(datetime.now(UTC), settings.partition_window_years)
    month = await _free_month(db, table, floor)
    conn = await asyncpg.connect(_dsn(settings.database_url))
    messages: list[str] = []
    conn.add_log_listener(lambda _c, m: messages.append(str(m.message)))
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL client_min_messages = debug1")
            created = await conn.fetchval(
                "SELECT hae_ensure_month_partition($1, $2)", table, month_bounds(month)[0]
            )
            await conn.execute("SET LOCAL client_min_messages = notice")
    finally:
        await conn.close()

    assert created
    skipped = f'default partition "{table}_default" is implied by existing constraints'
    assert any(skipped in m for m in messages), messages


async def test_maintenance_creates_the_coming_months(
    engine: AsyncEngine, db: Callable[..., Any], settings: Settings
) -> None:
    later = datetime.now(UTC) + timedelta(days=3 * 366)
    # Same floor as now (the window widened by the years added), so only months are created.
    years = settings.partition_window_years + 4

    await PartitionManager(engine).maintain(years, now=later)

    this_month = (later.year, later.month)
    for ahead in range(4):
        name = partition_name("sleep_metrics", add_months(this_month, ahead))
        assert (await db("SELECT to_regclass(:n) AS r", n=name))[0]["r"] is not None, name
    audit = partition_name("audit_log", add_months(this_month, 3))
    assert (await db("SELECT to_regclass(:n) AS r", n=audit))[0]["r"] is not None


async def test_maintenance_moves_the_floor_with_the_window(
    engine: AsyncEngine, db: Callable[..., Any], settings: Settings
) -> None:
    manager = PartitionManager(engine)
    now = datetime.now(UTC)
    narrower = window_floor(now, settings.partition_window_years - 2)
    floor_sql = "SELECT hae_partition_floor('symptoms') AS f"
    try:
        await manager.maintain(settings.partition_window_years - 2, now=now)
        assert (await db(floor_sql))[0]["f"] == narrower
        # A month now older than the window goes to the default partition.
        inside_before = window_floor(now, settings.partition_window_years - 1)
        month = (inside_before.year, inside_before.month)
        async with engine.begin() as conn:
            assert not await create_month(conn, "symptoms", month)
    finally:
        await manager.maintain(settings.partition_window_years, now=now)
    assert (await db(floor_sql))[0]["f"] == window_floor(now, settings.partition_window_years)
    valid = await db(
        "SELECT conname, convalidated FROM pg_constraint"
        " WHERE conrelid = 'symptoms_default'::regclass AND contype = 'c'"
    )
    assert [(r["conname"], r["convalidated"]) for r in valid] == [("old_rows_only", True)]


async def test_creation_gives_up_quickly_behind_a_lock_held_elsewhere(
    db: Callable[..., Any], settings: Settings
) -> None:
    """In a session that would wait 30 s for a lock, the creation waits 2 s and steps out of
    the queue instead of making every later writer queue behind it."""
    table = "blood_glucose_metrics"
    floor = window_floor(datetime.now(UTC), settings.partition_window_years)
    month = await _free_month(db, table, floor)
    holder = await asyncpg.connect(_dsn(settings.database_url))
    creator = await asyncpg.connect(_dsn(settings.database_url))
    held = holder.transaction()
    try:
        await held.start()
        await holder.execute(f"LOCK TABLE {table}_default IN ACCESS SHARE MODE")
        await creator.execute("SET lock_timeout = '30s'")
        with pytest.raises(asyncpg.LockNotAvailableError):
            await asyncio.wait_for(
                creator.fetchval(
                    "SELECT hae_ensure_month_partition($1, $2)", table, month_bounds(month)[0]
                ),
                10,
            )
    finally:
        await held.rollback()
        await holder.close()
        await creator.close()
    assert (await db("SELECT to_regclass(:n) AS r", n=partition_name(table, month)))[0]["r"] is None


async def test_a_month_whose_creation_failed_is_tried_again(
    engine: AsyncEngine,
    db: Callable[..., Any],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "100ms")
    monkeypatch.setattr(partitions, "RETRY_PAUSE_S", 0.0)
    table = "insulin_metrics"
    floor = window_floor(datetime.now(UTC), settings.partition_window_years)
    month = await _free_month(db, table, floor)
    manager = PartitionManager(engine)
    holder = await asyncpg.connect(_dsn(settings.database_url))
    held = holder.transaction()
    try:
        await held.start()
        await holder.execute(f"LOCK TABLE {table}_default IN ACCESS SHARE MODE")
        await manager.ensure(table, [month])
    finally:
        await held.rollback()
        await holder.close()
    name = partition_name(table, month)
    assert (await db("SELECT to_regclass(:n) AS r", n=name))[0]["r"] is None

    await manager.ensure(table, [month])

    assert (await db("SELECT to_regclass(:n) AS r", n=name))[0]["r"] is not None
