"""Helpers of the read/export/deletion tests: users with keys, ingest, and row snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import JSONB

from app.ingest import models

# Every table that holds a user's health data (the month-partitioned ones and the workouts').
HEALTH_TABLES = sorted({*models.PARTITIONED, "workouts", "workout_routes"} - {"audit_log"})
# Columns that legitimately differ between two users holding the same data.
_IDENTITY = {"user_id", "ingestion_id", "id", "created_at", "updated_at"}


@dataclass(frozen=True)
class Account:
    user_id: int
    name: str
    headers: dict[str, str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def ingest(client: httpx.AsyncClient, headers: dict[str, str], body: Any) -> dict[str, Any]:
    if isinstance(body, bytes | str):
        response = await client.post("/v1/ingest", content=body, headers=headers)
    else:
        response = await client.post("/v1/ingest", json=body, headers=headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    assert report["totals"]["rejected"] == 0, report["errors"]
    return report


async def snapshot(db: Any, user_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every health row of the user, minus identity columns; workout ids replaced by the
    workout's natural key, geometry as EWKB hex, jsonb as its canonical text."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in HEALTH_TABLES:
        exprs = []
        for column in models.metadata.tables[table].columns:
            name = column.name
            if name in _IDENTITY:
                continue
            if name == "workout_id":
                exprs.append(
                    "(SELECT w.natural_key FROM workouts w WHERE w.id = t.workout_id) AS workout_id"
                )
            elif name == "geom":
                exprs.append("encode(ST_AsEWKB(t.geom), 'hex') AS geom")
            elif isinstance(column.type, JSONB):
                exprs.append(f"CAST(t.{name} AS text) AS {name}")
            else:
                exprs.append(f"t.{name}")
        rows = await db(
            f"SELECT {', '.join(exprs)} FROM {table} t WHERE t.user_id = :u",  # noqa: S608
            u=user_id,
        )
        out[table] = sorted((tuple(r.values()) for r in rows), key=repr)
    return out


async def row_counts(db: Any, user_id: int) -> dict[str, int]:
    counts = {}
    for table in HEALTH_TABLES:
        [row] = await db(f"SELECT count(*) AS n FROM {table} WHERE user_id = :u", u=user_id)  # noqa: S608
        counts[table] = row["n"]
    return counts


def every_section() -> dict[str, Any]:
    """One payload with every section and every shape the ingest stores: all metric tables,
    HRV beat-to-beat, an unknown metric with extra fields, mixed units, 2025+ start/end points,
    all sleep variants (a date-only night, a night across a DST change), v1 and v2 workouts
    (with and without route, extra scalar fields), ECG, both notification shapes, and the other
    event sections including their raw-kept fields."""
    from datetime import datetime, timedelta, timezone

    from tests import hae_generator as g

    t0 = g.T0
    sydney_dst = timezone(timedelta(hours=10))
    metrics = [
        g.metric(
            "step_count",
            "count",
            g.quantity_points("step_count", "count", t0, 30, with_start_end=True, seed=1),
        ),
        g.metric("active_energy", "kJ", g.quantity_points("active_energy", "kJ", t0, 20, seed=2)),
        g.metric(
            "active_energy",
            "kcal",
            g.quantity_points("active_energy", "kcal", t0 + g.HOUR, 20, seed=3),
        ),
        g.metric(
            "weight_body_mass",
            "lb",
            g.quantity_points("weight_body_mass", "lb", t0, 3, g.DAY, source=None, seed=4),
        ),
        g.metric(
            "heart_rate",
            "count/min",
            g.heart_rate_points(t0, 30, context="Not Set", seed=5)
            + g.heart_rate_points(t0 + g.HOUR, 10, g.MINUTE, source=g.OMIT, seed=6),
        ),
        g.metric("heart_rate_variability", "ms", g.hrv_points(t0, 4, seed=7)),
        g.metric("blood_pressure", "mmHg", g.blood_pressure_points(t0, 4, seed=8)),
        g.metric(
            "blood_glucose",
            "mmol/L",
            g.blood_glucose_points(t0, 4, units="mmol/L", seed=9),
        ),
        g.metric("insulin_delivery", "IU", g.insulin_points(t0, 4, seed=10)),
        g.metric("handwashing", "s", g.hygiene_points(t0, 3, seed=11)),
        g.metric("toothbrushing", "s", g.hygiene_points(t0, 3, kind="toothbrushing", seed=12)),
        g.metric("sexual_activity", "count", g.sexual_activity_points(t0, 3, seed=13)),
        g.metric(
            "sleep_analysis",
            "hr",
            g.sleep_aggregated(1, nights=2, seed=14)
            + g.sleep_aggregated(2, start=g.DEFAULT_BEDTIME + 3 * g.DAY, seed=15)
            + g.sleep_aggregated(3, start=g.DEFAULT_BEDTIME + 4 * g.DAY, seed=16)
            + g.sleep_aggregated(4, start=g.DEFAULT_BEDTIME + 5 * g.DAY, nights=2, seed=17)
            + g.sleep_aggregated(4, start=g.DEFAULT_BEDTIME + 8 * g.DAY, date_only=True, seed=18)
            # The night DST ended in Sydney: it starts at +1100 and ends at +1000.
            + g.sleep_aggregated(
                4,
                start=datetime(2023, 4, 1, 23, 0, tzinfo=g.TZ),
                seed=19,
                sleepEnd=g.fmt_date(datetime(2023, 4, 2, 6, 30, tzinfo=sydney_dst)),
                inBedEnd=g.fmt_date(datetime(2023, 4, 2, 6, 45, tzinfo=sydney_dst)),
            )
            + g.sleep_segments(start=g.DEFAULT_BEDTIME + 10 * g.DAY, nights=2, seed=20),
        ),
        {
            "name": "mystery_metric",
            "units": "zz",
            "data": [
                {"date": g.fmt_date(t0), "qty": 1.5, "foo": {"bar": [1, 2.5, None]}, "source": "x"},
                {"date": "2023-01-20 10:11:12.345678 +0530", "label": "extra only", "n": 7},
                {"start": g.fmt_date(t0 + g.HOUR), "end": g.fmt_date(t0 + 2 * g.HOUR), "qty": 2},
            ],
        },
        g.metric(
            "respiratory_rate",
            "count/min",
            g.restyle_dates(g.quantity_points("respiratory_rate", "count/min", t0, 3, seed=21)),
        ),
    ]
    swim = g.workout_v2(
        t0 + 2 * g.DAY,
        location="Pool",
        seed=23,
        strokeStyle="freestyle",
        swolfScore=31,
        salinity=None,
        metadata={"HKIndoorWorkout": 1, "note": "lane 3"},
    )
    workouts = [
        g.workout_v2(seed=22),
        swim,
        g.workout_v1(g.WORKOUT_START + 3 * g.DAY, duration=10 * g.MINUTE, seed=24),
        g.workout_v1(g.WORKOUT_START + 4 * g.DAY, is_indoor=True, seed=25),
    ]
    return g.envelope(
        metrics=metrics,
        workouts=workouts,
        ecg=[
            g.ecg_record(),
            g.ecg_record(g.EVENT_TIME + g.DAY, samples=50, severity="None", seed=26),
        ],
        heartRateNotifications=[
            g.heart_rate_notification(seed=27),
            g.heart_rate_notification(g.EVENT_TIME + g.DAY, shape="documented", seed=28),
            g.heart_rate_notification(g.EVENT_TIME + 2 * g.DAY, kind="irregular", seed=29),
        ],
        symptoms=[
            g.symptom(),
            g.symptom(g.EVENT_TIME + g.HOUR, end=g.EVENT_TIME + 3 * g.HOUR, bodyPart="head"),
        ],
        stateOfMind=[
            g.state_of_mind(),
            g.state_of_mind(g.EVENT_TIME + g.DAY, valence=-0.5, valenceClassification=2, seed=30),
        ],
        medications=[
            g.medication(),
            g.medication(g.EVENT_TIME + g.DAY, nickname=g.OMIT, codings=[], status="Skipped"),
        ],
        cycleTracking=[
            g.cycle_tracking(),
            g.cycle_tracking(
                g.EVENT_TIME + g.DAY, name="Menstrual Flow", value="Medium", isCycleStart=True
            ),
            g.cycle_tracking(g.EVENT_TIME + 2 * g.DAY, name="Basal Temperature", value=36.6),
        ],
    )


async def store_sample(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A little of everything the read routes serve (steps, heart rate, sleep, a workout with a
    route), so that a query reaches its SQL; returns the workout's id."""
    from tests import hae_generator as g

    start = g.WORKOUT_START - 2 * g.DAY
    metrics = [
        g.metric("step_count", "count", g.quantity_points("step_count", "count", start, 30)),
        g.metric("heart_rate", "count/min", g.heart_rate_points(start, 30)),
        g.metric("sleep_analysis", "hr", g.sleep_aggregated(2, nights=3)),
    ]
    await ingest(client, headers, g.envelope(metrics=metrics, workouts=[g.workout_v2()]))
    listed = await client.get("/v1/workouts", headers=headers)
    assert listed.status_code == 200, listed.text
    workout_id: str = listed.json()["items"][0]["id"]
    return workout_id
