"""Localised labels: stored as canonical values with the words as sent beside them, so one record
sent in two languages is one row, totals count every language, an unknown word is stored as sent,
flagged and counted, and the export gives back the words as sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from app.ingest.normalise import labels
from tests import hae_generator as g
from tests.query.support import Account, ingest, snapshot

UNMAPPED = "hae_labels_unmapped_total"


@pytest.mark.parametrize(
    ("field", "word", "value"),
    [
        (labels.SLEEP_STAGE, "InBed", "InBed"),
        (labels.SLEEP_STAGE, "In Bed", "InBed"),
        (labels.SLEEP_STAGE, "inBed", "InBed"),
        (labels.SLEEP_STAGE, "Im Bett", "InBed"),
        (labels.SLEEP_STAGE, "Au lit", "InBed"),
        (labels.SLEEP_STAGE, "En la cama", "InBed"),
        (labels.SLEEP_STAGE, "A letto", "InBed"),
        (labels.SLEEP_STAGE, "In bed", "InBed"),
        (labels.SLEEP_STAGE, "Na cama", "InBed"),
        (labels.SLEEP_STAGE, "ベッドにいる", "InBed"),
        (labels.SLEEP_STAGE, "Kern", "Core"),
        (labels.SLEEP_STAGE, "Tief", "Deep"),
        (labels.SLEEP_STAGE, "Wach", "Awake"),
        (labels.SLEEP_STAGE, "éveillé", "Awake"),
        (labels.SLEEP_STAGE, "Paradoxal", "REM"),
        (labels.SLEEP_STAGE, "レム睡眠", "REM"),
        (labels.SLEEP_STAGE, "Unspecified", "Asleep"),
        (labels.SYMPTOM_SEVERITY, "Leicht", "Mild"),
        (labels.SYMPTOM_SEVERITY, "Modérée", "Moderate"),
        (labels.SYMPTOM_SEVERITY, "Grave", "Severe"),
        (labels.SYMPTOM_SEVERITY, "Niet aanwezig", "Not Present"),
        (labels.SYMPTOM_SEVERITY, "軽度", "Mild"),
        (labels.MEDICATION_STATUS, "Eingenommen", "Taken"),
        (labels.MEDICATION_STATUS, "Omitido", "Skipped"),
        (labels.MEDICATION_STATUS, "Posticipato", "Snoozed"),
        (labels.MEDICATION_STATUS, "Não registado", "Not Logged"),
        (labels.MEDICATION_STATUS, "スキップ", "Skipped"),
        (labels.CYCLE_VALUE, "Mittel", "Medium"),
        (labels.CYCLE_VALUE, "Clara de huevo", "Egg White"),
        (labels.CYCLE_VALUE, "Sans protection", "Protection Not Used"),
        (labels.CYCLE_VALUE, "Positief", "Positive"),
        (labels.MIND_KIND, "Momentary Emotion", "momentary_emotion"),
        (labels.MIND_KIND, "Tägliche Stimmung", "daily_mood"),
        (labels.MIND_LABEL, "Glücklich", "happy"),
        (labels.MIND_LABEL, "Stressé", "stressed"),
        (labels.MIND_LABEL, "Preocupado", "worried"),
        (labels.MIND_LABEL, "Sereno", "peaceful"),
        (labels.MIND_LABEL, "Opgelucht", "relieved"),
        (labels.MIND_LABEL, "不安", "anxious"),
        (labels.MIND_ASSOCIATION, "Arbeit", "work"),
        (labels.MIND_ASSOCIATION, "Self Care", "self_care"),
        (labels.MIND_ASSOCIATION, "Famiglia", "family"),
        (labels.MIND_ASSOCIATION, "Saúde", "health"),
        (labels.MIND_VALENCE, "Very Pleasant", "very_pleasant"),
        (labels.MIND_VALENCE, "Sehr angenehm", "very_pleasant"),
        (labels.MIND_VALENCE, "Légèrement désagréable", "slightly_unpleasant"),
        (labels.MIND_VALENCE, "Neutraal", "neutral"),
    ],
)
def test_a_word_maps_to_its_canonical_value(field: str, word: str, value: str) -> None:
    found = labels.canonical(field, word)

    assert (found.value, found.known) == (value, True)
    assert found.original == (None if word == value else word)


def test_an_unknown_word_is_kept_as_sent() -> None:
    assert labels.canonical(labels.SLEEP_STAGE, "Schläfchen") == labels.Label(
        "Schläfchen", None, known=False
    )


def _segment(value: str, **overrides: Any) -> dict[str, Any]:
    point = {
        "startDate": "2023-01-19 23:10:00 +1100",
        "endDate": "2023-01-20 00:40:00 +1100",
        "qty": 1.5,
        "value": value,
        "source": g.WATCH,
    }
    return point | overrides


def _sleep(*points: dict[str, Any]) -> dict[str, Any]:
    return g.envelope(metrics=[g.metric("sleep_analysis", "hr", list(points))])


async def _segments(db: Any, user_id: int) -> list[dict[str, Any]]:
    rows = await db(
        "SELECT stage, originals::text AS originals FROM sleep_segments WHERE user_id = :u"
        " ORDER BY start_at, stage",
        u=user_id,
    )
    return [dict(row) for row in rows]


async def _totals(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.get("/v1/sleep", headers=account.headers)
    assert response.status_code == 200, response.text
    [night] = response.json()["nights"]
    [totals] = night["from_segments"]
    result: dict[str, Any] = totals
    return result


async def test_a_segment_sent_in_english_then_german_is_one_row_keeping_the_german_word(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    first = await ingest(client, alice.headers, _sleep(_segment("Core")))
    again = await ingest(client, alice.headers, _sleep(_segment("Kern")))

    assert (first["totals"]["inserted"], again["totals"]["inserted"]) == (1, 0)
    assert await _segments(db, alice.user_id) == [
        {"stage": "Core", "originals": '{"value": "Kern"}'}
    ]
    totals = await _totals(client, alice)
    assert (totals["core"], totals["total_sleep"], totals["segment_count"]) == (1.5, 1.5, 1)
    assert "other_stages" not in totals


async def test_german_segments_count_in_the_stage_totals(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    german = [
        _segment("Im Bett", endDate="2023-01-20 06:40:00 +1100", qty=7.5),
        _segment("Kern"),
        _segment(
            "Tief", startDate="2023-01-20 00:40:00 +1100", endDate="2023-01-20 01:40:00 +1100"
        ),
        _segment(
            "Wach", startDate="2023-01-20 01:40:00 +1100", endDate="2023-01-20 02:10:00 +1100"
        ),
    ]
    await ingest(client, alice.headers, _sleep(*german))

    stages = [row["stage"] for row in await _segments(db, alice.user_id)]
    assert sorted(stages) == ["Awake", "Core", "Deep", "InBed"]
    totals = await _totals(client, alice)
    assert (totals["in_bed"], totals["core"], totals["deep"], totals["awake"]) == (
        7.5,
        1.5,
        1.0,
        0.5,
    )
    assert totals["total_sleep"] == 2.5


async def test_an_unmapped_word_is_stored_flagged_and_counted(
    client: httpx.AsyncClient, db: Any, alice: Account, cli: Callable[..., Any]
) -> None:
    before = REGISTRY.get_sample_value(UNMAPPED, {"field": labels.SLEEP_STAGE}) or 0.0
    symptom = g.symptom(severity="Unerträglich")

    both = g.envelope(
        metrics=[g.metric("sleep_analysis", "hr", [_segment("Schläfchen")])], symptoms=[symptom]
    )
    report = await ingest(client, alice.headers, both)
    again = await ingest(client, alice.headers, _sleep(_segment("Schläfchen")))

    assert (report["totals"]["inserted"], again["totals"]["unchanged"]) == (2, 1)
    assert await _segments(db, alice.user_id) == [{"stage": "Schläfchen", "originals": None}]
    [stored] = await db("SELECT severity FROM symptoms WHERE user_id = :u", u=alice.user_id)
    assert stored["severity"] == "Unerträglich"
    flags = await db(
        "SELECT table_name, metric, value, reason FROM quality_flags WHERE user_id = :u"
        " ORDER BY table_name",
        u=alice.user_id,
    )
    assert [dict(f) for f in flags] == [
        {
            "table_name": "sleep_segments",
            "metric": "sleep_analysis",
            "value": None,
            "reason": "value: unmapped sleep_stage label 'Schläfchen'",
        },
        {
            "table_name": "symptoms",
            "metric": "symptoms",
            "value": None,
            "reason": "severity: unmapped symptom_severity label 'Unerträglich'",
        },
    ]
    # Counted once: the re-send flags nothing new.
    after = REGISTRY.get_sample_value(UNMAPPED, {"field": labels.SLEEP_STAGE})
    assert after == before + 1
    # The quality report shows them.
    result = await cli("quality", "--user", "alice")
    assert result.code == 0, result.out
    reasons = {json.loads(line)["reason"] for line in result.out.splitlines()}
    assert "value: unmapped sleep_stage label 'Schläfchen'" in reasons


def _localised_events() -> dict[str, Any]:
    t = g.EVENT_TIME
    return {
        "symptoms": [g.symptom(t, name="Kopfschmerzen", severity="Leicht")],
        "stateOfMind": [
            g.state_of_mind(
                t,
                valence=0.8,
                seed=3,
                kind="Momentane Emotion",
                labels=["Glücklich", "calm", "Zzz"],
                associations=["Arbeit"],
                valenceClassification="Sehr angenehm",
            )
        ],
        "medications": [g.medication(t, status="Eingenommen")],
        "cycleTracking": [g.cycle_tracking(t, name="Menstrual Flow", value="Mittel")],
    }


async def test_event_words_are_stored_canonical_with_the_words_as_sent(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    await ingest(client, alice.headers, g.envelope(**_localised_events()))

    [symptom] = await db("SELECT severity, originals::text AS o FROM symptoms")
    assert (symptom["severity"], json.loads(symptom["o"])) == ("Mild", {"severity": "Leicht"})
    [mind] = await db(
        "SELECT kind, labels, associations, valence_classification AS c, originals::text AS o"
        " FROM state_of_mind"
    )
    assert (mind["kind"], mind["labels"], mind["associations"], mind["c"]) == (
        "momentary_emotion",
        ["happy", "calm", "Zzz"],
        ["work"],
        "very_pleasant",
    )
    assert json.loads(mind["o"]) == {
        "kind": "Momentane Emotion",
        "labels": ["Glücklich", "calm", "Zzz"],
        "associations": ["Arbeit"],
        "valenceClassification": "Sehr angenehm",
    }
    [medication] = await db("SELECT status, originals::text AS o FROM medications")
    assert (medication["status"], json.loads(medication["o"])) == (
        "Taken",
        {"status": "Eingenommen"},
    )
    [cycle] = await db("SELECT value, originals::text AS o FROM cycle_tracking")
    assert (cycle["value"], json.loads(cycle["o"])) == ("Medium", {"value": "Mittel"})


async def test_a_state_of_mind_sent_in_two_languages_is_one_row(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    english = g.state_of_mind(valence=0.8, seed=3, kind="momentary_emotion")
    german = english | {"kind": "Momentane Emotion"}

    await ingest(client, alice.headers, g.envelope(stateOfMind=[english]))
    await ingest(client, alice.headers, g.envelope(stateOfMind=[german]))

    rows = await db("SELECT kind, originals::text AS o FROM state_of_mind")
    assert [(r["kind"], r["o"]) for r in rows] == [
        ("momentary_emotion", '{"kind": "Momentane Emotion"}')
    ]


async def test_the_export_gives_back_the_words_as_sent_and_reimports_identically(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account
) -> None:
    segments = [_segment("Kern"), _segment("Au lit", endDate="2023-01-20 06:40:00 +1100")]
    sleep = g.metric("sleep_analysis", "hr", segments)
    await ingest(client, alice.headers, g.envelope(metrics=[sleep], **_localised_events()))

    response = await client.get("/v1/export", headers=alice.headers)
    assert response.status_code == 200, response.text
    document = response.json()["data"]
    [series] = [m for m in document["metrics"] if m["name"] == "sleep_analysis"]
    assert sorted(p["value"] for p in series["data"]) == ["Au lit", "Kern"]
    assert document["symptoms"][0]["severity"] == "Leicht"
    mind = document["stateOfMind"][0]
    assert (mind["kind"], mind["labels"], mind["valenceClassification"]) == (
        "Momentane Emotion",
        ["Glücklich", "calm", "Zzz"],
        "Sehr angenehm",
    )
    assert document["medications"][0]["status"] == "Eingenommen"
    assert document["cycleTracking"][0]["value"] == "Mittel"

    await ingest(client, bob.headers, response.content)

    original = await snapshot(db, alice.user_id)
    copied = await snapshot(db, bob.user_id)
    for table in original:
        assert copied[table] == original[table], table


async def test_erasing_events_erases_their_flagged_words(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    await ingest(client, alice.headers, g.envelope(symptoms=[g.symptom(severity="Unerträglich")]))
    assert len(await db("SELECT 1 FROM quality_flags WHERE user_id = :u", u=alice.user_id)) == 1

    response = await client.delete(
        "/v1/data", params={"section": "symptoms"}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["deleted"]["quality_flags"] == 1
    assert await db("SELECT 1 FROM quality_flags WHERE user_id = :u", u=alice.user_id) == []
