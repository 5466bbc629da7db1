"""Metric point shapes with no real sample (hae-format.md 3-4), built by tests/hae_generator.py:
every point lands in its table with its values, dates in every form at the right instant and
offset, and units converted to the canonical column."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests import hae_generator as g

Writer = tuple[int, dict[str, str]]
T0 = g.T0  # 2023-01-20 00:00 +1100
OFFSET = 660


def at(value: str) -> datetime:
    """A generator date string (``yyyy-MM-dd HH:mm:ss Z``) as an aware datetime."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z")


async def ingest(client: httpx.AsyncClient, headers: dict[str, str], payload: Any) -> Any:
    response = await client.post("/v1/ingest", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "processed", report
    assert report["totals"]["rejected"] == 0, report["errors"]
    return report


def inserted(n: int) -> dict[str, int]:
    return {"received": n, "inserted": n, "updated": 0, "unchanged": 0, "rejected": 0}


# table, {column: the point's field}
BLOOD_PRESSURE = ("blood_pressure_metrics", {"systolic": "systolic", "diastolic": "diastolic"})
SEXUAL = {"unspecified": "Unspecified", "protection_used": "Protection Used"}
SEXUAL |= {"protection_not_used": "Protection Not Used"}
GLUCOSE, INSULIN = {"qty": "qty", "meal_time": "mealTime"}, {"qty": "qty", "reason": "reason"}
SHAPES = [
    ("blood_pressure", "mmHg", g.blood_pressure_points(T0, 5), *BLOOD_PRESSURE),
    ("blood_pressure", "mmHg", g.blood_pressure_points(T0, 3, with_start_end=True), *BLOOD_PRESSURE),
    ("blood_glucose", "mg/dL", g.blood_glucose_points(T0, 6), "blood_glucose_metrics", GLUCOSE),
    ("insulin_delivery", "IU", g.insulin_points(T0, 4), "insulin_metrics", INSULIN),
    ("handwashing", "s", g.hygiene_points(T0, 6), "hygiene_events", {"qty": "qty", "value": "value"}),
    ("sexual_activity", "count", g.sexual_activity_points(T0, 3), "sexual_activity_metrics", SEXUAL),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "units", "points", "table", "fields"),
    SHAPES,
    ids=["blood_pressure", "blood_pressure_start_end", "glucose", "insulin", "hygiene", "sexual"],
)
async def test_metric_shape_round_trips(
    client: httpx.AsyncClient,
    writer: Writer,
    db: Any,
    name: str,
    units: str,
    points: list[dict[str, Any]],
    table: str,
    fields: dict[str, str],
) -> None:
    user_id, headers = writer

    report = await ingest(client, headers, g.envelope(metrics=[g.metric(name, units, points)]))

    assert report["metrics"][name] == inserted(len(points))
    rows = await db(
        f"SELECT start_at, end_at, utc_offset_min, source, unit, {', '.join(fields)}"  # noqa: S608
        f" FROM {table} WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    assert [dict(r) for r in rows] == [
        {
            "start_at": at(p["date"]),
            "end_at": at(p["end"]) if "end" in p else None,
            "utc_offset_min": OFFSET,
            "source": p["source"],
            "unit": units,
        }
        | {column: p[field] for column, field in fields.items()}
        for p in points
    ]


