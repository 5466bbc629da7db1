"""Deletion: ``DELETE /v1/data`` (a range, a metric, a section) with a receipt counting rows per
table; full account erasure by API and CLI removing rows, raw payloads, keys and Redis entries,
leaving an audit record without health data; and re-ingesting afterwards works."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.auth import service as auth_service
from app.config import Settings
from tests import hae_generator as g
from tests.conftest import TEST_REDIS_URL
from tests.query.support import (
    HEALTH_TABLES,
    Account,
    every_section,
    ingest,
    problem,
    row_counts,
    snapshot,
)

# Time column of each table, to count independently what a local day holds.
_TIME = {t: ("night_at" if t == "sleep_metrics" else "start_at") for t in HEALTH_TABLES}


async def local_day_counts(db: Any, user_id: int, day: str) -> dict[str, int]:
    """Rows per table whose local date (in their recorded offset) is ``day``; a workout's series
    and route go with the workout's own start."""
    counts: dict[str, int] = {}
    local = (
        "CAST((({c} AT TIME ZONE 'UTC') + {o} * interval '1 minute') AS date) = CAST(:d AS date)"
    )
    for table in HEALTH_TABLES:
        if table in ("workout_series", "workout_routes"):
            where = local.format(c="w.start_at", o="w.utc_offset_min")
            sql = f"SELECT count(*) AS n FROM {table} t JOIN workouts w ON w.id = t.workout_id WHERE t.user_id = :u AND {where}"  # noqa: S608
        else:
            where = local.format(c=_TIME[table], o="utc_offset_min")
            sql = f"SELECT count(*) AS n FROM {table} WHERE user_id = :u AND {where}"  # noqa: S608
        [row] = await db(sql, u=user_id, d=date.fromisoformat(day))
        counts[table] = row["n"]
    return counts


