"""Shape checks for tests/hae_generator.py against hae-format.md, and hae_count on real samples."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests import hae_count
from tests import hae_generator as g

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "hae-samples"
DATE_24H = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
UUID_UPPER = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
TZ = timezone(timedelta(hours=11))


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return [obj] if isinstance(obj, str) else []


# --- dates -----------------------------------------------------------------------------------


def test_fmt_date_and_epoch() -> None:
    dt = datetime(2023, 1, 20, 0, 18, tzinfo=TZ)
    assert g.fmt_date(dt) == "2023-01-20 00:18:00 +1100"
    assert g.fmt_date(datetime(2021, 3, 14, 0, 1, tzinfo=timezone(timedelta(hours=-7)))).endswith(
        " -0700"
    )
    assert g.epoch(dt) == 1674134280.0
    assert isinstance(g.epoch(dt), float)


def test_fmt_date_12h() -> None:
    pm = datetime(2023, 1, 20, 15, 4, 5, tzinfo=TZ)
    assert g.fmt_date_12h(pm) == "2023-01-20 3:04:05\u202fPM +1100"
    assert "\u202f" in g.fmt_date_12h(pm)
    assert g.fmt_date_12h(pm, narrow_nbsp=False) == "2023-01-20 3:04:05 PM +1100"
    assert g.fmt_date_12h(pm.replace(hour=0)) == "2023-01-20 12:04:05\u202fAM +1100"
    assert g.fmt_date_12h(pm.replace(hour=12)) == "2023-01-20 12:04:05\u202fPM +1100"
    parsed = datetime.strptime(g.fmt_date_12h(pm).replace("\u202f", " "), "%Y-%m-%d %I:%M:%S %p %z")
    assert parsed == pm


def test_naive_datetimes_rejected() -> None:
    naive = datetime(2023, 1, 20)  # noqa: DTZ001 - deliberately naive
    with pytest.raises(ValueError, match="naive"):
        g.fmt_date(naive)
    with pytest.raises(ValueError, match="naive"):
        g.quantity_points("step_count", "count", naive, 1)


def test_restyle_dates_rewrites_only_date_strings() -> None:
    rec = g.symptom(name="2023-01-20 00:18:00")  # not a full HAE date: left alone
    out = g.restyle_dates(rec)
    assert out["start"] == "2023-01-20 2:05:00\u202fPM +1100"
    assert out["name"] == "2023-01-20 00:18:00"


# --- metric points ---------------------------------------------------------------------------


def test_quantity_points_shape() -> None:
    pts = g.quantity_points("step_count", "count", g.T0, 3)
    assert [set(p) for p in pts] == [{"date", "qty", "source"}] * 3
    assert [p["date"] for p in pts] == [
        "2023-01-20 00:00:00 +1100",
        "2023-01-20 00:01:00 +1100",
        "2023-01-20 00:02:00 +1100",
    ]
    assert all(isinstance(p["qty"], int) for p in pts)
    new = g.quantity_points("active_energy", "kcal", g.T0, 1, with_start_end=True, source=None)[0]
    assert set(new) == {"date", "start", "end", "qty", "source"}
    assert new["source"] is None
    assert new["end"] == "2023-01-20 00:01:00 +1100"
    assert "source" not in g.quantity_points("x", "kcal", g.T0, 1, source=g.OMIT)[0]


def test_heart_rate_points() -> None:
    raw = g.heart_rate_points(g.T0, 50)
    assert all(p["Min"] == p["Avg"] == p["Max"] for p in raw)
    assert raw[1]["date"] == "2023-01-20 00:00:01 +1100"
    buckets = g.heart_rate_points(g.T0, 50, g.MINUTE)
    assert all(p["Min"] <= p["Avg"] <= p["Max"] for p in buckets)
    assert any(p["Min"] < p["Max"] for p in buckets)
    ctx = g.heart_rate_points(g.T0, 1, context="Not Set", with_start_end=True)[0]
    assert set(ctx) == {"date", "start", "end", "Min", "Avg", "Max", "context", "source"}


def test_special_point_shapes() -> None:
    bp = g.blood_pressure_points(g.T0, 2)
    assert set(bp[0]) == {"date", "systolic", "diastolic", "source"}
    assert all(p["systolic"] > p["diastolic"] for p in bp)
    glucose = g.blood_glucose_points(g.T0, 3)
    assert set(glucose[0]) == {"date", "qty", "mealTime", "source"}
    assert {p["mealTime"] for p in glucose} == {"Before Meal", "After Meal", "Unspecified"}
    insulin = g.insulin_points(g.T0, 2)
    assert {p["reason"] for p in insulin} == {"Bolus", "Basal"}
    for kind in ("handwashing", "toothbrushing"):
        hyg = g.hygiene_points(g.T0, 10, kind=kind)
        assert set(hyg[0]) == {"date", "qty", "value", "source"}
        assert {p["value"] for p in hyg} <= {"Complete", "Incomplete"}
    sex = g.sexual_activity_points(g.T0 + timedelta(hours=13), 2)
    assert set(sex[0]) == {
        "date",
        "Unspecified",
        "Protection Used",
        "Protection Not Used",
        "source",
    }
    assert [p["date"] for p in sex] == ["2023-01-20 00:00:00 +1100", "2023-01-21 00:00:00 +1100"]


def test_hrv_heartbeat_series() -> None:
    (p,) = g.hrv_points(g.T0, 1, beats=5)
    assert set(p) == {"date", "qty", "heartbeatSeries", "source"}
    beats = p["heartbeatSeries"]
    assert len(beats) == 5
    assert all(set(b) == {"date", "timeSinceStart", "precededByGap"} for b in beats)
    assert all(isinstance(b["date"], float) and b["date"] > g.epoch(g.T0) for b in beats)
    assert beats == sorted(beats, key=lambda b: b["date"])


# --- sleep -----------------------------------------------------------------------------------

V2 = {"date", "asleep", "core", "deep", "rem", "awake", "inBed", "sleepStart", "sleepEnd", "source"}
SLEEP_VARIANTS = {
    1: {"date", "asleep", "sleepStart", "sleepEnd", "sleepSource"}
    | {"inBed", "inBedStart", "inBedEnd", "inBedSource"},
    2: V2,
    3: V2 | {"inBedStart", "inBedEnd"},
    4: V2 | {"inBedStart", "inBedEnd", "totalSleep"},
}


@pytest.mark.parametrize("variant", [1, 2, 3, 4])
def test_sleep_aggregated_exact_field_sets(variant: int) -> None:
    nights = g.sleep_aggregated(variant, nights=3)
    assert len(nights) == 3
    assert all(set(n) == SLEEP_VARIANTS[variant] for n in nights)
    for n in nights:
        assert DATE_24H.match(n["date"])
        assert n["sleepStart"] < n["sleepEnd"]
    if variant == 4:
        n = nights[0]
        assert n["date"] == "2023-01-20 00:00:00 +1100"  # wake-up day's local midnight
        assert n["totalSleep"] == pytest.approx(n["core"] + n["deep"] + n["rem"] + n["asleep"])
    assert g.sleep_aggregated(variant, date_only=True)[0]["date"] == "2023-01-20"


def test_sleep_segments_unaggregated() -> None:
    segs = g.sleep_segments(nights=2)
    assert all(set(s) == {"startDate", "endDate", "qty", "value", "source"} for s in segs)
    assert [s["value"] for s in segs].count("InBed") == 2
    assert {s["value"] for s in segs} <= {"InBed", "Core", "Deep", "REM", "Awake"}
    a7d = g.sleep_segments(with_start_end=True, extra={"date": None}, in_bed_label="In Bed")
    assert set(a7d[0]) == {"startDate", "endDate", "qty", "value", "source", "date", "start", "end"}
    assert a7d[0]["value"] == "In Bed"
    assert a7d[0]["date"] is None


# --- workouts --------------------------------------------------------------------------------

V2_ROUTE = {"latitude", "longitude", "altitude", "course", "courseAccuracy"}
V2_ROUTE |= {"horizontalAccuracy", "verticalAccuracy", "speed", "speedAccuracy", "timestamp"}


def test_workout_v2_shape() -> None:
    w = g.workout_v2(duration=timedelta(minutes=10), route_step=timedelta(seconds=10))
    assert UUID_UPPER.match(w["id"])
    assert w["duration"] == 600.0
    assert w["location"] == "Outdoor"
    assert w["isIndoor"] is False
    assert w["metadata"] == {}
    assert len(w["route"]) == 61
    assert all(set(p) == V2_ROUTE for p in w["route"])
    assert set(w["heartRate"]) == {"min", "avg", "max"}
    for key in ("activeEnergyBurned", "distance", "intensity", "temperature", "humidity"):
        assert set(w[key]) == {"qty", "units"}
    for key in ("heartRateData", "heartRateRecovery"):
        assert all(set(p) == {"date", "Min", "Avg", "Max", "units", "source"} for p in w[key])
    for key in ("activeEnergy", "stepCount", "walkingAndRunningDistance"):
        assert len(w[key]) == 10
        assert all(set(p) == {"date", "qty", "units", "source"} for p in w[key])
    assert w["stepCount"][0]["units"] == "steps"
    indoor = g.workout_v2(location="Indoor", name="Traditional Strength Training")
    assert "route" not in indoor
    assert indoor["isIndoor"] is True
    assert indoor["name"] == "Traditional Strength Training"
    assert g.workout_v2()["id"] != g.workout_v2(g.WORKOUT_START + g.DAY)["id"]


def test_workout_v1_shape() -> None:
    w = g.workout_v1(route_step=timedelta(seconds=30))
    assert "id" not in w
    assert "duration" not in w
    assert set(w["elevation"]) == {"ascent", "descent", "units"}
    assert all(set(p) == {"lat", "lon", "altitude", "timestamp"} for p in w["route"])
    assert all(set(p) == {"date", "qty", "units"} for p in w["heartRateData"])
    assert {p["units"] for p in w["heartRateData"] + w["heartRateRecovery"]} == {"bpm"}
    assert len(w["heartRateRecovery"]) == 24
    assert w["activeEnergy"]["units"] == "kcal"
    assert w["stepCount"]["units"] == "steps"
    assert g.workout_v1(is_indoor=True)["route"] == []


# --- other sections --------------------------------------------------------------------------


def test_ecg_epoch_voltages() -> None:
    ecg = g.ecg_record()
    assert ecg["numberOfVoltageMeasurements"] == 15379 == len(ecg["voltageMeasurements"])
    assert ecg["samplingFrequency"] == 512.6171875
    assert ecg["source"] == "ECG"
    assert "severity" not in ecg
    v = ecg["voltageMeasurements"]
    assert all(isinstance(m["date"], float) and m["units"] == "mcV" for m in v)
    assert v[0]["date"] == g.epoch(g.EVENT_TIME)
    assert v[1]["date"] - v[0]["date"] == pytest.approx(1 / 512.6171875, abs=1e-6)
    small = g.ecg_record(samples=10, severity="None", classification="Atrial Fibrillation")
    assert len(small["voltageMeasurements"]) == small["numberOfVoltageMeasurements"] == 10
    assert small["severity"] == "None"
    assert small["classification"] == "Atrial Fibrillation"


def test_heart_rate_notification_real_shape() -> None:
    n = g.heart_rate_notification(count=4)
    assert set(n) == {"heartNotification", "threshold", "start", "end", "source"} | {
        "heartRateData",
        "hrvData",
    }
    assert n["heartNotification"] == "high_heart_rate_notification"
    assert set(n["source"]) == {"name", "identifier"}
    assert len(n["heartRateData"]) == 4
    for p in n["heartRateData"]:
        assert set(p) == {"heartRate", "hrUnits", "timestamp"}
        assert p["heartRate"] > n["threshold"]
        assert all(isinstance(t, float) for t in p["timestamp"].values())
    assert "threshold" not in g.heart_rate_notification(kind="irregular")


def test_heart_rate_notification_documented_shape() -> None:
    n = g.heart_rate_notification(shape="documented", kind="low")
    assert set(n) == {"start", "end", "threshold", "heartRate", "heartRateVariation"}
    hr = n["heartRate"][0]
    assert set(hr) == {"hr", "units", "timestamp"}
    assert hr["units"] == "bpm"
    assert hr["hr"] < n["threshold"]
    assert set(hr["timestamp"]) == {"start", "end", "interval"}
    assert hr["timestamp"]["interval"] == {"duration": 300.0, "units": "s"}
    assert DATE_24H.match(hr["timestamp"]["start"])
    assert set(n["heartRateVariation"][0]) == {"hrv", "units", "timestamp"}


def test_small_sections() -> None:
    assert set(g.symptom()) == {"start", "end", "name", "severity", "userEntered", "source"}
    som = g.state_of_mind(valence=-0.9)
    assert set(som) == {"id", "start", "end", "kind", "labels", "associations"} | {
        "valence",
        "valenceClassification",
        "metadata",
    }
    assert som["valenceClassification"] == "very_unpleasant"
    assert g.state_of_mind(valence=0.0)["valenceClassification"] == "neutral"
    med = g.medication()
    assert set(med) == {"displayText", "nickname", "start", "end", "scheduledDate", "status"} | {
        "isArchived",
        "dosage",
        "codings",
    }
    assert "form" not in med
    assert "nickname" not in g.medication(nickname=g.OMIT)
    assert set(g.cycle_tracking()) == {"start", "end", "name", "value"}
    assert g.cycle_tracking(isCycleStart=True)["isCycleStart"] is True


# --- whole payloads --------------------------------------------------------------------------


def _full_payload() -> dict[str, Any]:
    return g.envelope(
        metrics=[
            g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 3)),
            g.metric("heart_rate", "count/min", g.heart_rate_points(g.T0, 5)),
            g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 2)),
            g.metric("blood_pressure", "mmHg", []),
            g.metric("sleep_analysis", "hr", g.sleep_aggregated(3, nights=2)),
        ],
        workouts=[g.workout_v1(is_indoor=True), g.workout_v2(location="Indoor")],
        symptoms=[g.symptom()],
        ecg=[g.ecg_record(samples=5)],
        heartRateNotifications=[g.heart_rate_notification(), g.heart_rate_notification(kind="low")],
        stateOfMind=[g.state_of_mind()],
        medications=[g.medication(), g.medication(status="Skipped"), g.medication()],
        cycleTracking=[g.cycle_tracking()],
    )


def test_payload_is_json_deterministic_and_24h_dated() -> None:
    payload = _full_payload()
    assert json.loads(json.dumps(payload)) == payload
    assert payload == _full_payload()
    assert g.workout_v2(seed=1) != g.workout_v2(seed=2)
    dated = [s for s in _strings(payload) if re.match(r"\d{4}-\d{2}-\d{2}", s)]
    assert dated
    assert all(DATE_24H.match(s) for s in dated)


def test_count_generated_payload() -> None:
    payload = _full_payload()
    expected = {
        "step_count": 5,
        "heart_rate": 5,
        "blood_pressure": 0,
        "sleep_analysis": 2,
        "workouts": 2,
        "symptoms": 1,
        "ecg": 1,
        "heartRateNotifications": 2,
        "stateOfMind": 1,
        "medications": 3,
        "cycleTracking": 1,
    }
    assert hae_count.count_records(payload) == expected
    assert hae_count.count_records(payload["data"]) == expected  # bare body
    assert hae_count.total(payload) == 23
    assert hae_count.count_records({"data": {}}) == dict.fromkeys(hae_count.SECTIONS, 0)


def test_big_payload() -> None:
    payload = g.big_payload(points=5_000, seed=7)
    counts = hae_count.count_records(payload)
    assert counts["step_count"] == counts["active_energy"] == 750
    assert (
        sum(counts[m] for m in ("heart_rate", "step_count", "active_energy"))
        + counts["sleep_analysis"]
        == 5_000
    )
    assert counts["workouts"] == 2
    assert all("route" in w and w["route"] for w in payload["data"]["workouts"])
    assert payload == g.big_payload(points=5_000, seed=7)


# --- hae_count against the shipped real samples ----------------------------------------------
# Expected numbers computed independently with jq:
#   jq '(.data // .) | [.metrics[]? | {(.name): (.data|length)}] | add' FILE   (+ section lengths)

NT_0116 = {
    "active_energy": 1,
    "apple_exercise_time": 1,
    "apple_stand_hour": 1,
    "blood_pressure": 0,
    "carbohydrates": 1,
    "mindful_minutes": 0,
    "protein": 1,
    "sleep_analysis": 1,
    "step_count": 1,
    "swimming_distance": 0,
    "total_fat": 1,
    "walking_heart_rate_average": 1,
    "weight_body_mass": 1,
}
NT_Q1 = {k: 91 for k in NT_0116} | {
    "blood_pressure": 0,
    "mindful_minutes": 1,
    "swimming_distance": 0,
    "walking_heart_rate_average": 88,
    "weight_body_mass": 37,
}
TOTALS = {
    "benmurrell__workouts-to-ical__workoutA-workoutB.json": 2,
    "irvinlim__apple-health-ingester__marshal_test_sleep-aggregated-6.6.2.json": 1,
    "irvinlim__apple-health-ingester__marshal_test_sleep-aggregated-pre-6.6.2.json": 1,
    "irvinlim__apple-health-ingester__marshal_test_sleep-unaggregated.json": 1,
    "irvinlim__apple-health-ingester__marshal_test_v1-workout-route.json": 1,
    "ivailop7__Healthkit-influxdb-grafana__sample-data.json": 6,
    "jimmy-little__obsidian-workout-importer__sample-workout-export.json": 7,
    "latetedemelon__Healthkit-influxdb-grafana__data.json": 16341,
    "namtonthat__apple-health-data__HealthAutoExport-2022-12-25-2023-03-25.json": 861,
    "namtonthat__apple-health-data__HealthAutoExport-2023-01-16-2023-01-16.json": 10,
    "namtonthat__apple-health-data__HealthAutoExport-2023-01-20.json": 3454,
    "namtonthat__apple-health-data__HealthAutoExport-2023-01-22-2023-01-29.json": 76,
}
needs_samples = pytest.mark.usefixtures("samples_dir")
ZERO = dict.fromkeys(hae_count.SECTIONS, 0)


@needs_samples
def test_all_samples_have_expected_totals() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.json")) == sorted(TOTALS)


@needs_samples
@pytest.mark.parametrize("name", sorted(TOTALS))
def test_sample_total(name: str) -> None:
    payload = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    assert hae_count.total(payload) == TOTALS[name]


@needs_samples
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("namtonthat__apple-health-data__HealthAutoExport-2023-01-16-2023-01-16.json", NT_0116),
        ("namtonthat__apple-health-data__HealthAutoExport-2022-12-25-2023-03-25.json", NT_Q1),
        ("benmurrell__workouts-to-ical__workoutA-workoutB.json", {}),  # bare body, metrics: []
    ],
)
def test_sample_detail(name: str, expected: dict[str, int]) -> None:
    sections = {
        "namtonthat__apple-health-data__HealthAutoExport-2022-12-25-2023-03-25.json": {
            "workouts": 7
        },
        "benmurrell__workouts-to-ical__workoutA-workoutB.json": {"workouts": 2},
    }.get(name, {})
    assert hae_count.count_file(SAMPLES / name) == expected | ZERO | sections


@needs_samples
def test_sample_minute_level_metrics() -> None:
    counts = hae_count.count_file(
        SAMPLES / "namtonthat__apple-health-data__HealthAutoExport-2023-01-20.json"
    )
    assert len(counts) == 37 + len(hae_count.SECTIONS)
    assert sum(1 for k, v in counts.items() if v == 0 and k not in ZERO) == 18
    assert (counts["heart_rate"], counts["active_energy"], counts["basal_energy_burned"]) == (
        636,
        835,
        1422,
    )
    lt = hae_count.count_file(SAMPLES / "latetedemelon__Healthkit-influxdb-grafana__data.json")
    assert len(lt) == 27 + len(hae_count.SECTIONS)
    assert (lt["heart_rate"], lt["basal_energy_burned"], lt["sleep_analysis"]) == (1086, 5120, 4)