async def test_hygiene_metrics_at_the_same_time_stay_apart(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    hands = g.hygiene_points(T0, 2, seed=1)
    teeth = g.hygiene_points(T0, 2, kind="toothbrushing", seed=2)
    payload = [g.metric("handwashing", "s", hands), g.metric("toothbrushing", "s", teeth)]

    await ingest(client, headers, g.envelope(metrics=payload))

    rows = await db(
        "SELECT m.name, h.start_at, h.qty, h.value FROM hygiene_events h"
        " JOIN metric_types m ON m.id = h.metric_id WHERE h.user_id = :u ORDER BY 1, 2",
        u=user_id,
    )
    assert [tuple(r.values()) for r in rows] == [
        (name, at(p["date"]), p["qty"], p["value"])
        for name, points in (("handwashing", hands), ("toothbrushing", teeth))
        for p in points
    ]


@pytest.mark.parametrize(("units", "to_mg_dl"), [("mg/dL", 1.0), ("mmol/L", 18.0156)])
async def test_blood_glucose_canonical_is_mg_dl(
    client: httpx.AsyncClient, writer: Writer, db: Any, units: str, to_mg_dl: float
) -> None:
    user_id, headers = writer
    points = g.blood_glucose_points(T0, 6, units=units)

    await ingest(client, headers, g.envelope(metrics=[g.metric("blood_glucose", units, points)]))

    rows = await db(
        "SELECT qty, unit, meal_time, COALESCE(qty_canonical, qty) AS mg_dl"
        " FROM blood_glucose_metrics WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    assert [(r["qty"], r["unit"], r["meal_time"]) for r in rows] == [
        (p["qty"], units, p["mealTime"]) for p in points
    ]
    assert [r["meal_time"] for r in rows[:3]] == ["Before Meal", "After Meal", "Unspecified"]
    for row, p in zip(rows, points, strict=True):
        assert row["mg_dl"] == pytest.approx(p["qty"] * to_mg_dl, rel=1e-3)
        assert 69 < row["mg_dl"] < 181  # the generator's physiological range in mg/dL


async def test_kilojoules_get_a_kcal_canonical(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    active = g.quantity_points("active_energy", "kJ", T0, 5)
    dietary = g.quantity_points("dietary_energy", "kJ", T0, 3, seed=1)
    workout = g.workout_v2(
        seed=7,
        activeEnergyBurned={"qty": 2092.0, "units": "kJ"},
        totalEnergy={"qty": 4184, "units": "kJ"},
    )
    metrics = [g.metric("active_energy", "kJ", active), g.metric("dietary_energy", "kJ", dietary)]

    await ingest(client, headers, g.envelope(metrics=metrics, workouts=[workout]))

    for table, points in (("activity_metrics", active), ("quantity_metrics", dietary)):
        rows = await db(
            f"SELECT qty, unit, qty_canonical FROM {table} WHERE user_id = :u ORDER BY start_at",  # noqa: S608
            u=user_id,
        )
        assert [(r["qty"], r["unit"]) for r in rows] == [(p["qty"], "kJ") for p in points]
        assert [r["qty_canonical"] for r in rows] == pytest.approx(
            [p["qty"] / 4.184 for p in points]
        )
    [row] = await db("SELECT active_energy_kcal, total_energy_kcal FROM workouts")
    assert (row["active_energy_kcal"], row["total_energy_kcal"]) == pytest.approx((500.0, 1000.0))


async def test_hrv_keeps_its_heartbeat_series(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    points = g.hrv_points(T0, 4, beats=12, with_start_end=True)

    report = await ingest(
        client, headers, g.envelope(metrics=[g.metric("heart_rate_variability", "ms", points)])
    )

    assert report["metrics"]["heart_rate_variability"] == inserted(4)
    rows = await db(
        "SELECT q.start_at, q.end_at, q.qty, q.unit, q.source, q.extra::text AS extra"
        " FROM quantity_metrics q JOIN metric_types m ON m.id = q.metric_id"
        " WHERE q.user_id = :u AND m.name = 'heart_rate_variability' ORDER BY q.start_at",
        u=user_id,
    )
    assert [(r["start_at"], r["end_at"], r["qty"], r["unit"], r["source"]) for r in rows] == [
        (at(p["date"]), at(p["end"]), p["qty"], "ms", g.WATCH) for p in points
    ]
    assert [json.loads(r["extra"]) for r in rows] == [
        {"heartbeatSeries": p["heartbeatSeries"]} for p in points
    ]


@pytest.mark.parametrize(
    ("step", "context"), [(g.SECOND, "Not Set"), (g.MINUTE, None)], ids=["per_second", "minutes"]
)
async def test_heart_rate_points_keep_context_and_bounds(
    client: httpx.AsyncClient, writer: Writer, db: Any, step: timedelta, context: str | None
) -> None:
    user_id, headers = writer
    points = g.heart_rate_points(T0, 90, step, context=context, with_start_end=True, seed=3)
    tail = ("count/min", context)

    await ingest(client, headers, g.envelope(metrics=[g.metric("heart_rate", "count/min", points)]))

    rows = await db(
        "SELECT start_at, end_at, utc_offset_min, source, min, avg, max, unit, context"
        " FROM heart_rate_metrics WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    assert [tuple(r.values()) for r in rows] == [
        (at(p["start"]), at(p["end"]), OFFSET, g.WATCH, p["Min"], p["Avg"], p["Max"], *tail)
        for p in points
    ]
    assert (
        rows[1]["start_at"] - rows[0]["start_at"] == rows[0]["end_at"] - rows[0]["start_at"] == step
    )
    flat = [r["min"] == r["avg"] == r["max"] for r in rows]  # raw samples vs buckets
    assert all(flat) if step == g.SECOND else not all(flat)


# --- sleep (4.2) ------------------------------------------------------------------------------

SLEEP_COLUMNS = {
    "date": "night_at",
    "sleepStart": "sleep_start_at",
    "sleepEnd": "sleep_end_at",
    "inBedStart": "in_bed_start_at",
    "inBedEnd": "in_bed_end_at",
    "source": "source",
    "sleepSource": "sleep_source",
    "inBedSource": "in_bed_source",
    "asleep": "asleep",
    "core": "core",
    "deep": "deep",
    "rem": "rem",
    "awake": "awake",
    "inBed": "in_bed",
    "totalSleep": "total_sleep",
}
SLEEP_DATES = {"date", "sleepStart", "sleepEnd", "inBedStart", "inBedEnd"}


@pytest.mark.parametrize("variant", [1, 2, 3, 4])
async def test_aggregated_sleep_variant(
    client: httpx.AsyncClient, writer: Writer, db: Any, variant: int
) -> None:
    user_id, headers = writer
    nights = g.sleep_aggregated(variant, nights=3, seed=variant)

    report = await ingest(
        client, headers, g.envelope(metrics=[g.metric("sleep_analysis", "hr", nights)])
    )

    assert report["metrics"]["sleep_analysis"] == inserted(3)
    rows = await db("SELECT * FROM sleep_metrics WHERE user_id = :u ORDER BY night_at", u=user_id)
    assert len(rows) == 3
    for row, night in zip(rows, nights, strict=True):
        for field, column in SLEEP_COLUMNS.items():
            sent = night.get(field)
            assert row[column] == (at(sent) if sent and field in SLEEP_DATES else sent), field
        assert (row["utc_offset_min"], row["unit"], row["night_is_date_only"]) == (660, "hr", False)
        assert row["bound_offsets_min"] is None
    assert await db("SELECT 1 FROM sleep_segments") == []


async def test_aggregated_sleep_with_a_date_only_night(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    [night] = g.sleep_aggregated(4, date_only=True)
    assert night["date"] == "2023-01-20"

    await ingest(client, headers, g.envelope(metrics=[g.metric("sleep_analysis", "hr", [night])]))

    [row] = await db("SELECT * FROM sleep_metrics WHERE user_id = :u", u=user_id)
    assert (row["night_at"], row["utc_offset_min"], row["night_is_date_only"]) == (T0, 660, True)
    assert (row["sleep_start_at"], row["total_sleep"]) == (
        at(night["sleepStart"]),
        night["totalSleep"],
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"with_start_end": True}, {"extra": {"date": None}}, {"in_bed_label": "In Bed"}],
    ids=["plain", "start_end", "date_null", "in_bed_spaced"],
)
async def test_unaggregated_sleep_segments(
    client: httpx.AsyncClient, writer: Writer, db: Any, options: dict[str, Any]
) -> None:
    user_id, headers = writer
    segments = g.sleep_segments(
        nights=2, stages=("Core", "Deep", "REM", "Awake", "Asleep"), **options
    )

    report = await ingest(
        client, headers, g.envelope(metrics=[g.metric("sleep_analysis", "hr", segments)])
    )

    assert report["metrics"]["sleep_analysis"] == inserted(len(segments))
    rows = await db(
        "SELECT start_at, end_at, utc_offset_min, end_offset_min, stage, qty, unit, source,"
        " originals ->> 'value' AS sent FROM sleep_segments WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    # Stored canonical ("In Bed" as InBed), the spelling sent kept when it differs.
    canonical = {"In Bed": "InBed"}
    assert [tuple(r.values()) for r in rows] == [
        (at(s["startDate"]), at(s["endDate"]), 660, 660, canonical.get(s["value"], s["value"]),
         s["qty"], "hr", g.WATCH, s["value"] if s["value"] in canonical else None)
        for s in sorted(segments, key=lambda s: at(s["startDate"]))
    ]  # fmt: skip
    assert {r["stage"] for r in rows} >= {"InBed", "Asleep", "REM"}
    assert await db("SELECT 1 FROM sleep_metrics") == []


# --- dates (3) --------------------------------------------------------------------------------


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


DATE_FORMS = [
    ("2023-01-20 00:18:00 +1100", utc(2023, 1, 19, 13, 18), 660),
    ("2023-01-20 00:18:00 -0700", utc(2023, 1, 20, 7, 18), -420),
    ("2023-01-20 00:18:00 +0000", utc(2023, 1, 20, 0, 18), 0),
    ("2023-01-20 00:18:00 +0930", utc(2023, 1, 19, 14, 48), 570),
    ("2023-01-20 00:18:00 +0545", utc(2023, 1, 19, 18, 33), 345),
    ("2023-01-20 00:18:00 -0330", utc(2023, 1, 20, 3, 48), -210),
    ("2023-01-20 00:18:00 +1345", utc(2023, 1, 19, 10, 33), 825),
    ("2023-01-20 00:18:00.250 -0800", utc(2023, 1, 20, 8, 18, 0, 250_000), -480),
    ("2023-01-20 12:18:00\u202fAM +1100", utc(2023, 1, 19, 13, 18), 660),
    ("2023-01-20 12:18:00 PM -0500", utc(2023, 1, 20, 17, 18), -300),
    ("2023-01-20 1:05:09\u202fPM +0530", utc(2023, 1, 20, 7, 35, 9), 330),
    ("2023-01-20 11:59:59 PM -1000", utc(2023, 1, 21, 9, 59, 59), -600),
]


@pytest.mark.parametrize(("date", "instant", "offset"), DATE_FORMS, ids=[d[0] for d in DATE_FORMS])
async def test_date_form_stores_instant_and_offset(
    client: httpx.AsyncClient, writer: Writer, db: Any, date: str, instant: datetime, offset: int
) -> None:
    user_id, headers = writer
    point = {"date": date, "qty": 42, "source": g.PHONE}

    await ingest(client, headers, g.envelope(metrics=[g.metric("step_count", "count", [point])]))

    [row] = await db(
        "SELECT start_at, utc_offset_min, qty FROM activity_metrics WHERE user_id = :u", u=user_id
    )
    assert (row["start_at"], row["utc_offset_min"], row["qty"]) == (instant, offset, 42)


async def test_same_local_time_across_a_dst_change_is_two_instants(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer  # Sydney, 2023-04-02: 03:00 +1100 falls back to 02:00 +1000
    points = [
        {"date": f"2023-04-02 02:30:00 {z}", "qty": q} for z, q in (("+1100", 1), ("+1000", 2))
    ]

    await ingest(client, headers, g.envelope(metrics=[g.metric("step_count", "count", points)]))

    rows = await db(
        "SELECT start_at, utc_offset_min, qty FROM activity_metrics WHERE user_id = :u ORDER BY 1",
        u=user_id,
    )
    assert [tuple(r.values()) for r in rows] == [
        (utc(2023, 4, 1, 15, 30), 660, 1),
        (utc(2023, 4, 1, 16, 30), 600, 2),
    ]


@pytest.mark.parametrize("narrow_nbsp", [True, False], ids=["u202f", "space"])
async def test_twelve_hour_dates_everywhere(
    client: httpx.AsyncClient, writer: Writer, db: Any, narrow_nbsp: bool
) -> None:
    user_id, headers = writer
    steps = g.quantity_points("step_count", "count", T0, 24, g.HOUR)  # 12 AM ... 11 PM
    hr = g.heart_rate_points(T0 + 12 * g.HOUR, 3, with_start_end=True)  # 12:00:0x PM
    segments = g.sleep_segments()
    workout = g.workout_v1(T0 + 12 * g.HOUR + 20 * g.MINUTE, duration=5 * g.MINUTE, seed=2)
    symptom = g.symptom(T0 + 12 * g.HOUR + 30 * g.MINUTE)
    payload = g.envelope(
        metrics=[
            g.metric("step_count", "count", steps),
            g.metric("heart_rate", "count/min", hr),
            g.metric("sleep_analysis", "hr", segments),
        ],
        workouts=[workout],
        symptoms=[symptom],
    )
    twelve = g.restyle_dates(payload, lambda dt: g.fmt_date_12h(dt, narrow_nbsp=narrow_nbsp))
    assert twelve["data"]["metrics"][0]["data"][12]["date"].startswith("2023-01-20 12:00:00")
    assert ("\u202fPM" in json.dumps(twelve, ensure_ascii=False)) is narrow_nbsp

    report = await ingest(client, headers, twelve)

    assert report["totals"]["inserted"] == 24 + 3 + len(segments) + 1 + 1
    q = "SELECT start_at, utc_offset_min FROM {} WHERE user_id = :u ORDER BY start_at"
    for table, dates in (
        ("activity_metrics", [p["date"] for p in steps]),
        ("heart_rate_metrics", [p["date"] for p in hr]),
        ("sleep_segments", sorted((s["startDate"] for s in segments), key=at)),
        ("symptoms", [symptom["start"]]),
        ("workouts", [workout["start"]]),
    ):
        rows = await db(q.format(table), u=user_id)
        assert [(r["start_at"], r["utc_offset_min"]) for r in rows] == [
            (at(d), 660) for d in dates
        ], table
    [hr0] = await db("SELECT end_at FROM heart_rate_metrics ORDER BY start_at LIMIT 1")
    assert hr0["end_at"] == at(hr[0]["end"])
    [route] = await db(
        "SELECT ST_M(ST_StartPoint(geom)) AS m, ST_NPoints(geom) AS n FROM workout_routes"
    )
    assert (route["m"], route["n"]) == (at(workout["start"]).timestamp(), 301)