async def delete(client: httpx.AsyncClient, account: Account, **params: Any) -> dict[str, Any]:
    response = await client.delete("/v1/data", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


async def test_deleting_a_local_day_gives_a_receipt_per_table(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    await ingest(client, alice.headers, every_section())
    before = await row_counts(db, alice.user_id)
    expected = await local_day_counts(db, alice.user_id, "2023-01-20")
    assert sum(expected.values()) > 100

    receipt = await delete(client, alice, **{"from": "2023-01-20", "to": "2023-01-21"})

    after = await row_counts(db, alice.user_id)
    assert receipt["action"] == "data.deleted"
    assert receipt["scope"]["from"] == "2023-01-20T00:00:00"
    for table, count in expected.items():
        assert receipt["deleted"][table] == count, table
        assert after[table] == before[table] - count, table
    assert receipt["total"] == sum(expected.values()) + receipt["deleted"]["quality_flags"]
    assert sum((await local_day_counts(db, alice.user_id, "2023-01-20")).values()) == 0
    assert sum(after.values()) > 0  # the other days are still there


async def test_deleting_one_metric_or_one_section(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    await ingest(client, alice.headers, every_section())
    before = await row_counts(db, alice.user_id)
    [steps] = await db(
        "SELECT count(*) AS n FROM activity_metrics a JOIN metric_types m ON m.id = a.metric_id"
        " WHERE a.user_id = :u AND m.name = 'step_count'",
        u=alice.user_id,
    )

    by_metric = await delete(client, alice, metric="step_count")
    sleep = await delete(client, alice, metric="sleep_analysis")
    by_section = await delete(client, alice, section="workouts")

    assert by_metric["deleted"] == {"activity_metrics": steps["n"], "quality_flags": 0}
    assert sleep["deleted"]["sleep_metrics"] == before["sleep_metrics"]
    assert sleep["deleted"]["sleep_segments"] == before["sleep_segments"]
    assert by_section["deleted"]["workouts"] == before["workouts"] == 4
    assert by_section["deleted"]["workout_series"] == before["workout_series"]
    assert by_section["deleted"]["workout_routes"] == before["workout_routes"]
    after = await row_counts(db, alice.user_id)
    assert after["activity_metrics"] == before["activity_metrics"] - steps["n"] > 0
    assert after["workouts"] == after["workout_series"] == after["sleep_segments"] == 0
    assert after["heart_rate_metrics"] == before["heart_rate_metrics"]
    assert after["ecg_recordings"] == before["ecg_recordings"]


async def test_deletion_takes_the_quality_flags_of_those_points(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    racing = [
        {"date": g.fmt_date(g.T0 + i * g.MINUTE), "Min": 200, "Avg": 235, "Max": 240}
        for i in range(3)
    ]
    await ingest(
        client,
        alice.headers,
        g.envelope(
            metrics=[
                g.metric("heart_rate", "count/min", racing),
                g.metric("step_count", "count", [{"date": g.fmt_date(g.T0), "qty": 60_000}]),
            ]
        ),
    )
    flags = "SELECT metric, count(*) AS n FROM quality_flags WHERE user_id = :u GROUP BY 1"
    before = {r["metric"]: r["n"] for r in await db(flags, u=alice.user_id)}
    assert before["heart_rate"] >= 3
    assert before["step_count"] == 1

    receipt = await delete(client, alice, metric="heart_rate")

    assert receipt["deleted"] == {"heart_rate_metrics": 3, "quality_flags": before["heart_rate"]}
    assert {r["metric"]: r["n"] for r in await db(flags, u=alice.user_id)} == {"step_count": 1}


async def test_deletion_is_audited_without_health_data(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    await ingest(client, alice.headers, every_section())

    receipt = await delete(client, alice, section="ecg")

    [record] = await db(
        "SELECT details FROM audit_log WHERE action = 'data.deleted' AND user_id = :u",
        u=alice.user_id,
    )
    details = record["details"]
    assert details["receipt_id"] == receipt["receipt_id"]
    assert details["deleted"] == receipt["deleted"] == {"ecg_recordings": 2, "quality_flags": 0}
    assert set(details) == {"receipt_id", "from", "to", "selection", "deleted", "total"}


async def test_what_deletion_refuses(
    client: httpx.AsyncClient, alice: Account, make_key: Any
) -> None:
    problem(await client.delete("/v1/data", headers=alice.headers), 400)
    problem(
        await client.delete(
            "/v1/data", params={"metric": "step_count", "section": "ecg"}, headers=alice.headers
        ),
        400,
    )
    problem(await client.delete("/v1/data", params={"section": "x"}, headers=alice.headers), 400)
    for scopes in (("read",), ("write",)):
        _, token = await make_key(f"half-{scopes[0]}", scopes)
        headers = {"Authorization": f"Bearer {token}"}
        problem(await client.delete("/v1/data", params={"section": "ecg"}, headers=headers), 403)
        problem(await client.delete("/v1/account", params={"confirm": "x"}, headers=headers), 403)


async def _redis_keys(pattern: str) -> list[bytes]:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        return [key async for key in redis.scan_iter(match=pattern, count=1000)]
    finally:
        await redis.aclose()


async def test_account_erasure_removes_everything_but_the_audit_record(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account, settings: Settings, app: Any
) -> None:
    await ingest(client, alice.headers, every_section())
    await ingest(client, bob.headers, every_section())
    bob_before = await snapshot(db, bob.user_id)
    # Cached reads to erase.
    for path in ("/v1/metrics", "/v1/metrics/step_count?bucket=day"):
        assert (await client.get(path, headers=alice.headers)).status_code == 200
    prefix = settings.redis_prefix
    assert await _redis_keys(f"{prefix}:q:{alice.user_id}:*")
    [key] = await db("SELECT key_id FROM api_keys WHERE user_id = :u", u=alice.user_id)
    assert await _redis_keys(auth_service.cache_key(settings, key["key_id"]))
    rows = await row_counts(db, alice.user_id)

    unconfirmed = await client.delete("/v1/account", headers=alice.headers)
    mistaken = await client.delete("/v1/account", params={"confirm": "bob"}, headers=alice.headers)
    response = await client.delete(
        "/v1/account", params={"confirm": "alice"}, headers=alice.headers
    )

    problem(unconfirmed, 400)
    problem(mistaken, 400)
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["action"] == "account.erased"
    for table, count in rows.items():
        assert receipt["deleted"][table] == count, table
    assert receipt["deleted"]["raw_ingestions"] == 1
    assert receipt["deleted"]["api_keys"] == 1
    assert receipt["deleted"]["users"] == 1
    assert receipt["deleted"]["data_freshness"] > 0
    assert receipt["redis_keys_deleted"] >= 3
    assert sum((await row_counts(db, alice.user_id)).values()) == 0
    for table in ("raw_ingestions", "api_keys", "quality_flags", "data_freshness"):
        assert await db(f"SELECT 1 FROM {table} WHERE user_id = :u", u=alice.user_id) == []  # noqa: S608
    assert await db("SELECT 1 FROM users WHERE id = :u", u=alice.user_id) == []
    assert await _redis_keys(f"{prefix}:q:{alice.user_id}:*") == []
    assert await _redis_keys(f"{prefix}:ver:{alice.user_id}") == []
    assert await _redis_keys(auth_service.cache_key(settings, key["key_id"])) == []
    problem(await client.get("/v1/metrics", headers=alice.headers), 401)
    [record] = await db(
        "SELECT details FROM audit_log WHERE action = 'account.erased' AND user_id = :u",
        u=alice.user_id,
    )
    assert record["details"]["receipt_id"] == receipt["receipt_id"]
    assert set(record["details"]) == {"receipt_id", "via", "deleted", "total"}
    assert "alice" not in json.dumps(record["details"])
    assert await snapshot(db, bob.user_id) == bob_before  # nobody else's rows


async def test_cli_erasure_then_reingesting_works(
    client: httpx.AsyncClient, db: Any, alice: Account, cli: Any, make_key: Any
) -> None:
    payload = every_section()
    await ingest(client, alice.headers, payload)
    original = await snapshot(db, alice.user_id)

    refused = await cli("users", "erase", "alice")
    assert refused.code == 2
    assert await snapshot(db, alice.user_id) == original
    result = await cli("users", "erase", "alice", "--yes")
    missing = await cli("users", "erase", "alice", "--yes")

    assert result.code == 0, result.out
    receipt = json.loads(result.out)
    assert receipt["deleted"]["users"] == 1
    assert receipt["total"] == sum(receipt["deleted"].values())
    assert missing.code == 4
    # The same person comes back: a new account, the very same body is processed again.
    user_id, token = await make_key("alice")
    report = await ingest(client, {"Authorization": f"Bearer {token}"}, payload)
    assert report["status"] == "processed"
    assert report["totals"]["inserted"] == report["totals"]["received"]
    assert await snapshot(db, user_id) == original
    [record] = await db("SELECT details FROM audit_log WHERE action = 'account.erased'")
    assert record["details"]["via"] == "cli"


@pytest.mark.parametrize("section", ["symptoms", "medications", "stateOfMind", "cycleTracking"])
async def test_each_event_section_can_be_deleted(
    section: str, client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    await ingest(client, alice.headers, every_section())

    receipt = await delete(client, alice, section=section)

    [(table, count)] = [(t, n) for t, n in receipt["deleted"].items() if t != "quality_flags"]
    assert count == len(every_section()["data"][section])
    assert await db(f"SELECT 1 FROM {table} WHERE user_id = :u", u=alice.user_id) == []  # noqa: S608
