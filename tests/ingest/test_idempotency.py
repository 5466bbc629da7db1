"""At-least-once, overlapping deliveries: every point stored once, changes applied in place."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
import zstandard

from tests import hae_generator as g

Writer = tuple[int, dict[str, str]]
COUNTS = ("received", "inserted", "updated", "unchanged", "rejected")
PER_DAY = 24 * 60  # minute points per day


async def ingest(
    client: httpx.AsyncClient, headers: dict[str, str], payload: Any
) -> dict[str, Any]:
    resp = await client.post("/v1/ingest", json=payload, headers=headers)
    assert resp.status_code == 200, resp.text
    report: dict[str, Any] = resp.json()
    return report


async def count(db: Any, table: str, user_id: int) -> int:
    sql = f"SELECT count(*) AS n FROM {table} WHERE user_id = :u"  # noqa: S608 - table is ours
    rows = await db(sql, u=user_id)
    return int(rows[0]["n"])


def four_days() -> dict[str, list[dict[str, Any]]]:
    """Days 1-4 of minute steps and heart rate and one sleep night per day, generated once so
    that overlapping windows carry identical points."""
    n = 4 * PER_DAY
    return {
        "step_count": g.quantity_points("step_count", "count", g.T0, n, g.MINUTE),
        "heart_rate": g.heart_rate_points(g.T0, n, g.MINUTE),
        "sleep_analysis": g.sleep_aggregated(4, g.T0 - g.HOUR, nights=4),
    }


def window(days: dict[str, list[dict[str, Any]]], first: int, last: int) -> dict[str, Any]:
    """Days ``first``..``last`` (1-based, inclusive) as one payload."""
    minutes = slice((first - 1) * PER_DAY, last * PER_DAY)
    return g.envelope(
        metrics=[
            g.metric("step_count", "count", days["step_count"][minutes]),
            g.metric("heart_rate", "count/min", days["heart_rate"][minutes]),
            g.metric("sleep_analysis", "hr", days["sleep_analysis"][first - 1 : last]),
        ]
    )


def steps_at(at: datetime, qty: float, source: str = g.WATCH) -> dict[str, Any]:
    return {"date": g.fmt_date(at), "qty": qty, "source": source}


async def test_overlapping_windows_store_each_point_once(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    days = four_days()

    first = await ingest(client, headers, window(days, 1, 3))
    second = await ingest(client, headers, window(days, 2, 4))

    assert first["totals"]["inserted"] == 2 * 3 * PER_DAY + 3
    for name, per_day in (("step_count", PER_DAY), ("heart_rate", PER_DAY), ("sleep_analysis", 1)):
        counts = second["metrics"][name]
        assert counts["inserted"] == per_day, name
        assert counts["unchanged"] == 2 * per_day, name
        assert counts["updated"] == 0, name
    assert await count(db, "activity_metrics", user_id) == 4 * PER_DAY
    assert await count(db, "heart_rate_metrics", user_id) == 4 * PER_DAY
    assert await count(db, "sleep_metrics", user_id) == 4


async def test_changed_value_updates_in_place(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    today = datetime.now(g.TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    earlier = steps_at(today, 40)
    bucket = today + g.HOUR

    await ingest(
        client,
        headers,
        g.envelope(metrics=[g.metric("step_count", "count", [earlier, steps_at(bucket, 100)])]),
    )
    report = await ingest(
        client,
        headers,
        g.envelope(metrics=[g.metric("step_count", "count", [earlier, steps_at(bucket, 150)])]),
    )

    counts = report["metrics"]["step_count"]
    assert (counts["inserted"], counts["updated"], counts["unchanged"]) == (0, 1, 1)
    rows = await db(
        "SELECT qty FROM activity_metrics WHERE user_id = :u ORDER BY start_at", u=user_id
    )
    assert [r["qty"] for r in rows] == [40, 150]


@pytest.mark.parametrize("together", [True, False], ids=["one_body", "two_bodies"])
async def test_two_metrics_at_the_same_instant_both_kept(
    together: bool, client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    series = [
        g.metric("step_count", "count", [steps_at(g.T0, 120)]),
        g.metric("active_energy", "kcal", [steps_at(g.T0, 7.5)]),
        g.metric("resting_heart_rate", "count/min", [steps_at(g.T0, 55)]),
        g.metric("weight_body_mass", "kg", [steps_at(g.T0, 71.2)]),
    ]

    for part in [series] if together else [[s] for s in series]:
        await ingest(client, headers, g.envelope(metrics=part))

    rows = await db(
        "SELECT t.name, m.qty FROM metric_types t JOIN ("
        " SELECT metric_id, qty FROM activity_metrics WHERE user_id = :u"
        " UNION ALL SELECT metric_id, qty FROM quantity_metrics WHERE user_id = :u"
        ") m ON m.metric_id = t.id",
        u=user_id,
    )
    assert {r["name"]: r["qty"] for r in rows} == {
        "step_count": 120,
        "active_energy": 7.5,
        "resting_heart_rate": 55,
        "weight_body_mass": 71.2,
    }
    assert len(rows) == 4


@pytest.mark.parametrize(
    ("name", "table", "point"),
    [
        ("step_count", "activity_metrics", {"qty": 10}),
        ("weight_body_mass", "quantity_metrics", {"qty": 70.5}),
        ("heart_rate", "heart_rate_metrics", {"Min": 60, "Avg": 62, "Max": 64}),
    ],
    ids=["activity", "quantity", "heart_rate"],
)
async def test_two_sources_at_the_same_instant_both_kept(
    name: str, table: str, point: dict[str, Any], client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    date = g.fmt_date(g.T0)
    sources = [g.WATCH, g.PHONE, None]

    for source in sources:
        data = [{"date": date, **point, "source": source}]
        report = await ingest(client, headers, g.envelope(metrics=[g.metric(name, "x", data)]))
        assert report["metrics"][name]["inserted"] == 1

    rows = await db(f"SELECT source FROM {table} WHERE user_id = :u", u=user_id)  # noqa: S608
    assert sorted(rows, key=lambda r: r["source"] or "") == sorted(
        [{"source": s} for s in sources], key=lambda r: r["source"] or ""
    )


async def test_v2_workout_keyed_on_id(client: httpx.AsyncClient, writer: Writer, db: Any) -> None:
    user_id, headers = writer
    workout = g.workout_v2()
    renamed = {**copy.deepcopy(workout), "name": "Evening Run"}

    await ingest(client, headers, g.envelope(workouts=[workout]))
    report = await ingest(client, headers, g.envelope(workouts=[renamed]))

    assert (report["workouts"]["inserted"], report["workouts"]["updated"]) == (0, 1)
    rows = await db("SELECT name, external_id FROM workouts WHERE user_id = :u", u=user_id)
    assert [(r["name"], r["external_id"]) for r in rows] == [("Evening Run", workout["id"])]


async def test_v1_workout_keyed_on_name_start_end(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    workout = g.workout_v1(hr_step=g.MINUTE, route_step=g.MINUTE)
    more_energy = {**workout, "totalEnergy": {"qty": 999.0, "units": "kcal"}}
    other_name = {**workout, "name": "Hiking"}

    await ingest(client, headers, g.envelope(workouts=[workout]))
    changed = await ingest(client, headers, g.envelope(workouts=[more_energy]))
    renamed = await ingest(client, headers, g.envelope(workouts=[other_name]))

    assert (changed["workouts"]["inserted"], changed["workouts"]["updated"]) == (0, 1)
    assert renamed["workouts"]["inserted"] == 1
    rows = await db(
        "SELECT name, total_energy_kcal FROM workouts WHERE user_id = :u ORDER BY name", u=user_id
    )
    assert [r["name"] for r in rows] == ["Hiking", "Walking"]
    assert rows[1]["total_energy_kcal"] == 999.0


async def test_identical_body_resent_is_a_duplicate_and_archived_once(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    payload = g.envelope(
        metrics=[
            g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 30))
        ]
    )
    # Apple's JSONSerialization style: "key" : value, 2-space indent, escaped slashes.
    body = json.dumps(payload, indent=2, separators=(",", " : ")).replace("/", "\\/").encode()
    hae = {
        "automation-name": "Minute metrics",
        "automation-id": "6B1F7A0E-3C2D-4E55-9A31-0C8E2D9F1A77",
        "session-id": "E9C2B0D4-5A6F-4B7C-8D9E-0F1A2B3C4D5E",
    }

    first = await client.post("/v1/ingest", content=body, headers={**headers, **hae})
    again = await client.post("/v1/ingest", content=body, headers={**headers, **hae})

    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == "processed"
    assert again.json()["status"] == "duplicate"
    assert again.json()["ingestion_id"] == first.json()["ingestion_id"]
    rows = await db(
        "SELECT id, body, sha256, headers FROM raw_ingestions WHERE user_id = :u", u=user_id
    )
    assert len(rows) == 1
    assert rows[0]["id"] == first.json()["ingestion_id"]
    assert zstandard.ZstdDecompressor().decompress(rows[0]["body"]) == body
    assert bytes(rows[0]["sha256"]) == hashlib.sha256(body).digest()
    assert {k: rows[0]["headers"].get(k) for k in hae} == hae
    assert await count(db, "activity_metrics", user_id) == 30


async def test_ingestion_report_readable_by_its_user_only(
    client: httpx.AsyncClient, writer: Writer, make_key: Any
) -> None:
    _, headers = writer
    _, other = await make_key(user="mallory")
    payload = g.envelope(
        metrics=[g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 5))]
    )
    report = await ingest(client, headers, payload)
    url = f"/v1/ingestions/{report['ingestion_id']}"

    own = await client.get(url, headers=headers)
    foreign = await client.get(url, headers={"Authorization": f"Bearer {other}"})

    assert own.status_code == 200
    assert own.json() == report
    assert foreign.status_code == 404
    assert foreign.headers["content-type"].startswith("application/problem+json")


def _all_counts(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    out = {"totals": report["totals"]}
    out |= {f"metrics.{n}": c for n, c in report["metrics"].items()}
    out |= {s: report[s] for s in ("workouts", "symptoms") if report.get(s)}
    return out


def mixed(day: int, bump: float) -> dict[str, Any]:
    """Metrics (one bad point, an unknown metric), workouts (one bad), symptoms (one bad)."""
    start = g.T0 + day * g.DAY
    steps = g.quantity_points("step_count", "count", start, 60)
    steps[0]["qty"] += bump
    steps[7]["qty"] = "abc"
    bad_symptom = {**g.symptom(start + 2 * g.HOUR), "start": "yesterday"}
    return g.envelope(
        metrics=[
            g.metric("step_count", "count", steps),
            g.metric("heart_rate", "count/min", g.heart_rate_points(start, 60, g.MINUTE)),
            g.metric("future_metric_sum", "zz", g.quantity_points("x", "zz", start, 5)),
            g.metric("sleep_analysis", "hr", g.sleep_aggregated(4, start - g.HOUR, nights=1)),
        ],
        workouts=[
            g.workout_v2(start + 8 * g.HOUR, name=f"Run {bump}"),
            g.workout_v1(start + 18 * g.HOUR, route_step=g.MINUTE),
            {"name": "No dates"},
        ],
        symptoms=[g.symptom(start + g.HOUR), bad_symptom],
    )


async def test_received_equals_inserted_updated_unchanged_rejected(
    client: httpx.AsyncClient, writer: Writer
) -> None:
    _, headers = writer
    first = await ingest(client, headers, mixed(0, 0))
    overlapping = mixed(0, 5)
    overlapping["data"]["metrics"] += mixed(1, 0)["data"]["metrics"]
    second = await ingest(client, headers, overlapping)
    duplicate = await ingest(client, headers, overlapping)
    stored = (await client.get(f"/v1/ingestions/{second['ingestion_id']}", headers=headers)).json()

    assert (second["totals"]["updated"], second["totals"]["unchanged"]) != (0, 0)
    for name, report in {"first": first, "second": second, "dup": duplicate, "get": stored}.items():
        assert report["totals"]["rejected"] >= 3, name
        parts = _all_counts(report)
        assert len(parts) > 5, (name, parts)
        for part, c in parts.items():
            assert all(c[k] >= 0 for k in COUNTS), (name, part, c)
            assert c["received"] == c["inserted"] + c["updated"] + c["unchanged"] + c["rejected"], (
                name,
                part,
                c,
            )
        for k in COUNTS:
            summed = sum(c[k] for p, c in parts.items() if p != "totals")
            assert report["totals"][k] == summed, (name, k)


async def test_same_point_twice_in_one_body_counted_once_stored_once(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    point = steps_at(g.T0, 10)
    later = steps_at(g.T0, 12)

    report = await ingest(
        client, headers, g.envelope(metrics=[g.metric("step_count", "count", [point, later])])
    )

    counts = report["metrics"]["step_count"]
    assert counts["received"] == 2
    assert counts["inserted"] == 1
    rows = await db("SELECT qty FROM activity_metrics WHERE user_id = :u", u=user_id)
    assert [r["qty"] for r in rows] == [12]
