"""Hostile parameters on every read (and the deletion) route: dates at the ends of the calendar
moved by offsets and zones, NUL in paths, queries and cursors, unknown zones, forged cursors, huge
and negative numbers. Each is a 4xx problem naming the parameter, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.query import cursor
from tests.query.support import Account, store_sample

EARLY = "0001-01-01T00:00:00+14:00"
LATE = "9999-12-31T23:59:59-12:00"
WORKOUT = "{workout}"  # replaced by the stored workout's id


def _forged(kind: str, query: tuple[object, ...], values: list[Any]) -> str:
    """A cursor with the right fingerprint (it is not a secret) and hostile values."""
    return cursor.encode(kind, cursor.fingerprint(*query), values)


RAW = ("step_count", None, None, None, None, None)
BUCKET = ("step_count", "day", None, None, None, None)
SLEEP = ("sleep", None, None, None)
WORKOUTS = ("workouts", None, None, None, None, None, None, None)
UUID = "00000000-0000-4000-8000-000000000000"

# (method, path, params, the parameter the problem must name)
CASES: list[tuple[str, str, dict[str, str], str]] = [
    ("GET", "/v1/metrics/step_count", {"from": EARLY}, "from"),
    ("GET", "/v1/metrics/step_count", {"to": LATE}, "to"),
    ("GET", "/v1/metrics/step_count", {"from": "0001-01-01", "tz": "Pacific/Kiritimati"}, "from"),
    ("GET", "/v1/metrics/step_count", {"to": "9999-12-31", "tz": "Etc/GMT+12"}, "to"),
    ("GET", "/v1/metrics/step_count", {"from": "0001-01-01"}, "from"),
    ("GET", "/v1/metrics/step_count", {"to": "9999-12-31T23:59:59"}, "to"),
    ("GET", "/v1/metrics/step_count", {"bucket": "month", "to": "9999-12-31"}, "to"),
    ("GET", "/v1/metrics/step_count", {"bucket": "week", "from": "0001-01-01"}, "from"),
    ("GET", "/v1/metrics/step_count", {"source": "Watch\x00"}, "source"),
    ("GET", "/v1/metrics/step_count", {"tz": "Mars/Olympus_Mons"}, "tz"),
    ("GET", "/v1/metrics/step_count", {"tz": "UTC\x00"}, "tz"),
    ("GET", "/v1/metrics/step_count", {"cursor": "%%%not-base64"}, "cursor"),
    (
        "GET",
        "/v1/metrics/step_count",
        {"cursor": _forged("raw", RAW, [EARLY, None, "W"])},
        "cursor",
    ),
    ("GET", "/v1/metrics/step_count", {"cursor": _forged("raw", RAW, [LATE, LATE, "W"])}, "cursor"),
    (
        "GET",
        "/v1/metrics/step_count",
        {"cursor": _forged("raw", RAW, ["2023-01-20T00:00:00+00:00", None, "W\x00"])},
        "cursor",
    ),
    (
        "GET",
        "/v1/metrics/step_count",
        {"bucket": "day", "cursor": _forged("bucket", BUCKET, ["9999-12-31T00:00:00"])},
        "cursor",
    ),
    ("GET", "/v1/metrics/step_count", {"limit": "100000000000000000000"}, "limit"),
    ("GET", "/v1/metrics/step_count", {"limit": "-1"}, "limit"),
    ("GET", "/v1/metrics/step%00count", {}, "name"),
    ("GET", "/v1/sleep", {"from": "0001-01-01"}, "from"),
    ("GET", "/v1/sleep", {"to": "9999-12-31"}, "to"),
    ("GET", "/v1/sleep", {"from": EARLY}, "from"),
    ("GET", "/v1/sleep", {"cursor": _forged("sleep", SLEEP, ["9999-12-31"])}, "cursor"),
    ("GET", "/v1/sleep", {"tz": "+11:00"}, "tz"),
    ("GET", "/v1/sleep", {"limit": "0"}, "limit"),
    ("GET", "/v1/workouts", {"from": EARLY}, "from"),
    ("GET", "/v1/workouts", {"to": "9999-12-31", "tz": "Pacific/Kiritimati"}, "to"),
    ("GET", "/v1/workouts", {"type": "Run\x00"}, "type"),
    ("GET", "/v1/workouts", {"near": "nan,nan"}, "near"),
    ("GET", "/v1/workouts", {"bbox": "1,2,3"}, "bbox"),
    ("GET", "/v1/workouts", {"near": "0,0", "radius_m": "-5"}, "radius_m"),
    ("GET", "/v1/workouts", {"cursor": _forged("workouts", WORKOUTS, [EARLY, UUID])}, "cursor"),
    ("GET", "/v1/workouts", {"cursor": _forged("workouts", WORKOUTS, [LATE, UUID])}, "cursor"),
    ("GET", "/v1/workouts/distance", {"bucket": "year", "to": "9999-12-31"}, "to"),
    ("GET", "/v1/workouts/distance", {"from": "0001-01-01", "tz": "Etc/GMT-14"}, "from"),
    ("GET", "/v1/workouts/%00", {}, "workout_id"),
    ("GET", f"/v1/workouts/{WORKOUT}/route", {"format": "gpx\x00"}, "format"),
    ("GET", "/v1/export", {"from": EARLY}, "from"),
    ("GET", "/v1/export", {"to": "9999-12-31", "tz": "Etc/GMT+12"}, "to"),
    ("GET", "/api/metrics/step_count", {"from": EARLY}, "from"),
    ("GET", "/api/metrics/step_count", {"from": "-99999999999999999999"}, "from"),
    ("GET", "/api/metrics/step%00count", {}, "name"),
    ("GET", "/api/metrics/sleep_analysis", {"to": "9999-12-31"}, "to"),
    ("GET", "/api/workouts", {"startDate": "-62135596800000"}, "from"),
    ("GET", "/api/workouts", {"endDate": "253402300799000"}, "to"),
    ("DELETE", "/v1/data", {"from": EARLY}, "from"),
    ("DELETE", "/v1/data", {"metric": "step_count\x00"}, "metric"),
]


def named(body: dict[str, Any]) -> set[str]:
    fields = {str(body["field"])} if "field" in body else set()
    return fields | {str(e["field"]).rsplit(".", 1)[-1] for e in body.get("errors", [])}


@pytest.mark.parametrize(("method", "path", "params", "field"), CASES)
async def test_hostile_parameter_is_a_problem_naming_it(
    client: httpx.AsyncClient,
    alice: Account,
    method: str,
    path: str,
    params: dict[str, str],
    field: str,
) -> None:
    workout_id = await store_sample(client, alice.headers)
    url = path.replace(WORKOUT, workout_id)
    response = await client.request(method, url, params=params, headers=alice.headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in named(response.json()), response.text


async def test_dates_just_inside_the_limits_are_answered(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await store_sample(client, alice.headers)
    for params in (
        {"from": "0002-01-01T00:00:00+14:00", "to": "9998-12-30T23:59:59-12:00"},
        {"from": "0002-01-01", "to": "9998-12-30", "tz": "Pacific/Kiritimati", "bucket": "month"},
        {"from": "0002-01-01", "to": "9998-12-30", "bucket": "week"},
    ):
        response = await client.get("/v1/metrics/step_count", params=params, headers=alice.headers)
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) > 0
