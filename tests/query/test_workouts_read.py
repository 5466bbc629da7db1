"""Workouts: pages and filters, one workout with its series, routes as GeoJSON (structure checked)
and GPX (parsed), spatial search by radius and bounding box, distance per period from geometry."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests import hae_generator as g
from tests.query.support import Account, ingest, problem

GPX = "{http://www.topografix.com/GPX/1/1}"


def at(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z")


def haversine_m(points: list[tuple[float, float]]) -> float:
    total = 0.0
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(points):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        total += 2 * 6_371_008.8 * math.asin(math.sqrt(a))
    return total


async def workouts(
    client: httpx.AsyncClient, account: Account, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/workouts", params=query, headers=account.headers)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
async def sent(client: httpx.AsyncClient, alice: Account) -> dict[str, Any]:
    run = g.workout_v2(seed=1)  # a route near Sydney, per second
    walk = g.workout_v1(g.WORKOUT_START + g.DAY, seed=2)
    indoor = g.workout_v2(g.WORKOUT_START + 2 * g.DAY, location="Indoor", seed=3)
    far = g.workout_v2(g.WORKOUT_START + 9 * g.DAY, seed=4)
    for fix in far["route"]:  # the same shape, 1000 km north
        fix["latitude"] += 9.0
    await ingest(client, alice.headers, g.envelope(workouts=[run, walk, indoor, far]))
    listed = await workouts(client, alice)
    ids: dict[str, str] = {w["start"]: w["id"] for w in listed}

    def id_of(w: dict[str, Any]) -> str:
        return ids[at(w["start"]).isoformat()]

    return {"run": run, "walk": walk, "indoor": indoor, "far": far, "id": id_of, "listed": listed}


async def test_list_filters_and_pages(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    listed = sent["listed"]
    assert [w["name"] for w in listed] == ["Outdoor Run", "Walking", "Outdoor Run", "Outdoor Run"]
    assert listed[0]["external_id"] == sent["run"]["id"]
    assert listed[1]["export_version"] == 1
    assert listed[0]["route_points"] == len(sent["run"]["route"])
    assert listed[2]["route_points"] is None
    assert [w["id"] for w in await workouts(client, alice, limit=1)] == [w["id"] for w in listed]
    assert len(await workouts(client, alice, type="walking")) == 1
    day2 = await workouts(client, alice, **{"from": "2023-01-21", "to": "2023-01-22"})
    assert [w["name"] for w in day2] == ["Walking"]


async def test_one_workout_with_its_series(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    run = sent["run"]

    response = await client.get(f"/v1/workouts/{sent['id'](run)}", headers=alice.headers)

    assert response.status_code == 200
    body = response.json()
    assert body["summary"]["distance"] == run["distance"]
    assert body["distance_m"] == pytest.approx(run["distance"]["qty"] * 1000)
    for key in ("heartRateData", "heartRateRecovery", "activeEnergy", "stepCount"):
        assert len(body["series"][key]) == len(run[key]), key
    assert body["series"]["heartRateData"][0]["max"] == run["heartRateData"][0]["Max"]
    assert body["route"]["point_count"] == len(run["route"])


async def test_route_as_geojson(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    run = sent["run"]

    response = await client.get(f"/v1/workouts/{sent['id'](run)}/route", headers=alice.headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    feature = response.json()
    # RFC 7946 structure: a Feature with a LineString of [lon, lat, alt] positions.
    assert feature["type"] == "Feature"
    assert set(feature) >= {"type", "geometry", "properties"}
    geometry = feature["geometry"]
    assert geometry["type"] == "LineString"
    coordinates = geometry["coordinates"]
    assert len(coordinates) == len(run["route"]) >= 2
    for position in coordinates:
        assert isinstance(position, list)
        assert len(position) == 3
        assert all(isinstance(v, float) for v in position)
        assert -180 <= position[0] <= 180
        assert -90 <= position[1] <= 90
    assert coordinates[0] == [
        run["route"][0]["longitude"], run["route"][0]["latitude"], run["route"][0]["altitude"]
    ]  # fmt: skip
    west, south, east, north = feature["bbox"]
    assert west <= min(c[0] for c in coordinates)
    assert east >= max(c[0] for c in coordinates)
    assert south <= min(c[1] for c in coordinates)
    assert north >= max(c[1] for c in coordinates)
    times = feature["properties"]["times"]
    assert len(times) == len(coordinates)
    assert datetime.fromisoformat(times[0]) == at(run["route"][0]["timestamp"])
    assert feature["properties"]["speed"] == [p["speed"] for p in run["route"]]


async def test_route_as_gpx(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    walk = sent["walk"]  # v1: lat/lon/altitude fixes

    response = await client.get(
        f"/v1/workouts/{sent['id'](walk)}/route",
        headers={**alice.headers, "Accept": "application/gpx+xml"},
    )
    by_param = await client.get(
        f"/v1/workouts/{sent['id'](walk)}/route", params={"format": "gpx"}, headers=alice.headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/gpx+xml"
    assert by_param.content == response.content
    root = ET.fromstring(response.content)  # noqa: S314 - our own output
    assert root.tag == f"{GPX}gpx"
    assert root.get("version") == "1.1"
    [track] = root.findall(f"{GPX}trk")
    assert track.findtext(f"{GPX}name") == "Walking"
    fixes = track.findall(f"{GPX}trkseg/{GPX}trkpt")
    assert len(fixes) == len(walk["route"])
    first, sent_first = fixes[0], walk["route"][0]
    assert (float(first.get("lat", "")), float(first.get("lon", ""))) == (
        sent_first["lat"],
        sent_first["lon"],
    )
    assert float(first.findtext(f"{GPX}ele", "")) == sent_first["altitude"]
    stamp = datetime.fromisoformat(first.findtext(f"{GPX}time", ""))
    assert stamp.tzinfo == UTC
    assert stamp == at(sent_first["timestamp"])


async def test_no_route_and_no_workout_are_404(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    problem(
        await client.get(f"/v1/workouts/{sent['id'](sent['indoor'])}/route", headers=alice.headers),
        404,
    )
    problem(
        await client.get(
            "/v1/workouts/00000000-0000-4000-8000-000000000000", headers=alice.headers
        ),
        404,
    )


async def test_spatial_search_by_radius_and_box(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    fix = sent["run"]["route"][900]
    near = f"{fix['latitude']},{fix['longitude']}"

    close = await workouts(client, alice, near=near, radius_m=25)
    nowhere = await workouts(client, alice, near="-33.5,150.0", radius_m=1000)
    north = sent["far"]["route"][0]
    box = f"{north['longitude'] - 0.01},{north['latitude'] - 0.01},{north['longitude'] + 0.01},{north['latitude'] + 0.01}"
    boxed = await workouts(client, alice, bbox=box)

    assert [w["id"] for w in close] == [sent["id"](sent["run"])]
    assert nowhere == []
    assert [w["id"] for w in boxed] == [sent["id"](sent["far"])]
    problem(await client.get("/v1/workouts", params={"near": "x"}, headers=alice.headers), 400)
    problem(
        await client.get("/v1/workouts", params={"bbox": "1,2,0,0"}, headers=alice.headers), 400
    )


async def test_distance_per_period_is_measured_on_the_geometry(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    response = await client.get(
        "/v1/workouts/distance", params={"bucket": "day"}, headers=alice.headers
    )

    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["start"] for i in items] == [
        "2023-01-20T00:00:00+11:00", "2023-01-21T00:00:00+11:00", "2023-01-29T00:00:00+11:00"
    ]  # fmt: skip
    run = [(p["latitude"], p["longitude"]) for p in sent["run"]["route"]]
    assert items[0]["route_distance_m"] == pytest.approx(haversine_m(run), rel=0.005)
    assert items[0]["workouts"] == 1
    walk = [(p["lat"], p["lon"]) for p in sent["walk"]["route"]]
    assert items[1]["route_distance_m"] == pytest.approx(haversine_m(walk), rel=0.005)
    weekly = await client.get(
        "/v1/workouts/distance", params={"bucket": "week", "tz": "UTC"}, headers=alice.headers
    )
    assert sum(i["route_distance_m"] for i in weekly.json()["items"]) == pytest.approx(
        sum(i["route_distance_m"] for i in items)
    )
