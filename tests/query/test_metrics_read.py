"""GET /v1/metrics and /v1/metrics/{name}: the metric list, raw pages, buckets computed in SQL
(sums equal the raw points' sum; min/avg/max for discrete metrics), local days across a DST change
and for a user who travels, CSV, and the errors."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests import hae_generator as g
from tests.query.support import Account, ingest, problem

SYDNEY = ZoneInfo("Australia/Sydney")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def fmt(dt: datetime) -> str:
    return g.fmt_date(dt)


async def pages(
    client: httpx.AsyncClient, account: Account, name: str, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a query, following next_cursor (and checking the Link header agrees)."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/v1/metrics/{name}", params=query, headers=account.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in response.headers
            return items
        assert response.headers["link"].endswith('rel="next"')
        assert f"cursor={cursor}" in response.headers["link"]
    raise AssertionError("no last page")


def points(name: str, units: str, values: list[tuple[datetime, float]], **extra: Any) -> Any:
    return g.metric(name, units, [{"date": fmt(t), "qty": q, **extra} for t, q in values])


async def test_metric_list_has_units_counts_times_and_sources(
    client: httpx.AsyncClient, alice: Account
) -> None:
    steps = g.quantity_points("step_count", "count", g.T0, 10, seed=1)
    steps += g.quantity_points("step_count", "count", g.T0, 5, source=g.PHONE, seed=2)
    await ingest(
        client,
        alice.headers,
        g.envelope(
            metrics=[
                g.metric("step_count", "count", steps),
                g.metric("heart_rate", "count/min", g.heart_rate_points(g.T0, 20)),
                g.metric(
                    "active_energy", "kcal", g.quantity_points("active_energy", "kcal", g.T0, 3)
                ),
                g.metric(
                    "active_energy",
                    "kJ",
                    g.quantity_points("active_energy", "kJ", g.T0 + g.HOUR, 2, source=None),
                ),
                g.metric("sleep_analysis", "hr", g.sleep_segments(nights=1)),
                {"name": "odd_one", "units": "x", "data": [{"date": fmt(g.T0), "qty": 1}]},
            ]
        ),
    )

    response = await client.get("/v1/metrics", headers=alice.headers)

    assert response.status_code == 200
    listed = {m["name"]: m for m in response.json()["metrics"]}
    assert sorted(listed) == [
        "active_energy", "heart_rate", "odd_one", "sleep_analysis", "step_count"
    ]  # fmt: skip
    steps_info = listed["step_count"]
    assert steps_info["count"] == 15
    assert steps_info["units"] == ["count"]
    assert steps_info["sources"] == sorted([g.WATCH, g.PHONE])
    assert (steps_info["kind"], steps_info["aggregation"]) == ("cumulative", "sum")
    assert at(steps_info["first_at"]) == g.T0
    assert at(steps_info["last_at"]) == g.T0 + 9 * g.MINUTE
    assert listed["active_energy"]["units"] == ["kJ", "kcal"]
    assert listed["active_energy"]["count"] == 5
    assert listed["heart_rate"]["aggregation"] == "min/avg/max"
    assert listed["sleep_analysis"]["kind"] == "sleep"
    assert listed["odd_one"]["known"] is False


async def test_raw_points_page_through_every_point_exactly_once(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    # Ties on the time, told apart by end and source (NULLs included): the cursor must step
    # through the natural-key order without skipping or repeating any of them.
    start = g.T0
    series = g.quantity_points("step_count", "count", start, 7, seed=1)
    series += g.quantity_points("step_count", "count", start, 7, source=g.PHONE, seed=2)
    series += g.quantity_points("step_count", "count", start, 7, source=None, seed=3)
    series += g.quantity_points("step_count", "count", start, 7, with_start_end=True, seed=4)
    await ingest(
        client, alice.headers, g.envelope(metrics=[g.metric("step_count", "count", series)])
    )

    for limit in (1, 3, 5, 100):
        items = await pages(client, alice, "step_count", limit=limit)
        keys = [(i["start"], i["end"], i["source"]) for i in items]
        assert len(keys) == len(set(keys)) == 28, limit
        assert [at(k[0]) for k in keys] == sorted(at(k[0]) for k in keys)
    stored = await db(
        "SELECT sum(qty) AS total FROM activity_metrics WHERE user_id = :u", u=alice.user_id
    )
    assert sum(i["qty"] for i in items) == pytest.approx(stored[0]["total"])
    assert items[0]["start"] == "2023-01-20T00:00:00+11:00"  # in the recorded offset


def _bucket_key(start: datetime, offset: int, unit: str) -> str:
    local = start.astimezone(timezone(timedelta(minutes=offset))).replace(tzinfo=None)
    if unit == "minute":
        local = local.replace(second=0, microsecond=0)
    elif unit == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    elif unit == "day":
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "week":
        local = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0)
    else:
        local = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return local.isoformat()


@pytest.mark.parametrize("unit", ["minute", "hour", "day", "week", "month"])
async def test_bucketed_sums_equal_the_sum_of_raw_points(
    unit: str, client: httpx.AsyncClient, alice: Account
) -> None:
    # Six weeks of points every 97 minutes across two month boundaries, at two offsets.
    rng_points = g.quantity_points("step_count", "count", g.T0, 700, 97 * g.MINUTE, seed=7)
    later = datetime(2023, 2, 20, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    rng_points += g.quantity_points("step_count", "count", later, 200, 61 * g.MINUTE, seed=8)
    await ingest(
        client, alice.headers, g.envelope(metrics=[g.metric("step_count", "count", rng_points)])
    )
    raw = await pages(client, alice, "step_count", limit=10_000)
    expected: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for item in raw:
        start = at(item["start"])
        offset = start.utcoffset() or timedelta()
        key = _bucket_key(start, int(offset.total_seconds() // 60), unit)
        expected[key] += item["qty"]
        counts[key] += 1

    buckets = await pages(client, alice, "step_count", bucket=unit, limit=7)

    got = {b["start"][:19]: b for b in buckets}
    assert sorted(got) == sorted(expected)
    for key, total in expected.items():
        assert got[key]["sum"] == pytest.approx(total), key
        assert got[key]["count"] == counts[key]
        assert got[key]["unit"] == "count"
    assert sum(b["sum"] for b in buckets) == pytest.approx(sum(i["qty"] for i in raw))


async def test_discrete_metrics_give_min_avg_max(client: httpx.AsyncClient, alice: Account) -> None:
    hr = g.heart_rate_points(g.T0, 300, 20 * g.SECOND, aggregated=True, seed=3)
    await ingest(
        client, alice.headers, g.envelope(metrics=[g.metric("heart_rate", "count/min", hr)])
    )

    [hour1, hour2] = await pages(client, alice, "heart_rate", bucket="hour")

    first = hr[:180]  # 20 s apart: 180 points an hour
    assert hour1["start"] == "2023-01-20T00:00:00+11:00"
    assert hour1["count"] == 180
    assert hour1["min"] == min(p["Min"] for p in first)
    assert hour1["max"] == max(p["Max"] for p in first)
    assert hour1["avg"] == pytest.approx(sum(p["Avg"] for p in first) / 180)
    assert hour2["count"] == 120


async def test_a_bucket_mixing_units_is_summed_in_the_canonical_unit(
    client: httpx.AsyncClient, alice: Account
) -> None:
    hour = g.T0
    await ingest(
        client,
        alice.headers,
        g.envelope(
            metrics=[
                points("active_energy", "kcal", [(hour, 10.0), (hour + g.MINUTE, 20.0)]),
                points("active_energy", "kJ", [(hour + 2 * g.MINUTE, 41.84)], source="Strava"),
                points(
                    "active_energy", "kJ", [(hour + g.HOUR, 100.0), (hour + 61 * g.MINUTE, 4.0)]
                ),
            ]
        ),
    )

    [mixed, kj_only] = await pages(client, alice, "active_energy", bucket="hour")

    assert (mixed["unit"], mixed["count"]) == ("kcal", 3)
    assert mixed["sum"] == pytest.approx(40.0)
    assert (kj_only["unit"], kj_only["sum"]) == ("kJ", 104.0)  # as the phone shows it


async def test_day_bucket_across_a_dst_change(client: httpx.AsyncClient, alice: Account) -> None:
    """2 April 2023 in Sydney lasted 25 hours (+1100 until 03:00, then +1000): one point an hour,
    recorded in the offset the phone had, gives a day of 25 points by either reading."""
    day_start = datetime(2023, 4, 2, tzinfo=SYDNEY).astimezone(UTC)
    stamps = [day_start + i * g.HOUR for i in range(-2, 27)]  # two hours either side
    series = [(t.astimezone(SYDNEY), 1.0) for t in stamps]
    await ingest(client, alice.headers, g.envelope(metrics=[points("step_count", "count", series)]))

    zoned = await pages(client, alice, "step_count", bucket="day", tz="Australia/Sydney")
    recorded = await pages(client, alice, "step_count", bucket="day")
    hours = await pages(
        client, alice, "step_count", bucket="hour", tz="Australia/Sydney",
        **{"from": "2023-04-02", "to": "2023-04-03"},
    )  # fmt: skip

    assert [(b["start"], b["sum"]) for b in zoned] == [
        ("2023-04-01T00:00:00+11:00", 2.0),
        ("2023-04-02T00:00:00+11:00", 25.0),
        ("2023-04-03T00:00:00+10:00", 2.0),
    ]
    # By recorded offsets: the day's points carry two offsets, so its start is wall-clock only.
    assert [(b["start"], b["count"]) for b in recorded] == [
        ("2023-04-01T00:00:00+11:00", 2),
        ("2023-04-02T00:00:00", 25),
        ("2023-04-03T00:00:00+10:00", 2),
    ]
    assert len(hours) == 25  # 02:00 happened twice
    assert [h["start"] for h in hours[2:4]] == [
        "2023-04-02T02:00:00+11:00",
        "2023-04-02T02:00:00+10:00",
    ]


async def test_a_traveller_gets_local_days_by_recorded_offset_or_by_tz(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Sydney (+1100) on the 20th, then a flight east across the date line: the 20th again in
    Los Angeles (-0800). Each point keeps the offset it was recorded in."""
    sydney, la = timezone(timedelta(hours=11)), timezone(timedelta(hours=-8))
    in_sydney = [(datetime(2023, 1, 20, h, tzinfo=sydney), 10.0) for h in range(8, 21)]
    in_la = [(datetime(2023, 1, 20, h, tzinfo=la), 1.0) for h in range(8, 21)]
    await ingest(
        client,
        alice.headers,
        g.envelope(metrics=[points("step_count", "count", in_sydney + in_la)]),
    )

    recorded = await pages(client, alice, "step_count", bucket="day")
    home = await pages(client, alice, "step_count", bucket="day", tz="Australia/Sydney")
    away = await pages(client, alice, "step_count", bucket="day", tz="America/Los_Angeles")

    # As the phone showed it where it was: one 20 January with every point.
    assert [(b["start"], b["count"], b["sum"]) for b in recorded] == [
        ("2023-01-20T00:00:00", 26, 143.0)
    ]
    assert [(b["start"], b["sum"]) for b in home] == [
        ("2023-01-20T00:00:00+11:00", 130.0),
        ("2023-01-21T00:00:00+11:00", 13.0),
    ]
    assert [(b["start"], b["sum"]) for b in away] == [
        ("2023-01-19T00:00:00-08:00", 110.0),
        ("2023-01-20T00:00:00-08:00", 33.0),
    ]
    # A local date range reads each point in its own offset, or in tz.
    day = {"from": "2023-01-20", "to": "2023-01-21"}
    assert len(await pages(client, alice, "step_count", **day)) == 26
    assert len(await pages(client, alice, "step_count", tz="Australia/Sydney", **day)) == 13
    instant = {"from": "2023-01-20T12:00:00+11:00", "to": "2023-01-20T13:00:00+11:00"}
    [noon] = await pages(client, alice, "step_count", **instant)
    assert noon["start"] == "2023-01-20T12:00:00+11:00"
    # An unencoded '+' arrives as a space: still read as the offset.
    spaced = {"from": "2023-01-20T12:00:00 11:00", "to": "2023-01-20T13:00:00 11:00"}
    assert len(await pages(client, alice, "step_count", **spaced)) == 1


