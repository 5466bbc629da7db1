"""Small bodies (routine syncs) are written in one transaction with their outcome. These tests
pin what that must not cost: a storage failure still costs only its series, two syncs of one
user running at once never deadlock, and new months still get their partitions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.partitions import partition_name
from app.erase import repository as erase_repository
from app.erase.repository import LOCK_ORDER
from app.ingest.repository import locks
from app.ingest.service import COMPACT_MAX_BYTES
from tests import hae_generator as g

FALLBACKS = "hae_ingest_single_transaction_fallbacks_total"


def _fallbacks() -> float:
    return REGISTRY.get_sample_value(FALLBACKS) or 0.0


def _heart(start: datetime, count: int, *, bpm: float, source: str = "Watch") -> dict[str, Any]:
    points = [
        {
            "date": g.fmt_date(start + timedelta(seconds=5 * i)),
            "Avg": bpm,
            "Min": bpm,
            "Max": bpm,
            "source": source,
        }
        for i in range(count)
    ]
    return g.metric("heart_rate", "count/min", points)


def _steps(start: datetime, count: int, *, qty: float) -> dict[str, Any]:
    points = [
        {"date": g.fmt_date(start + timedelta(minutes=i)), "qty": qty, "source": "Watch"}
        for i in range(count)
    ]
    return g.metric("step_count", "count", points)


@pytest.fixture
async def poisoned_heart_rate(engine: AsyncEngine) -> AsyncIterator[None]:
    """Heart-rate rows from the source "poison" fail to store (as a full disk or a broken
    partition would): a storage error in the middle of a body."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN IF NEW.source = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF;"
                " RETURN NEW; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER test_poison BEFORE INSERT ON heart_rate_metrics"
                " FOR EACH ROW EXECUTE FUNCTION test_poison()"
            )
        )
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER test_poison ON heart_rate_metrics"))
            await conn.execute(text("DROP FUNCTION test_poison()"))


async def test_a_storage_failure_still_costs_only_its_series(
    client: httpx.AsyncClient,
    writer: tuple[int, dict[str, str]],
    db: Any,
    poisoned_heart_rate: None,
) -> None:
    user_id, headers = writer
    before = _fallbacks()
    body = g.envelope(
        metrics=[
            _steps(g.T0, 30, qty=5.0),
            _heart(g.T0, 40, bpm=70.0, source="poison"),
            g.metric("active_energy", "kcal", [{"date": g.fmt_date(g.T0), "qty": 1.5}]),
        ]
    )

    response = await client.post("/v1/ingest", json=body, headers=headers)

    # The one transaction failed as a whole; written series by series, the others are stored
    # and the body is queued for a retry of the failed one.
    assert _fallbacks() == before + 1
    assert response.status_code == 202, response.text
    report = response.json()
    assert report["status"] == "retrying"
    assert report["failed"] == ["metrics:heart_rate: storage error (RaiseError)"]
    assert report["metrics"]["step_count"]["inserted"] == 30
    assert report["metrics"]["active_energy"]["inserted"] == 1
    stored = await db(
        "SELECT (SELECT count(*) FROM activity_metrics WHERE user_id = :u) AS activity,"
        " (SELECT count(*) FROM heart_rate_metrics WHERE user_id = :u) AS heart",
        u=user_id,
    )
    assert dict(stored[0]) == {"activity": 31, "heart": 0}
    raw = await db("SELECT status, attempts FROM raw_ingestions WHERE user_id = :u", u=user_id)
    assert raw[0]["status"] == "pending"  # left for the worker's retry


