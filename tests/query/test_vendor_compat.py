"""The vendor server's read endpoints (``/api/metrics/{name}``, ``/api/workouts``), for its
Grafana dashboards: its shapes, Grafana's epoch-millisecond ranges, its ``api-key`` header."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests import hae_generator as g
from tests.query.support import Account, ingest

FROM_MS = str(int(g.T0.timestamp() * 1000) - 86_400_000)
TO_MS = str(int(g.T0.timestamp() * 1000) + 10 * 86_400_000)


@pytest.fixture
async def sent(client: httpx.AsyncClient, alice: Account) -> dict[str, Any]:
    payload = g.envelope(
        metrics=[
            g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 90)),
            g.metric("heart_rate", "count/min", g.heart_rate_points(g.T0, 120, g.MINUTE)),
            g.metric(
                "resting_heart_rate",
                "count/min",
                g.quantity_points("resting_heart_rate", "count/min", g.T0, 4, g.HOUR),
            ),
            g.metric("blood_pressure", "mmHg", g.blood_pressure_points(g.T0, 2)),
            g.metric("sleep_analysis", "hr", g.sleep_aggregated(3, nights=2)),
        ],
        workouts=[g.workout_v2()],
    )
    await ingest(client, alice.headers, payload)
    return payload


def vendor_headers(account: Account) -> dict[str, str]:
    token = account.headers["Authorization"].removeprefix("Bearer ")
    return {"api-key": token}


async def get(client: httpx.AsyncClient, account: Account, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=vendor_headers(account))
    assert response.status_code == 200, response.text
    return response.json()


async def test_raw_and_aggregated_metrics_in_the_vendor_shape(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    window = {"from": FROM_MS, "to": TO_MS}
    raw = await get(client, alice, "/api/metrics/step_count", **window)
    daily = await get(client, alice, "/api/metrics/step_count", granularity="daily", **window)
    hourly_hr = await get(client, alice, "/api/metrics/heart_rate", granularity="hourly", **window)
    resting = await get(client, alice, "/api/metrics/resting_heart_rate", granularity="daily")
    pressure = await get(client, alice, "/api/metrics/blood_pressure", granularity="daily")

    steps = sent["data"]["metrics"][0]["data"]
    assert len(raw) == 90
    assert set(raw[0]) == {"date", "qty", "units", "source"}
    assert raw[0]["qty"] == steps[0]["qty"]
    assert daily == [
        {"date": "2023-01-20T00:00:00+11:00", "qty": sum(p["qty"] for p in steps), "units": "count"}
    ]
    assert [set(h) for h in hourly_hr] == [{"date", "Min", "Avg", "Max", "units"}] * 2
    hr = sent["data"]["metrics"][1]["data"][:60]
    assert hourly_hr[0]["Max"] == max(p["Max"] for p in hr)
    rest = [p["qty"] for p in sent["data"]["metrics"][2]["data"]]
    assert resting[0]["qty"] == pytest.approx(sum(rest) / len(rest))
    assert set(pressure[0]) == {"date", "systolic", "diastolic", "units"}


async def test_sleep_and_workouts(
    client: httpx.AsyncClient, alice: Account, bob: Account, sent: dict[str, Any]
) -> None:
    nights = await get(client, alice, "/api/metrics/sleep_analysis")
    workouts = await get(client, alice, "/api/workouts", startDate=FROM_MS, endDate=TO_MS)

    assert len(nights) == 2
    assert {"sleepStart", "sleepEnd", "inBedStart", "inBedEnd", "core", "deep", "rem"} <= set(
        nights[0]
    )
    [workout] = workouts
    assert workout["id"] == sent["data"]["workouts"][0]["id"]
    assert workout["duration"] == 1800.0
    # Always the key's own user.
    assert await get(client, bob, "/api/metrics/step_count") == []
    assert await get(client, bob, "/api/metrics/sleep_analysis") == []
    assert await get(client, bob, "/api/workouts") == []