async def test_other_shapes_bucket_by_their_own_columns(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await ingest(
        client,
        alice.headers,
        g.envelope(
            metrics=[
                g.metric("blood_pressure", "mmHg", g.blood_pressure_points(g.T0, 4, g.HOUR)),
                g.metric("sexual_activity", "count", g.sexual_activity_points(g.T0, 2)),
                g.metric(
                    "blood_glucose", "mmol/L", g.blood_glucose_points(g.T0, 3, units="mmol/L")
                ),
            ]
        ),
    )

    [bp] = await pages(client, alice, "blood_pressure", bucket="day")
    raw_bp = await pages(client, alice, "blood_pressure")
    sex = await pages(client, alice, "sexual_activity", bucket="month")
    [glucose] = await pages(client, alice, "blood_glucose", bucket="day")

    assert bp["systolic_max"] == max(p["systolic"] for p in raw_bp)
    assert bp["diastolic_min"] == min(p["diastolic"] for p in raw_bp)
    assert sex[0]["unspecified"] + sex[0]["protection_used"] + sex[0]["protection_not_used"] > 0
    assert glucose["unit"] == "mmol/L"


async def test_csv_by_accept_header(client: httpx.AsyncClient, alice: Account) -> None:
    await ingest(
        client,
        alice.headers,
        g.envelope(
            metrics=[
                g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 5))
            ]
        ),
    )

    response = await client.get(
        "/v1/metrics/step_count",
        params={"limit": 3},
        headers={**alice.headers, "Accept": "text/csv"},
    )
    buckets = await client.get(
        "/v1/metrics/step_count",
        params={"bucket": "day"},
        headers={**alice.headers, "Accept": "text/csv;q=0.9, application/json;q=0.1"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["start", "end", "source", "qty", "unit", "qty_canonical"]
    assert len(rows) == 4
    assert rows[1][0] == "2023-01-20T00:00:00+11:00"
    assert rows[1][1] == ""  # no end
    assert 'rel="next"' in response.headers["link"]
    bucket_rows = list(csv.reader(io.StringIO(buckets.text)))
    assert bucket_rows[0] == ["start", "count", "unit", "sum"]
    assert math.isclose(
        float(bucket_rows[1][3]),
        sum(p["qty"] for p in g.quantity_points("step_count", "count", g.T0, 5)),
    )


async def test_source_filter(client: httpx.AsyncClient, alice: Account) -> None:
    series = g.quantity_points("step_count", "count", g.T0, 4)
    series += g.quantity_points("step_count", "count", g.T0, 3, source="Strava")
    await ingest(
        client, alice.headers, g.envelope(metrics=[g.metric("step_count", "count", series)])
    )

    only = await pages(client, alice, "step_count", source="Strava")

    assert [i["source"] for i in only] == ["Strava"] * 3


async def test_a_known_metric_never_sent_is_empty_and_an_unknown_name_is_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    empty = await client.get("/v1/metrics/vo2_max", params={"bucket": "day"}, headers=alice.headers)
    missing = await client.get("/v1/metrics/no_such_metric", headers=alice.headers)

    assert empty.status_code == 200
    assert empty.json()["items"] == []
    problem(missing, 404)


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"tz": "Mars/Olympus"}, 400, "tz"),
        ({"tz": "+11:00"}, 400, "tz"),
        ({"from": "yesterday"}, 400, "from"),
        ({"from": "2023-01-21", "to": "2023-01-20"}, 400, "to"),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"bucket": "fortnight"}, 422, None),
        ({"limit": "0"}, 422, None),
    ],
)
async def test_bad_parameters_are_problems(
    params: dict[str, str],
    status: int,
    field: str | None,
    client: httpx.AsyncClient,
    alice: Account,
) -> None:
    body = problem(
        await client.get("/v1/metrics/step_count", params=params, headers=alice.headers), status
    )
    if field is not None:
        assert body["field"] == field