async def test_concurrent_syncs_of_one_user_in_opposite_orders_do_not_deadlock(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    before = _fallbacks()
    bodies = []
    for i in range(8):
        # Every body covers the same minutes (each changes the others' values), half of them
        # with their series in the opposite order.
        series = [_heart(g.T0, 60, bpm=60.0 + i), _steps(g.T0, 20, qty=float(i))]
        if i % 2:
            series.reverse()
        bodies.append(g.envelope(metrics=series))

    responses = await asyncio.gather(
        *(client.post("/v1/ingest", json=body, headers=headers) for body in bodies)
    )

    assert [r.status_code for r in responses] == [200] * 8
    assert _fallbacks() == before  # no transaction was chosen as a deadlock victim
    stored = await db(
        "SELECT (SELECT count(*) FROM activity_metrics WHERE user_id = :u) AS activity,"
        " (SELECT count(*) FROM heart_rate_metrics WHERE user_id = :u) AS heart,"
        " (SELECT count(DISTINCT avg) FROM heart_rate_metrics WHERE user_id = :u) AS values",
        u=user_id,
    )
    # One row per instant, all from whichever body was applied last.
    assert dict(stored[0]) == {"activity": 20, "heart": 60, "values": 1}


async def test_a_new_month_gets_its_partition_before_the_transaction(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    # Spans into August, of a year inside the partition window.
    year = datetime.now(UTC).year - 3
    start = datetime(year, 7, 31, 23, 58, tzinfo=UTC)
    body = g.envelope(metrics=[_steps(start, 5, qty=2.0)])

    response = await client.post("/v1/ingest", json=body, headers=headers)

    assert response.status_code == 200, response.text
    assert len(response.content) < COMPACT_MAX_BYTES
    rows = await db(
        "SELECT tableoid::regclass::text AS part, count(*) AS n FROM activity_metrics"
        " WHERE user_id = :u GROUP BY 1 ORDER BY 1",
        u=user_id,
    )
    assert [(r["part"], r["n"]) for r in rows] == [
        (partition_name("activity_metrics", (year, 7)), 2),
        (partition_name("activity_metrics", (year, 8)), 3),
    ]


async def test_the_same_metric_twice_in_one_body_is_applied_in_order(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    before = _fallbacks()
    body = g.envelope(
        metrics=[
            _steps(g.T0, 10, qty=1.0),
            _heart(g.T0, 10, bpm=61.0),
            _steps(g.T0 + timedelta(minutes=5), 10, qty=2.0),  # overlaps the first by 5 minutes
        ]
    )

    response = await client.post("/v1/ingest", json=body, headers=headers)

    assert response.status_code == 200, response.text
    assert _fallbacks() == before
    steps = response.json()["metrics"]["step_count"]
    assert (steps["received"], steps["inserted"], steps["updated"]) == (20, 15, 5)
    stored = await db(
        "SELECT qty, count(*) AS n FROM activity_metrics WHERE user_id = :u GROUP BY qty"
        " ORDER BY qty",
        u=user_id,
    )
    assert [(r["qty"], r["n"]) for r in stored] == [(1.0, 5), (2.0, 10)]


async def test_writer_locks_are_taken_in_the_order_erasure_takes_them(
    engine: AsyncEngine, writer: tuple[int, dict[str, str]]
) -> None:
    user_id, _ = writer
    tables = ["workout_routes", "heart_rate_metrics", "workouts", "workout_series"]
    assert set(tables) <= set(LOCK_ORDER)

    async def held_elsewhere(key: str) -> bool:
        async with engine.begin() as conn:
            free = await conn.execute(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key}
            )
            return not free.scalar_one()

    # Erasure holds the first lock of the order; a small body wanting these tables must wait
    # for it holding none of the others (holding a later one is how two writers deadlock).
    async with engine.begin() as erasing:
        await erase_repository.lock(erasing, user_id, ["workouts"])
        async with engine.begin() as ingesting:
            waiting = asyncio.create_task(locks.lock_tables(ingesting, user_id, tables))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            for table in ("workout_series", "workout_routes", "heart_rate_metrics"):
                assert not await held_elsewhere(f"{table}:{user_id}"), table
            await erasing.rollback()
            await asyncio.wait_for(waiting, 5)


async def test_an_unordered_series_then_an_ordered_one_of_the_same_metric(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    before = _fallbacks()
    unordered = _steps(g.T0, 10, qty=1.0)
    unordered["data"].reverse()  # not in time order: written through the merge
    body = g.envelope(metrics=[unordered, _steps(g.T0 + timedelta(minutes=5), 10, qty=2.0)])

    response = await client.post("/v1/ingest", json=body, headers=headers)

    assert response.status_code == 200, response.text
    assert _fallbacks() == before  # the second was not taken for a series into an empty range
    stored = await db(
        "SELECT qty, count(*) AS n FROM activity_metrics WHERE user_id = :u GROUP BY qty"
        " ORDER BY qty",
        u=user_id,
    )
    assert [(r["qty"], r["n"]) for r in stored] == [(1.0, 5), (2.0, 10)]
