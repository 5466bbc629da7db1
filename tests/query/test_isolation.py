"""Isolation: on every read, export and delete route, user B's key never sees or touches user A's
data, even with A's ids guessed, A's cursors replayed and ranges that overlap A's exactly."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests import hae_generator as g
from tests.query.support import Account, every_section, ingest, problem, snapshot

WINDOW = {"from": "2023-01-01", "to": "2023-06-01"}


def bobs_payload() -> dict[str, Any]:
    """Same metrics, same minutes, other values; an indoor workout at Alice's start time."""
    return g.envelope(
        metrics=[
            g.metric(
                "step_count", "count", g.quantity_points("step_count", "count", g.T0, 30, seed=99)
            ),
            g.metric("heart_rate", "count/min", g.heart_rate_points(g.T0, 30, seed=98)),
        ],
        workouts=[g.workout_v2(location="Indoor", seed=97)],
    )


@pytest.fixture
async def both(client: httpx.AsyncClient, db: Any, alice: Account, bob: Account) -> dict[str, Any]:
    await ingest(client, alice.headers, every_section())
    await ingest(client, bob.headers, bobs_payload())
    alice_workouts = await db(
        "SELECT id FROM workouts WHERE user_id = :u ORDER BY start_at", u=alice.user_id
    )
    return {
        "alice_rows": await snapshot(db, alice.user_id),
        "bob_rows": await snapshot(db, bob.user_id),
        "alice_workouts": [str(w["id"]) for w in alice_workouts],
    }


async def get(client: httpx.AsyncClient, account: Account, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_reads_show_only_the_keys_own_user(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account, both: dict[str, Any]
) -> None:
    listed = {m["name"]: m for m in (await get(client, bob, "/v1/metrics"))["metrics"]}
    assert sorted(listed) == ["heart_rate", "step_count"]
    assert listed["step_count"]["count"] == 30
    assert listed["heart_rate"]["count"] == 30

    bob_steps = await db(
        "SELECT qty FROM activity_metrics WHERE user_id = :u ORDER BY start_at", u=bob.user_id
    )
    alice_names = {m["name"] for m in (await get(client, alice, "/v1/metrics"))["metrics"]}
    for name in sorted(alice_names - {"sleep_analysis"}):
        params: dict[str, str | int] = {"limit": 10_000, **WINDOW}
        if name == "mystery_metric":  # an unknown metric only Alice sent: never confirmed to Bob
            problem(
                await client.get(f"/v1/metrics/{name}", params=params, headers=bob.headers), 404
            )
            continue
        raw = await get(client, bob, f"/v1/metrics/{name}", **params)
        buckets = await get(client, bob, f"/v1/metrics/{name}", bucket="day", **params)
        if name == "step_count":
            assert [i["qty"] for i in raw["items"]] == [r["qty"] for r in bob_steps]
            assert [b["sum"] for b in buckets["items"]] == [sum(r["qty"] for r in bob_steps)]
        elif name == "heart_rate":
            assert len(raw["items"]) == 30
        else:
            assert raw["items"] == [], name
            assert buckets["items"] == [], name

    assert (await get(client, bob, "/v1/sleep", **{"from": "2023-01-01"}))["nights"] == []
    assert (await get(client, bob, "/v1/workouts/distance", bucket="day"))["items"] == []


async def test_workout_ids_guessed_from_another_user_are_not_found(
    client: httpx.AsyncClient, alice: Account, bob: Account, both: dict[str, Any]
) -> None:
    [bobs] = (await get(client, bob, "/v1/workouts", **WINDOW))["items"]
    assert bobs["id"] not in both["alice_workouts"]

    for workout_id in both["alice_workouts"]:
        problem(await client.get(f"/v1/workouts/{workout_id}", headers=bob.headers), 404)
        for accept in ("application/geo+json", "application/gpx+xml"):
            problem(
                await client.get(
                    f"/v1/workouts/{workout_id}/route", headers={**bob.headers, "Accept": accept}
                ),
                404,
            )
    # Alice's own key still reads them.
    assert (
        await client.get(f"/v1/workouts/{both['alice_workouts'][0]}/route", headers=alice.headers)
    ).status_code == 200


async def test_spatial_search_never_reaches_another_users_routes(
    client: httpx.AsyncClient, alice: Account, bob: Account, both: dict[str, Any]
) -> None:
    route = (
        await client.get(f"/v1/workouts/{both['alice_workouts'][0]}/route", headers=alice.headers)
    ).json()
    lon, lat = route["geometry"]["coordinates"][0][:2]
    west, south, east, north = route["bbox"]

    near = await get(client, bob, "/v1/workouts", near=f"{lat},{lon}", radius_m=5000)
    boxed = await get(client, bob, "/v1/workouts", bbox=f"{west},{south},{east},{north}")

    assert near["items"] == []
    assert boxed["items"] == []
    assert (await get(client, alice, "/v1/workouts", near=f"{lat},{lon}", radius_m=50))["items"]


async def test_another_users_cursor_only_pages_the_keys_own_data(
    client: httpx.AsyncClient, alice: Account, bob: Account, both: dict[str, Any]
) -> None:
    first = await get(client, alice, "/v1/metrics/step_count", limit=5)
    cursor = first["next_cursor"]

    page = await get(client, bob, "/v1/metrics/step_count", limit=5, cursor=cursor)

    own = await get(client, bob, "/v1/metrics/step_count", limit=1000)
    assert page["items"]
    assert all(item in own["items"] for item in page["items"])
    alice_all = await get(client, alice, "/v1/metrics/step_count", limit=1000)
    assert not any(item in alice_all["items"] for item in page["items"])


async def test_export_holds_only_the_keys_own_user(
    client: httpx.AsyncClient, db: Any, bob: Account, make_key: Any, both: dict[str, Any]
) -> None:
    document = (await client.get("/v1/export", params=WINDOW, headers=bob.headers)).content

    data = json.loads(document)["data"]
    assert {s["name"] for s in data["metrics"]} == {"step_count", "heart_rate"}
    assert len(data["workouts"]) == 1
    assert all(data[k] == [] for k in ("ecg", "symptoms", "stateOfMind", "medications"))
    carol_id, token = await make_key("carol")
    await ingest(client, {"Authorization": f"Bearer {token}"}, document)
    assert await snapshot(db, carol_id) == both["bob_rows"]


async def test_deletions_never_touch_another_user(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account, both: dict[str, Any]
) -> None:
    ranged = await client.delete("/v1/data", params=WINDOW, headers=bob.headers)
    by_metric = await client.delete(
        "/v1/data", params={"metric": "mystery_metric"}, headers=bob.headers
    )
    by_section = await client.delete("/v1/data", params={"section": "ecg"}, headers=bob.headers)
    wrong_name = await client.delete(
        "/v1/account", params={"confirm": "alice"}, headers=bob.headers
    )

    assert ranged.status_code == by_metric.status_code == by_section.status_code == 200
    assert ranged.json()["total"] == sum(len(rows) for rows in both["bob_rows"].values())
    assert by_metric.json()["total"] == by_section.json()["total"] == 0
    problem(wrong_name, 400)
    assert await snapshot(db, alice.user_id) == both["alice_rows"]

    erased = await client.delete("/v1/account", params={"confirm": "bob"}, headers=bob.headers)

    assert erased.status_code == 200
    assert await snapshot(db, alice.user_id) == both["alice_rows"]
    assert await db("SELECT 1 FROM raw_ingestions WHERE user_id = :u", u=alice.user_id)
    assert await db("SELECT 1 FROM api_keys WHERE user_id = :u", u=alice.user_id)