async def test_a_cursor_only_fits_its_own_query(client: httpx.AsyncClient, alice: Account) -> None:
    series = g.quantity_points("step_count", "count", g.T0, 5)
    await ingest(
        client, alice.headers, g.envelope(metrics=[g.metric("step_count", "count", series)])
    )
    first = await client.get("/v1/metrics/step_count", params={"limit": 2}, headers=alice.headers)
    cursor = first.json()["next_cursor"]

    other = await client.get(
        "/v1/metrics/step_count", params={"limit": 2, "bucket": "hour", "cursor": cursor},
        headers=alice.headers,
    )  # fmt: skip

    assert problem(other, 400)["field"] == "cursor"


async def test_sleep_is_read_at_its_own_endpoint(client: httpx.AsyncClient, alice: Account) -> None:
    body = problem(await client.get("/v1/metrics/sleep_analysis", headers=alice.headers), 400)
    assert "/v1/sleep" in body["detail"]


async def test_scopes(client: httpx.AsyncClient, make_key: Any) -> None:
    _, write_only = await make_key("phone", ("write",))
    _, read_only = await make_key("grafana", ("read",))

    refused = await client.get("/v1/metrics", headers={"Authorization": f"Bearer {write_only}"})
    allowed = await client.get("/v1/metrics", headers={"Authorization": f"Bearer {read_only}"})
    anonymous = await client.get("/v1/metrics")

    problem(refused, 403)
    assert allowed.status_code == 200
    problem(anonymous, 401)
