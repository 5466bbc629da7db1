"""Sections with no real sample (hae-format.md 5-6), built by tests/hae_generator.py: every record
lands in its table with the values it was sent with, and a re-send with one value changed updates
exactly that record."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests import hae_generator as g

Writer = tuple[int, dict[str, str]]
OFFSET = 660  # generator dates are +1100
SERIES_VALUES = ("qty", "Min", "Avg", "Max", "units")
NO = (None, None)
V2_SERIES = ("heartRateData", "heartRateRecovery", "activeEnergy", "stepCount")
V2_SERIES += ("walkingAndRunningDistance",)
HRN_KEYS = {"real": ("heartRateData", "hrvData", "heartRate")}
HRN_KEYS["documented"] = ("heartRate", "heartRateVariation", "hr")
ROUTE_ARRAYS = ("speed", "speedAccuracy", "course", "courseAccuracy", "horizontalAccuracy")
ROUTE_ARRAYS += ("verticalAccuracy", "altitude")


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


async def route_of(db: Any, workout_id: Any) -> Any:
    [row] = await db(
        "SELECT ST_SRID(geom) AS srid, ST_Zmflag(geom) AS zm, ST_NPoints(geom) AS n,"
        " ST_X(ST_StartPoint(geom)) AS x0, ST_Y(ST_StartPoint(geom)) AS y0,"
        " ST_M(ST_StartPoint(geom)) AS m0, ST_M(ST_EndPoint(geom)) AS m_end,"
        " ARRAY(SELECT ARRAY[ST_X(d.geom), ST_Y(d.geom), ST_M(d.geom)]"
        "       FROM ST_DumpPoints(geom) d ORDER BY d.path) AS fixes, r.*"
        " FROM workout_routes r WHERE workout_id = :w",
        w=workout_id,
    )
    return row


def sent_series(workout: dict[str, Any], keys: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return sorted(
        (key, at(p["date"]), OFFSET, p.get("source"), *(p.get(k) for k in SERIES_VALUES))
        for key in keys
        for p in workout[key]
    )


async def stored_series(db: Any, workout_id: Any) -> list[tuple[Any, ...]]:
    rows = await db(
        "SELECT series, start_at, utc_offset_min, source, qty, min, avg, max, unit"
        " FROM workout_series WHERE workout_id = :w",
        w=workout_id,
    )
    return sorted(tuple(r.values()) for r in rows)


async def test_v2_workout_with_route_and_series(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    w = g.workout_v2(seed=1)

    report = await ingest(client, headers, g.envelope(workouts=[w]))

    assert report["workouts"]["inserted"] == 1
    [row] = await db("SELECT *, summary::text AS s FROM workouts WHERE user_id = :u", u=user_id)
    assert (row["natural_key"], row["external_id"]) == (f"v2:{w['id']}", w["id"])
    assert (row["export_version"], row["name"], row["location"]) == (2, "Outdoor Run", "Outdoor")
    assert (row["start_at"], row["end_at"]) == (at(w["start"]), at(w["end"]))
    assert (row["utc_offset_min"], row["end_offset_min"], row["is_indoor"]) == (660, 660, False)
    assert row["duration_s"] == 1800.0
    assert row["active_energy_kcal"] == w["activeEnergyBurned"]["qty"]
    assert row["distance_m"] == pytest.approx(w["distance"]["qty"] * 1000)
    assert row["avg_heart_rate"] == w["heartRate"]["avg"]["qty"]
    assert row["max_heart_rate"] == w["heartRate"]["max"]["qty"]
    summary = json.loads(row["s"])
    for key in ("activeEnergyBurned", "distance", "intensity", "temperature", "heartRate"):
        assert summary[key] == w[key], key

    assert await stored_series(db, row["id"]) == sent_series(w, V2_SERIES)
    hr = [s for s in await stored_series(db, row["id"]) if s[0] == "heartRateData"]
    assert [(s[5], s[6], s[7]) for s in hr] == [
        (p["Min"], p["Avg"], p["Max"]) for p in w["heartRateData"]
    ]
    assert all(s[5] < s[7] for s in hr)  # buckets: Min < Max, not a flattened value

    route, fixes = await route_of(db, row["id"]), w["route"]
    assert (route["srid"], route["zm"], route["export_version"]) == (4326, 1, 2)  # zm 1: M only
    assert route["n"] == route["point_count"] == len(fixes) == 1801
    assert (route["x0"], route["y0"]) == (fixes[0]["longitude"], fixes[0]["latitude"])
    assert route["m0"] == g.epoch(g.WORKOUT_START) == at(fixes[0]["timestamp"]).timestamp()
    assert route["m_end"] == at(w["end"]).timestamp()
    assert route["fixes"] == [
        [p["longitude"], p["latitude"], at(p["timestamp"]).timestamp()] for p in fixes
    ]
    assert route["utc_offsets_min"] == [OFFSET] * len(fixes)
    for field in ROUTE_ARRAYS:  # speed -> speed, speedAccuracy -> speed_accuracy, ...
        assert route[re.sub("([A-Z])", r"_\1", field).lower()] == [p[field] for p in fixes], field


async def test_v1_workout_with_lat_lon_route(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    outdoor = g.workout_v1(seed=2)
    indoor = g.workout_v1(g.WORKOUT_START + 6 * g.HOUR, is_indoor=True, seed=3)

    report = await ingest(client, headers, g.envelope(workouts=[outdoor, indoor]))

    assert report["workouts"] == {**inserted(2), "points_rejected": 0}
    rows = await db("SELECT * FROM workouts WHERE user_id = :u ORDER BY start_at", u=user_id)
    for row, w in zip(rows, (outdoor, indoor), strict=True):
        start, end = (at(w[k]).astimezone(UTC).isoformat() for k in ("start", "end"))
        assert row["natural_key"] == f"v1:Walking|{start}|{end}"
        assert (row["export_version"], row["external_id"], row["duration_s"]) == (1, None, None)
        assert (row["start_at"], row["end_at"]) == (at(w["start"]), at(w["end"]))
        assert row["is_indoor"] is w["isIndoor"]
        assert row["total_energy_kcal"] == w["totalEnergy"]["qty"]
        assert row["active_energy_kcal"] == w["activeEnergy"]["qty"]
        assert row["distance_m"] == pytest.approx(w["distance"]["qty"] * 1000)
        assert row["avg_heart_rate"] == w["avgHeartRate"]["qty"]
        assert row["max_heart_rate"] == w["maxHeartRate"]["qty"]
        assert await stored_series(db, row["id"]) == sent_series(
            w, ("heartRateData", "heartRateRecovery")
        )

    route = await route_of(db, rows[0]["id"])
    fixes = outdoor["route"]
    assert (route["srid"], route["zm"], route["export_version"]) == (4326, 1, 1)
    assert route["n"] == len(fixes) == 1801
    assert (route["x0"], route["y0"]) == (fixes[0]["lon"], fixes[0]["lat"])
    assert route["fixes"] == [[p["lon"], p["lat"], at(p["timestamp"]).timestamp()] for p in fixes]
    assert route["altitude"] == [p["altitude"] for p in fixes]
    assert (route["speed"], route["course"]) == (None, None)  # v1 fixes carry no speed/course
    assert await db("SELECT 1 FROM workout_routes WHERE workout_id = :w", w=rows[1]["id"]) == []


async def test_resent_v2_workout_replaces_its_series(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    """#60: an export may carry the recovery samples as ``heartRateData`` (and no
    ``heartRateRecovery``); once the same workout (same id) is re-sent correctly, the stored
    series must be the re-sent ones, not a union with the stale samples."""
    _, headers = writer
    good = g.workout_v2(seed=1)
    buggy = {k: v for k, v in good.items() if k != "heartRateRecovery"}
    buggy["heartRateData"] = good["heartRateRecovery"]
    await ingest(client, headers, g.envelope(workouts=[buggy]))

    report = await ingest(client, headers, g.envelope(workouts=[good]))

    assert report["workouts"]["updated"] == 1
    [row] = await db("SELECT id FROM workouts")
    assert await stored_series(db, row["id"]) == sent_series(good, V2_SERIES)


def ms_date(epoch: float) -> str:
    """The documented (HELP-ECG) voltage date: ``2023-01-20 14:05:00.123 +1100``."""
    dt = datetime.fromtimestamp(epoch, g.TZ)
    return f"{dt:%Y-%m-%d %H:%M:%S}.{dt.microsecond // 1000:03d} {dt:%z}"


@pytest.mark.parametrize("documented", [False, True], ids=["epoch_dates", "ms_date_strings"])
async def test_ecg_voltages_round_trip_exactly(
    client: httpx.AsyncClient, writer: Writer, db: Any, documented: bool
) -> None:
    user_id, headers = writer
    ecg = g.ecg_record(seed=3)  # the real size: 15,379 samples at 512.6171875 Hz
    sent = ecg["voltageMeasurements"]
    if documented:
        sent = ecg["voltageMeasurements"] = [s | {"date": ms_date(s["date"])} for s in sent]

    report = await ingest(client, headers, g.envelope(ecg=[ecg]))

    assert report["ecg"] == inserted(1)
    [row] = await db("SELECT * FROM ecg_recordings WHERE user_id = :u", u=user_id)
    assert len(sent) == row["number_of_voltage_measurements"] == 15_379
    assert row["voltages"] == [s["voltage"] for s in sent]
    ms = [datetime.strptime(s["date"], "%Y-%m-%d %H:%M:%S.%f %z") for s in sent if documented]
    times = [t.timestamp() for t in ms] if documented else [s["date"] for s in sent]
    assert row["voltage_times"] == times
    assert (row["start_at"], row["end_at"]) == (at(ecg["start"]), at(ecg["end"]))
    assert (row["utc_offset_min"], row["end_offset_min"]) == (OFFSET, OFFSET)
    assert (row["classification"], row["severity"], row["source"]) == ("Sinus Rhythm", None, "ECG")
    assert row["average_heart_rate"] == ecg["averageHeartRate"]
    assert row["sampling_frequency_hz"] == g.ECG_HZ
    assert (row["voltage_unit"], row["extra"]) == ("mcV", None)


@pytest.mark.parametrize(
    ("shape", "kind"),
    [(shape, kind) for shape in ("real", "documented") for kind in ("high", "low", "irregular")],
)
async def test_heart_rate_notification_shapes(
    client: httpx.AsyncClient, writer: Writer, db: Any, shape: str, kind: str
) -> None:
    user_id, headers = writer
    n = g.heart_rate_notification(shape=shape, kind=kind, seed=4)
    hr_key, hrv_key, bpm = HRN_KEYS[shape]

    report = await ingest(client, headers, g.envelope(heartRateNotifications=[n]))

    assert report["heartRateNotifications"] == inserted(1)
    [row] = await db(
        "SELECT *, heart_rate_series::text AS hr, hrv_series::text AS hrv"
        " FROM heart_rate_notifications WHERE user_id = :u",
        u=user_id,
    )
    assert (row["start_at"], row["end_at"]) == (at(n["start"]), at(n["end"]))
    assert (row["utc_offset_min"], row["end_offset_min"]) == (OFFSET, OFFSET)
    assert row["kind"] == (f"{kind}_heart_rate_notification" if shape == "real" else None)
    assert row["threshold"] == {"high": 120, "low": 40, "irregular": None}[kind]
    real = shape == "real"
    assert row["source"] == (g.WATCH if real else None)
    assert row["source_identifier"] == (n["source"]["identifier"] if real else None)
    rates = [s[bpm] for s in n[hr_key]]
    assert (row["heart_rate_count"], row["max_heart_rate"]) == (6, max(rates))
    assert json.loads(row["hr"]) == {"key": hr_key, "samples": n[hr_key]}
    assert json.loads(row["hrv"]) == {"key": hrv_key, "samples": n[hrv_key]}
    assert row["extra"] is None


async def test_symptoms_round_trip(client: httpx.AsyncClient, writer: Writer, db: Any) -> None:
    user_id, headers = writer
    t = g.EVENT_TIME
    sent = [
        g.symptom(t),  # point in time: start == end
        g.symptom(
            t + g.HOUR, t + 3 * g.HOUR, name="Nausea", severity="Moderate", userEntered=False
        ),
        g.symptom(t + g.DAY, name="Kopfschmerzen", severity="Leicht", source=g.WATCH),  # #66
        g.symptom(t + 2 * g.DAY, name="Fatigue", severity=None, source=g.OMIT, note="x"),
    ]

    report = await ingest(client, headers, g.envelope(symptoms=sent))

    assert report["symptoms"] == inserted(4)
    rows = await db(
        "SELECT start_at, end_at, utc_offset_min, end_offset_min, name, severity, user_entered,"
        " source, originals::text AS originals, extra::text AS extra FROM symptoms"
        " WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    canonical = {"Leicht": "Mild"}  # the German severity stored canonical, the word kept
    for row, s in zip(rows, sent, strict=True):
        assert (row["start_at"], row["end_at"]) == (at(s["start"]), at(s["end"]))
        assert (row["utc_offset_min"], row["end_offset_min"]) == (OFFSET, OFFSET)
        assert (row["name"], row["severity"]) == (
            s["name"],
            canonical.get(s["severity"], s["severity"]),
        )
        assert (row["user_entered"], row["source"]) == (s["userEntered"], s.get("source"))
    assert [r["originals"] for r in rows] == [None, None, '{"severity": "Leicht"}', None]
    assert [r["extra"] for r in rows] == [None, None, None, '{"note": "x"}']


async def test_state_of_mind_round_trip(client: httpx.AsyncClient, writer: Writer, db: Any) -> None:
    user_id, headers = writer
    pleasant = g.state_of_mind(valence=0.45, seed=5)
    documented = g.state_of_mind(
        g.EVENT_TIME + g.HOUR, valence=-0.7, seed=6, kind="daily_mood", labels=["stressed"]
    ) | {"valenceClassification": 2}  # the wiki's numeric form: kept as sent, in extra

    report = await ingest(client, headers, g.envelope(stateOfMind=[pleasant, documented]))

    assert report["stateOfMind"] == inserted(2)
    rows = await db(
        "SELECT *, extra::text AS x FROM state_of_mind WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    for row, s in zip(rows, (pleasant, documented), strict=True):
        assert (row["start_at"], row["end_at"]) == (at(s["start"]), at(s["end"]))
        assert (row["external_id"], row["kind"]) == (s["id"], s["kind"])
        assert (row["labels"], row["associations"]) == (s["labels"], ["work"])
        assert row["valence"] == s["valence"]
    assert rows[0]["labels"] == ["happy", "calm"]
    assert (rows[0]["valence_classification"], rows[0]["x"]) == ("pleasant", None)
    assert rows[1]["valence_classification"] is None
    assert json.loads(rows[1]["x"]) == {"valenceClassification": 2}


async def test_medications_round_trip(client: httpx.AsyncClient, writer: Writer, db: Any) -> None:
    user_id, headers = writer
    taken = g.medication()
    skipped = g.medication(
        g.EVENT_TIME + 5 * g.HOUR, nickname=g.OMIT, status="Skipped", isArchived=True, end=g.OMIT
    )

    report = await ingest(client, headers, g.envelope(medications=[taken, skipped]))

    assert report["medications"] == inserted(2)
    rows = await db(
        "SELECT *, codings::text AS c FROM medications WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    for row, m in zip(rows, (taken, skipped), strict=True):
        assert row["start_at"] == at(m["start"])
        assert row["end_at"] == (at(m["end"]) if "end" in m else None)
        assert (row["scheduled_at"], row["scheduled_offset_min"]) == (at(m["scheduledDate"]), 660)
        assert (row["display_text"], row["nickname"]) == (m["displayText"], m.get("nickname"))
        assert (row["status"], row["is_archived"]) == (m["status"], m["isArchived"])
        assert (row["dosage"], row["form"], row["extra"]) == (1.0, None, None)
        assert json.loads(row["c"]) == m["codings"]


async def test_cycle_tracking_round_trip(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    flow_start = g.EVENT_TIME.replace(hour=0, minute=0)
    sent = [
        g.cycle_tracking(flow_start, flow_start + g.DAY, name="Menstrual Flow", value="Medium")
        | {"isCycleStart": True},
        g.cycle_tracking(),  # exact-time sexual activity (#72)
    ]

    report = await ingest(client, headers, g.envelope(cycleTracking=sent))

    assert report["cycleTracking"] == inserted(2)
    rows = await db(
        "SELECT start_at, end_at, utc_offset_min, name, value, is_cycle_start, source, extra"
        " FROM cycle_tracking WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    assert [tuple(r.values()) for r in rows] == [
        (at(c["start"]), at(c["end"]), OFFSET, c["name"], c["value"], c.get("isCycleStart"), *NO)
        for c in sent
    ]


# --- re-sending with one value changed --------------------------------------------------------


def everything() -> dict[str, Any]:
    t, t0 = g.EVENT_TIME, g.T0
    sleep = g.sleep_aggregated(4, nights=2) + g.sleep_segments(g.DEFAULT_BEDTIME + 3 * g.DAY)
    hr = g.heart_rate_points(t0, 30, context="Not Set", with_start_end=True)
    return g.envelope(
        metrics=[
            g.metric("blood_pressure", "mmHg", g.blood_pressure_points(t0, 5)),
            g.metric("sleep_analysis", "hr", sleep),
            g.metric("heart_rate_variability", "ms", g.hrv_points(t0, 3, with_start_end=True)),
            g.metric("blood_glucose", "mmol/L", g.blood_glucose_points(t0, 3, units="mmol/L")),
            g.metric("insulin_delivery", "IU", g.insulin_points(t0, 2)),
            g.metric("handwashing", "s", g.hygiene_points(t0, 2)),
            g.metric("sexual_activity", "count", g.sexual_activity_points(t0, 2)),
            g.metric("heart_rate", "count/min", hr),
            g.metric("active_energy", "kJ", g.quantity_points("active_energy", "kJ", t0, 5)),
        ],
        workouts=[g.workout_v2(seed=1), g.workout_v1(g.WORKOUT_START + 10 * g.HOUR, seed=2)],
        symptoms=[g.symptom(), g.symptom(t + g.HOUR, name="Nausea")],
        ecg=[g.ecg_record(samples=300)],
        heartRateNotifications=[
            g.heart_rate_notification(),
            g.heart_rate_notification(t + g.DAY, shape="documented", kind="low"),
        ],
        stateOfMind=[g.state_of_mind()],
        medications=[g.medication()],
        cycleTracking=[g.cycle_tracking()],
    )


def records(data: dict[str, Any]) -> int:
    points = sum(len(m["data"]) for m in data["metrics"])
    return points + sum(len(v) for k, v in data.items() if k != "metrics")


CHANGES = [  # where in data, new value, where in the report, how to read it back
    (("metrics", 0, "data", 2, "systolic"), 151, ("metrics", "blood_pressure"),
     "SELECT systolic AS v FROM blood_pressure_metrics ORDER BY start_at OFFSET 2 LIMIT 1"),
    (("metrics", 1, "data", 1, "core"), 2.5, ("metrics", "sleep_analysis"),
     "SELECT core AS v FROM sleep_metrics ORDER BY night_at OFFSET 1 LIMIT 1"),
    (("metrics", 1, "data", 3, "qty"), 0.5, ("metrics", "sleep_analysis"),
     "SELECT qty AS v FROM sleep_segments ORDER BY start_at OFFSET 1 LIMIT 1"),
    (("metrics", 2, "data", 1, "heartbeatSeries", 3, "timeSinceStart"), 9.75,
     ("metrics", "heart_rate_variability"),
     "SELECT (extra->'heartbeatSeries'->3->>'timeSinceStart')::float8 AS v FROM quantity_metrics"
     " WHERE extra IS NOT NULL ORDER BY start_at OFFSET 1 LIMIT 1"),
    (("metrics", 3, "data", 0, "mealTime"), "After Meal", ("metrics", "blood_glucose"),
     "SELECT meal_time AS v FROM blood_glucose_metrics ORDER BY start_at LIMIT 1"),
    (("metrics", 5, "data", 1, "value"), "Unknown", ("metrics", "handwashing"),
     "SELECT value AS v FROM hygiene_events ORDER BY start_at OFFSET 1 LIMIT 1"),
    (("metrics", 6, "data", 1, "Protection Used"), 3, ("metrics", "sexual_activity"),
     "SELECT protection_used AS v FROM sexual_activity_metrics ORDER BY start_at OFFSET 1 LIMIT 1"),
    (("metrics", 7, "data", 10, "context"), "Active", ("metrics", "heart_rate"),
     "SELECT context AS v FROM heart_rate_metrics ORDER BY start_at OFFSET 10 LIMIT 1"),
    (("metrics", 8, "data", 4, "qty"), 40.0, ("metrics", "active_energy"),
     "SELECT qty AS v FROM activity_metrics ORDER BY start_at OFFSET 4 LIMIT 1"),
    (("symptoms", 1, "severity"), "Severe", ("symptoms",),
     "SELECT severity AS v FROM symptoms WHERE name = 'Nausea'"),
    (("workouts", 0, "route", 100, "latitude"), -33.5, ("workouts",),
     "SELECT ST_Y(ST_PointN(geom, 101)) AS v FROM workout_routes WHERE export_version = 2"),
    (("workouts", 1, "route", 7, "altitude"), 99.5, ("workouts",),
     "SELECT altitude[8] AS v FROM workout_routes WHERE export_version = 1"),
    (("workouts", 0, "heartRateData", 3, "Max"), 180, ("workouts",),
     "SELECT max AS v FROM workout_series s JOIN workouts w ON w.id = s.workout_id"
     " WHERE w.export_version = 2 AND series = 'heartRateData' ORDER BY s.start_at OFFSET 3 LIMIT 1"),
    (("ecg", 0, "voltageMeasurements", 42, "voltage"), 1234.5, ("ecg",),
     "SELECT voltages[43] AS v FROM ecg_recordings"),
    (("heartRateNotifications", 1, "threshold"), 35, ("heartRateNotifications",),
     "SELECT threshold AS v FROM heart_rate_notifications WHERE kind IS NULL"),
    (("stateOfMind", 0, "labels"), ["happy"], ("stateOfMind",),
     "SELECT labels AS v FROM state_of_mind"),
    (("medications", 0, "status"), "Skipped", ("medications",),
     "SELECT status AS v FROM medications"),
    (("cycleTracking", 0, "value"), "Protection Not Used", ("cycleTracking",),
     "SELECT value AS v FROM cycle_tracking"),
]  # fmt: skip


def dig(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


@pytest.mark.parametrize(
    ("path", "value", "where", "read_back"),
    CHANGES,
    ids=[".".join(map(str, c[0])) for c in CHANGES],
)
async def test_resend_with_one_value_changed_updates_only_that_record(
    client: httpx.AsyncClient,
    writer: Writer,
    db: Any,
    path: tuple[Any, ...],
    value: Any,
    where: tuple[str, ...],
    read_back: str,
) -> None:
    _, headers = writer
    payload = everything()
    first = await ingest(client, headers, payload)
    received = first["totals"]["received"]
    assert first["totals"]["inserted"] == received == records(payload["data"])
    changed = copy.deepcopy(payload)
    assert dig(changed["data"], path) != value
    dig(changed["data"], path[:-1])[path[-1]] = value

    again = await ingest(client, headers, changed)

    counts = dig(again, where)
    assert (counts["inserted"], counts["updated"]) == (0, 1), counts
    assert counts["unchanged"] == counts["received"] - 1
    assert again["totals"] == {**inserted(received), "inserted": 0, "updated": 1} | {
        "unchanged": received - 1
    }
    assert (await db(read_back))[0]["v"] == value
