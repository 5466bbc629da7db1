"""The canonical-labels migration rewrites the localised words already stored, so a record stored
before it and re-sent after it stays one row; its downgrade puts the words back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from alembic import command

from tests.conftest import _drop_database, _dsn, _recreate_database, alembic_config
from tests.db.test_migrations import MIGRATION_URL

BEFORE = "54926e97709b"
T = datetime(2023, 1, 19, 12, 10, tzinfo=UTC)
T_END = datetime(2023, 1, 19, 13, 40, tzinfo=UTC)


@pytest.fixture
async def database() -> AsyncIterator[str]:
    await _recreate_database(MIGRATION_URL)
    yield MIGRATION_URL
    await _drop_database(MIGRATION_URL)


async def _sql(url: str, statement: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return [dict(r) for r in await conn.fetch(statement, *args)]
    finally:
        await conn.close()


async def _store_localised_rows(url: str) -> None:
    # Written by hand, as the rows of an older version: their month partitions first (the
    # default partition takes only months older than the partition window).
    for table in ("sleep_segments", "state_of_mind", "symptoms"):
        await _sql(url, "SELECT hae_ensure_month_partition($1, $2)", table, T)
    segment = (
        "INSERT INTO sleep_segments (user_id, start_at, end_at, utc_offset_min, end_offset_min,"
        " stage, source, ingestion_id) VALUES (1, $1, $2, 660, 660, $3, 'Watch', $4)"
    )
    for stage, start, ingestion in (
        ("Kern", T, 1),  # the same segment twice: in German, then in English
        ("Core", T, 2),
        ("Im Bett", T_END, 1),
        ("Schläfchen", T_END, 1),  # a word no table knows
    ):
        await _sql(
            url, segment, start, T_END if start == T else T_END.replace(hour=20), stage, ingestion
        )
    await _sql(
        url,
        "INSERT INTO state_of_mind (user_id, start_at, utc_offset_min, external_id, kind, labels,"
        " associations, valence_classification, ingestion_id) VALUES (1, $1, 660, 'id-1',"
        " 'Momentane Emotion', ARRAY['Glücklich', 'calm'], ARRAY['work'], 'Sehr angenehm', 1)",
        T,
    )
    await _sql(
        url,
        "INSERT INTO symptoms (user_id, start_at, utc_offset_min, name, severity, ingestion_id)"
        " VALUES (1, $1, 660, 'Kopfschmerzen', 'Leicht', 1)",
        T,
    )


async def test_stored_words_become_canonical_and_come_back_on_downgrade(database: str) -> None:
    config = alembic_config(database)
    await asyncio.to_thread(command.upgrade, config, BEFORE)
    await _store_localised_rows(database)

    await asyncio.to_thread(command.upgrade, config, "head")

    segments = await _sql(
        database,
        "SELECT stage, originals::text AS o, ingestion_id AS i FROM sleep_segments ORDER BY stage",
    )
    assert segments == [
        {"stage": "Core", "o": None, "i": 2},  # the twin in the canonical form is kept
        {"stage": "InBed", "o": '{"value": "Im Bett"}', "i": 1},
        {"stage": "Schläfchen", "o": None, "i": 1},
    ]
    [mind] = await _sql(
        database,
        "SELECT kind, labels, associations, valence_classification AS c, originals::text AS o"
        " FROM state_of_mind",
    )
    assert (mind["kind"], mind["labels"], mind["associations"], mind["c"]) == (
        "momentary_emotion",
        ["happy", "calm"],
        ["work"],
        "very_pleasant",
    )
    assert json.loads(mind["o"]) == {
        "kind": "Momentane Emotion",
        "labels": ["Glücklich", "calm"],
        "valenceClassification": "Sehr angenehm",
    }
    [symptom] = await _sql(database, "SELECT severity, originals::text AS o FROM symptoms")
    assert symptom == {"severity": "Mild", "o": '{"severity": "Leicht"}'}

    await asyncio.to_thread(command.downgrade, config, BEFORE)

    stages = await _sql(database, "SELECT stage FROM sleep_segments ORDER BY stage")
    assert [s["stage"] for s in stages] == ["Core", "Im Bett", "Schläfchen"]
    [mind] = await _sql(
        database, "SELECT kind, labels, valence_classification AS c FROM state_of_mind"
    )
    assert mind == {
        "kind": "Momentane Emotion",
        "labels": ["Glücklich", "calm"],
        "c": "Sehr angenehm",
    }
    [symptom] = await _sql(database, "SELECT severity FROM symptoms")
    assert symptom == {"severity": "Leicht"}
