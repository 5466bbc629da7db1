"""Event sections read back: each route returns what was ingested, its filters narrow it, pages
follow the cursor, and the daily summaries fall on the local day each event was recorded in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests import hae_generator as g
from tests.event.conftest import every_item, get
from tests.query.support import Account, ingest, problem

TZ = g.TZ


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2023, 1, day, hour, minute, tzinfo=TZ)


def payload() -> dict[str, Any]:
    plain_hrv = {"date": g.fmt_date(g.T0 + 10 * g.HOUR), "qty": 40.0, "source": g.WATCH}
    return g.envelope(
        symptoms=[
            g.symptom(),
            g.symptom(
                g.EVENT_TIME + g.HOUR,
                end=g.EVENT_TIME + 3 * g.HOUR,
                name="Fatigue",
                severity="Severe",
                bodyPart="head",
            ),
            g.symptom(g.EVENT_TIME + g.DAY, severity="Moderate"),
        ],
        stateOfMind=[
            g.state_of_mind(at(20, 9), valence=0.5),
            g.state_of_mind(
                at(20, 23, 30),
                valence=-0.3,
                kind="daily_mood",
                labels=["Stressed"],
                associations=["Family"],
            ),
            # 21 January 08:00 at +1100 is still 20 January in UTC.
            g.state_of_mind(at(21, 8), valence=0.1),
            {
                **g.state_of_mind(at(25, 14), seed=5),
                "start": "2023-01-25T03:00:00Z",
                "end": "2023-01-25T03:00:00Z",
            },
        ],
        medications=[
            g.medication(at(20, 8, 5)),
            g.medication(at(20, 20), status="Skipped"),
            g.medication(
                at(21, 9, 30),
                displayText="Metformin 500 mg Oral Tablet",
                nickname="Metformin",
                status="Snoozed",
            ),
            g.medication(at(21, 10), status="taken"),
        ],
        ecg=[
            g.ecg_record(samples=50, seed=1),
            g.ecg_record(
                g.EVENT_TIME + g.DAY, samples=30, classification="Atrial Fibrillation", seed=2
            ),
        ],
        heartRateNotifications=[
            g.heart_rate_notification(seed=3),
            g.heart_rate_notification(g.EVENT_TIME + g.DAY, shape="documented", seed=4),
            g.heart_rate_notification(g.EVENT_TIME + 2 * g.DAY, kind="irregular", seed=5),
        ],
        cycleTracking=[
            g.cycle_tracking(),
            g.cycle_tracking(
                g.EVENT_TIME + g.DAY, name="Menstrual Flow", value="Medium", isCycleStart=True
            ),
        ],
        metrics=[
            g.metric(
                "heart_rate_variability", "ms", [*g.hrv_points(g.T0, 3, beats=5, seed=7), plain_hrv]
            )
        ],
    )


@pytest.fixture
async def sent(client: httpx.AsyncClient, alice: Account) -> dict[str, Any]:
    body = payload()
    await ingest(client, alice.headers, body)
    return dict(body["data"])


async def test_symptoms_read_back_and_filter(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    items = await every_item(client, alice, "/v1/symptoms")
    assert [(s["name"], s["severity"]) for s in items] == [
        ("Headache", "Mild"),
        ("Fatigue", "Severe"),
        ("Headache", "Moderate"),
    ]
    first = items[0]
    assert first["start"] == "2023-01-20T14:05:00+11:00"
    assert first["end"] == first["start"]
    assert first["user_entered"] is True
    assert first["source"] == g.PHONE
    assert items[1]["end"] == "2023-01-20T17:05:00+11:00"
    assert items[1]["extra"] == {"bodyPart": "head"}
    assert await every_item(client, alice, "/v1/symptoms", limit=1) == items
    named = await every_item(client, alice, "/v1/symptoms", name="HEADACHE")
    assert [s["severity"] for s in named] == ["Mild", "Moderate"]
    assert [
        s["name"] for s in await every_item(client, alice, "/v1/symptoms", severity="severe")
    ] == ["Fatigue"]
    later = await every_item(client, alice, "/v1/symptoms", **{"from": "2023-01-21"})
    assert [s["severity"] for s in later] == ["Moderate"]
    utc = await get(client, alice, "/v1/symptoms", tz="UTC", limit=1)
    assert utc["tz"] == "UTC"
    assert utc["items"][0]["start"] == "2023-01-20T03:05:00+00:00"


async def test_state_of_mind_reads_and_filters(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    items = await every_item(client, alice, "/v1/state-of-mind")
    assert [m["valence"] for m in items] == [0.5, -0.3, 0.1, 0.45]
    assert items[0]["id"] == sent["stateOfMind"][0]["id"]
    assert items[0]["labels"] == ["happy", "calm"]
    assert items[0]["valence_classification"] == "pleasant"
    assert items[3]["start"] == "2023-01-25T03:00:00+00:00"  # sent as ISO 8601 with Z
    by_label = await every_item(client, alice, "/v1/state-of-mind", label="stressed")
    assert [m["valence"] for m in by_label] == [-0.3]
    by_kind = await every_item(client, alice, "/v1/state-of-mind", kind="Daily_Mood")
    assert [m["valence"] for m in by_kind] == [-0.3]
    at_work = await every_item(client, alice, "/v1/state-of-mind", association="WORK")
    assert [m["valence"] for m in at_work] == [0.5, 0.1, 0.45]


async def test_state_of_mind_daily_on_local_days(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    body = await get(client, alice, "/v1/state-of-mind/daily", to="2023-01-24")
    days = {d["date"]: d for d in body["items"]}
    assert sorted(days) == ["2023-01-20", "2023-01-21"]
    first = days["2023-01-20"]
    assert first["count"] == 2
    assert first["valence_avg"] == pytest.approx(0.1)
    assert [(k["kind"], k["count"], k["valence_avg"]) for k in first["kinds"]] == [
        ("daily_mood", 1, -0.3),
        ("momentary_emotion", 1, 0.5),
    ]
    assert days["2023-01-21"]["count"] == 1
    assert days["2023-01-21"]["valence_avg"] == pytest.approx(0.1)
    in_utc = await get(client, alice, "/v1/state-of-mind/daily", to="2023-01-24", tz="UTC")
    # In UTC, 09:00 on the 20th at +1100 falls on the 19th and 08:00 on the 21st on the 20th.
    assert [(d["date"], d["count"]) for d in in_utc["items"]] == [
        ("2023-01-19", 1),
        ("2023-01-20", 2),
    ]
    moods = await get(client, alice, "/v1/state-of-mind/daily", kind="momentary_emotion")
    assert [(d["date"], d["count"]) for d in moods["items"]] == [
        ("2023-01-20", 1),
        ("2023-01-21", 1),
        ("2023-01-25", 1),
    ]


async def test_medications_read_back_and_filter(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    items = await every_item(client, alice, "/v1/medications")
    # Statuses read back canonical ("taken" was sent: the word as sent is kept in
    # `originals` and given back by the export).
    assert [m["status"] for m in items] == ["Taken", "Skipped", "Snoozed", "Taken"]
    first = items[0]
    assert first["display_text"] == "Ibuprofen 200 mg Oral Tablet"
    assert first["nickname"] == "Ibuprofen"
    assert first["start"] == "2023-01-20T08:05:00+11:00"
    assert first["scheduled"] == "2023-01-20T08:00:00+11:00"
    assert first["dosage"] == 1
    assert first["codings"] == sent["medications"][0]["codings"]
    by_nickname = await every_item(client, alice, "/v1/medications", name="metformin")
    assert [m["status"] for m in by_nickname] == ["Snoozed"]
    by_name = await every_item(
        client, alice, "/v1/medications", name="ibuprofen 200 MG oral tablet"
    )
    assert len(by_name) == 3
    skipped = await every_item(client, alice, "/v1/medications", status="SKIPPED")
    assert [m["start"] for m in skipped] == ["2023-01-20T20:00:00+11:00"]


async def test_medications_daily_counts_doses_per_local_day(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    body = await get(client, alice, "/v1/medications/daily")
    rows = [
        (d["date"], d["medication"], d["taken"], d["skipped"], d["other"], d["total"])
        for d in body["items"]
    ]
    assert rows == [
        ("2023-01-20", "Ibuprofen 200 mg Oral Tablet", 1, 1, 0, 2),
        ("2023-01-21", "Ibuprofen 200 mg Oral Tablet", 1, 0, 0, 1),
        ("2023-01-21", "Metformin 500 mg Oral Tablet", 0, 0, 1, 1),
    ]
    assert body["items"][2]["statuses"] == [{"status": "Snoozed", "count": 1}]
    in_utc = await get(client, alice, "/v1/medications/daily", tz="UTC")
    assert [(d["date"], d["medication"], d["total"]) for d in in_utc["items"]] == [
        ("2023-01-19", "Ibuprofen 200 mg Oral Tablet", 1),
        ("2023-01-20", "Ibuprofen 200 mg Oral Tablet", 2),
        ("2023-01-20", "Metformin 500 mg Oral Tablet", 1),
    ]
    one = await get(client, alice, "/v1/medications/daily", name="Metformin")
    assert [d["medication"] for d in one["items"]] == ["Metformin 500 mg Oral Tablet"]


async def test_ecg_summaries_then_voltages_by_id(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    items = await every_item(client, alice, "/v1/ecg")
    assert [e["classification"] for e in items] == ["Sinus Rhythm", "Atrial Fibrillation"]
    assert all("voltages" not in e for e in items)
    assert [e["voltage_count"] for e in items] == [50, 30]
    assert items[0]["voltage_unit"] == "mcV"
    assert items[0]["sampling_frequency_hz"] == g.ECG_HZ
    filtered = await every_item(client, alice, "/v1/ecg", classification="atrial fibrillation")
    assert [e["id"] for e in filtered] == [items[1]["id"]]

    sent_samples = sent["ecg"][0]["voltageMeasurements"]
    whole = await get(client, alice, f"/v1/ecg/{items[0]['id']}")
    assert whole["voltages"] == [s["voltage"] for s in sent_samples]
    assert whole["voltage_times"] == [s["date"] for s in sent_samples]
    assert whole["next_offset"] is None
    window = await get(client, alice, f"/v1/ecg/{items[0]['id']}", offset=10, limit=20)
    assert window["voltages"] == [s["voltage"] for s in sent_samples[10:30]]
    assert window["next_offset"] == 30
    tail = await get(client, alice, f"/v1/ecg/{items[0]['id']}", offset=40, limit=20)
    assert len(tail["voltages"]) == 10
    assert tail["next_offset"] is None
    for bad in ("nope", "W10", "WyIyMDIzIiwgMV0", "x" * 600):
        problem(
            await client.get(f"/v1/ecg/{bad}", headers=alice.headers),
            404 if len(bad) < 512 else 422,
        )


async def test_heart_rate_notifications_and_cycle_tracking(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    notes = await every_item(client, alice, "/v1/heart-rate-notifications")
    assert [n["kind"] for n in notes] == [
        "high_heart_rate_notification",
        None,
        "irregular_heart_rate_notification",
    ]
    high = sent["heartRateNotifications"][0]
    assert notes[0]["threshold"] == 120
    assert notes[0]["heart_rate_count"] == 6
    assert notes[0]["max_heart_rate"] == max(s["heartRate"] for s in high["heartRateData"])
    assert notes[0]["source"] == g.WATCH
    assert notes[0]["heart_rate_series"]["samples"] == high["heartRateData"]
    high_only = await every_item(
        client, alice, "/v1/heart-rate-notifications", kind="HIGH_heart_rate_notification"
    )
    assert len(high_only) == 1

    cycle = await every_item(client, alice, "/v1/cycle-tracking")
    assert [(c["kind"], c["value"], c["is_cycle_start"]) for c in cycle] == [
        ("Sexual Activity", "Protection Used", None),
        ("Menstrual Flow", "Medium", True),
    ]
    flow = await every_item(client, alice, "/v1/cycle-tracking", kind="menstrual flow")
    assert [c["value"] for c in flow] == ["Medium"]


async def test_hrv_beat_to_beat_is_typed(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    points = await every_item(client, alice, "/v1/hrv", limit=2)
    sent_points = sent["metrics"][0]["data"]
    assert [p["qty"] for p in points] == [p["qty"] for p in sent_points]
    assert points[0]["unit"] == "ms"
    assert points[-1]["beats"] is None
    beats = points[0]["beats"]
    series = sent_points[0]["heartbeatSeries"]
    assert len(beats) == len(series) == 5
    for beat, raw in zip(beats, series, strict=True):
        assert datetime.fromisoformat(beat["at"]).timestamp() == pytest.approx(raw["date"])
        assert beat["at"].endswith("+11:00")
        assert beat["time_since_start_s"] == raw["timeSinceStart"]
        assert beat["preceded_by_gap"] is raw["precededByGap"]
    with_beats = await every_item(client, alice, "/v1/hrv", with_beats="true")
    assert len(with_beats) == 3
    assert await every_item(client, alice, "/v1/hrv", source="nobody") == []
    first_hour = await every_item(client, alice, "/v1/hrv", to="2023-01-20T01:00:00+11:00")
    assert [p["start"] for p in first_hour] == ["2023-01-20T00:00:00+11:00"]


async def test_daily_summaries_follow_a_later_ingest(
    client: httpx.AsyncClient, alice: Account, sent: dict[str, Any]
) -> None:
    before = await get(client, alice, "/v1/state-of-mind/daily", to="2023-01-24")
    assert [d["count"] for d in before["items"]] == [2, 1]
    await ingest(
        client, alice.headers, g.envelope(stateOfMind=[g.state_of_mind(at(21, 18), valence=0.7)])
    )
    after = await get(client, alice, "/v1/state-of-mind/daily", to="2023-01-24")
    assert [d["count"] for d in after["items"]] == [2, 2]
    assert after["items"][1]["valence_avg"] == pytest.approx(0.4)
