"""One bad value costs one point: a series with one unstorable point stores all the others,
and nothing reaches the retry loop that a retry cannot fix."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests import hae_generator as g

GOOD = 1_000
BAD_INDEX = 500


def _heart_series() -> dict[str, Any]:
    points = [
        {"date": g.fmt_date(g.T0 + timedelta(minutes=i)), "Min": 60, "Avg": 62, "Max": 70,
         "source": "Watch"}
        for i in range(GOOD)
    ]  # fmt: skip
    return g.metric("heart_rate", "count/min", points)


# (field, JSON text of the bad value); spliced into the body as text so that values JSON
# encoders refuse to write (1e400, lone surrogates) arrive as a phone would send them.
BAD_VALUES = {
    "utc_year_after_9999": ("date", '"9999-12-31 23:30:00 -1400"'),
    "utc_year_before_1": ("date", '"0001-01-01 00:10:00 +1400"'),
    "local_year_10000": ("date", '"10000-01-01 00:00:00 +0000"'),
    "number_out_of_range": ("Avg", "1e400"),
    "huge_integer": ("Avg", "1" + "0" * 400),
    "source_too_long": ("source", json.dumps("W" * 10_000)),
    "source_not_text": ("source", '{"nested": true}'),
}
MARK = '"__BAD__"'


def _body_with(field: str, raw: str) -> bytes:
    series = _heart_series()
    point = {"date": g.fmt_date(g.T0 - timedelta(days=1)), "Min": 60, "Avg": 62, "Max": 70}
    point[field] = "__BAD__"
    series["data"].insert(BAD_INDEX, point)
    return json.dumps(g.envelope(metrics=[series])).replace(MARK, raw).encode()


@pytest.mark.parametrize(("field", "raw"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
async def test_one_bad_value_in_a_series_costs_only_its_point(
    field: str,
    raw: str,
    client: httpx.AsyncClient,
    writer: tuple[int, dict[str, str]],
    db: Callable[..., Any],
) -> None:
    user_id, headers = writer
    headers = {**headers, "Content-Type": "application/json"}

    response = await client.post("/v1/ingest", content=_body_with(field, raw), headers=headers)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "processed"
    counts = report["metrics"]["heart_rate"]
    assert (counts["received"], counts["inserted"], counts["rejected"]) == (GOOD + 1, GOOD, 1)
    [error] = report["errors"]
    assert error["index"] == BAD_INDEX
    assert error["field"] == field
    stored = await db("SELECT count(*) AS n FROM heart_rate_metrics WHERE user_id = :u", u=user_id)
    assert stored[0]["n"] == GOOD


async def test_a_lone_surrogate_costs_a_character_not_the_body(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Callable[..., Any]
) -> None:
    user_id, headers = writer
    headers = {**headers, "Content-Type": "application/json"}

    response = await client.post(
        "/v1/ingest", content=_body_with("source", '"Watch \\udc80"'), headers=headers
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["metrics"]["heart_rate"]["inserted"] == GOOD + 1
    assert any("surrogate" in w for w in report["warnings"])
    sources = await db(
        "SELECT DISTINCT source FROM heart_rate_metrics WHERE user_id = :u ORDER BY 1", u=user_id
    )
    assert [r["source"] for r in sources] == ["Watch", "Watch \ufffd"]


@pytest.mark.parametrize(
    ("field", "raw"),
    [("distance", '{"qty": 1e400, "units": "km"}'), ("name", json.dumps("N" * 10_000))],
    ids=["number_out_of_range", "name_too_long"],
)
async def test_one_bad_workout_value_costs_only_that_workout(
    field: str,
    raw: str,
    client: httpx.AsyncClient,
    writer: tuple[int, dict[str, str]],
    db: Callable[..., Any],
) -> None:
    user_id, headers = writer
    headers = {**headers, "Content-Type": "application/json"}
    workouts = [g.workout_v2(start=g.T0 + timedelta(hours=3 * i)) for i in range(3)]
    workouts[1][field] = "__BAD__"
    body = json.dumps(g.envelope(workouts=workouts)).replace(MARK, raw).encode()

    response = await client.post("/v1/ingest", content=body, headers=headers)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "processed"
    assert report["workouts"]["inserted"] == 2
    assert report["workouts"]["rejected"] == 1
    assert report["errors"][0]["index"] == 1
    stored = await db("SELECT count(*) AS n FROM workouts WHERE user_id = :u", u=user_id)
    assert stored[0]["n"] == 2


async def test_an_ecg_count_beyond_its_column_costs_only_that_record(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Callable[..., Any]
) -> None:
    user_id, headers = writer
    records = [g.ecg_record(start=g.EVENT_TIME + timedelta(hours=i)) for i in range(3)]
    records[1]["numberOfVoltageMeasurements"] = 7_000_000_000_123

    response = await client.post("/v1/ingest", json=g.envelope(ecg=records), headers=headers)

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["ecg"]["inserted"], report["ecg"]["rejected"]) == (2, 1)
    assert report["errors"][0]["field"] == "numberOfVoltageMeasurements"
    stored = await db("SELECT count(*) AS n FROM ecg_recordings WHERE user_id = :u", u=user_id)
    assert stored[0]["n"] == 2
