"""GET /v1/sleep: nights (noon to noon, named for the day they end) with the aggregated records
as sent, stage totals from segments, the segments themselves, and pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests import hae_generator as g
from tests.query.support import Account, ingest, problem


async def sleep(client: httpx.AsyncClient, account: Account, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/sleep", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_nights_carry_records_segment_totals_and_segments(
    client: httpx.AsyncClient, alice: Account
) -> None:
    segments = g.sleep_segments(nights=2, seed=1)
    records = g.sleep_aggregated(4, nights=2, seed=2)
    await ingest(
        client,
        alice.headers,
        g.envelope(metrics=[g.metric("sleep_analysis", "hr", segments + records)]),
    )

    body = await sleep(client, alice)

    assert [n["night"] for n in body["nights"]] == ["2023-01-20", "2023-01-21"]
    first = body["nights"][0]
    [record] = first["records"]
    sent = records[0]
    assert record["date"] == "2023-01-20T00:00:00+11:00"
    assert (record["core"], record["deep"], record["rem"]) == (
        sent["core"],
        sent["deep"],
        sent["rem"],
    )
    assert record["total_sleep"] == sent["totalSleep"]
    assert (
        record["sleep_start"]
        == datetime.strptime(sent["sleepStart"], "%Y-%m-%d %H:%M:%S %z").isoformat()
    )
    night_segments = [s for s in segments if s["startDate"] < "2023-01-20 12"]
    assert len(first["segments"]) == len(night_segments)
    [totals] = first["from_segments"]
    assert totals["source"] == g.WATCH
    assert totals["segment_count"] == len(night_segments)

    def hours(stage: str) -> float:
        return float(sum(s["qty"] for s in night_segments if s["value"] == stage))

    assert totals["deep"] == pytest.approx(hours("Deep"), abs=1e-3)
    assert totals["in_bed"] == pytest.approx(hours("InBed"), abs=1e-3)
    assert totals["total_sleep"] == pytest.approx(
        hours("Core") + hours("Deep") + hours("REM"), abs=1e-3
    )
    assert totals["sleep_start"] < totals["sleep_end"]


async def test_pages_ranges_and_segments_off(client: httpx.AsyncClient, alice: Account) -> None:
    await ingest(
        client,
        alice.headers,
        g.envelope(metrics=[g.metric("sleep_analysis", "hr", g.sleep_aggregated(2, nights=5))]),
    )

    first = await sleep(client, alice, limit=2, segments="false")
    second = await sleep(client, alice, limit=2, cursor=first["next_cursor"])
    ranged = await sleep(client, alice, **{"from": "2023-01-21", "to": "2023-01-23"})

    assert [n["night"] for n in first["nights"]] == ["2023-01-20", "2023-01-21"]
    assert "segments" not in first["nights"][0]
    assert [n["night"] for n in second["nights"]] == ["2023-01-22", "2023-01-23"]
    assert [n["night"] for n in ranged["nights"]] == ["2023-01-21", "2023-01-22"]


async def test_a_night_across_a_dst_change_keeps_each_bounds_offset(
    client: httpx.AsyncClient, alice: Account
) -> None:
    aest = timezone(timedelta(hours=10))
    night = g.sleep_aggregated(
        4,
        start=datetime(2023, 4, 1, 23, 0, tzinfo=g.TZ),
        sleepEnd=g.fmt_date(datetime(2023, 4, 2, 6, 30, tzinfo=aest)),
    )
    await ingest(
        client, alice.headers, g.envelope(metrics=[g.metric("sleep_analysis", "hr", night)])
    )

    [entry] = (await sleep(client, alice))["nights"]
    zoned = (await sleep(client, alice, tz="Australia/Sydney"))["nights"][0]

    assert entry["night"] == "2023-04-02"
    assert entry["records"][0]["sleep_end"] == "2023-04-02T06:30:00+10:00"
    assert entry["records"][0]["sleep_start"].endswith("+11:00")
    assert zoned["records"][0]["sleep_end"] == "2023-04-02T06:30:00+10:00"


async def test_a_date_only_night(client: httpx.AsyncClient, alice: Account) -> None:
    night = g.sleep_aggregated(4, date_only=True)
    await ingest(
        client, alice.headers, g.envelope(metrics=[g.metric("sleep_analysis", "hr", night)])
    )

    [entry] = (await sleep(client, alice))["nights"]

    assert entry["night"] == "2023-01-20"
    assert entry["records"][0]["date"] == "2023-01-20"


async def test_bad_sleep_parameters(client: httpx.AsyncClient, alice: Account) -> None:
    problem(await client.get("/v1/sleep", params={"tz": "Nowhere"}, headers=alice.headers), 400)
    problem(await client.get("/v1/sleep", params={"limit": 0}, headers=alice.headers), 422)
    problem(await client.get("/v1/sleep", params={"cursor": "x"}, headers=alice.headers), 400)
