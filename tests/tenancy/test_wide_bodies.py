"""A body of thousands of tiny series costs per series, not per series' round trips: the series
of one table are written together, and the counts stay exact per metric."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

NAMES = ("step_count", "active_energy", "heart_rate", "blood_glucose", "walking_running_distance")
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def _point(name: str, at: datetime, value: float) -> dict[str, Any]:
    date = at.strftime("%Y-%m-%d %H:%M:%S +0000")
    if name == "heart_rate":
        return {"date": date, "Min": value, "Avg": value, "Max": value}
    return {"date": date, "qty": value}


def _wide_body(count: int, value: float) -> bytes:
    metrics = [
        {
            "name": NAMES[i % len(NAMES)],
            "units": "count",
            "data": [_point(NAMES[i % len(NAMES)], T0 + timedelta(minutes=i), value)],
        }
        for i in range(count)
    ]
    return json.dumps({"data": {"metrics": metrics}}).encode()


async def test_ten_thousand_one_point_series_are_stored_with_exact_counts(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Callable[..., Any]
) -> None:
    user_id, headers = writer
    headers = {**headers, "Content-Type": "application/json"}

    first = await client.post("/v1/ingest", content=_wide_body(10_000, 5.0), headers=headers)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["totals"] == {
        "received": 10_000,
        "inserted": 10_000,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    assert {name: c["inserted"] for name, c in report["metrics"].items()} == dict.fromkeys(
        NAMES, 2_000
    )

    # Half of it again with other values: revisions counted per metric, the rest unchanged.
    half = await client.post("/v1/ingest", content=_wide_body(5_000, 7.0), headers=headers)
    assert half.status_code == 200, half.text
    assert half.json()["totals"]["updated"] == 5_000
    assert {c["updated"] for c in half.json()["metrics"].values()} == {1_000}

    stored = await db(
        "SELECT (SELECT count(*) FROM activity_metrics WHERE user_id = :u)"
        " + (SELECT count(*) FROM heart_rate_metrics WHERE user_id = :u)"
        " + (SELECT count(*) FROM blood_glucose_metrics WHERE user_id = :u) AS n",
        u=user_id,
    )
    assert stored[0]["n"] == 10_000


async def test_series_of_one_metric_whose_keys_overlap_are_applied_in_body_order(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Callable[..., Any]
) -> None:
    user_id, headers = writer
    at = T0.strftime("%Y-%m-%d %H:%M:%S +0000")
    series = [
        {"name": "step_count", "units": "count", "data": [{"date": at, "qty": q}]}
        for q in (1.0, 2.0, 3.0)
    ] + [{"name": "active_energy", "units": "kcal", "data": [{"date": at, "qty": 9.0}]}]

    response = await client.post("/v1/ingest", json={"data": {"metrics": series}}, headers=headers)

    assert response.status_code == 200, response.text
    steps = response.json()["metrics"]["step_count"]
    assert (steps["received"], steps["inserted"], steps["updated"]) == (3, 1, 2)
    stored = await db(
        "SELECT m.name, a.qty FROM activity_metrics a JOIN metric_types m ON m.id = a.metric_id"
        " WHERE a.user_id = :u ORDER BY m.name",
        u=user_id,
    )
    assert [(r["name"], r["qty"]) for r in stored] == [("active_energy", 9.0), ("step_count", 3.0)]
