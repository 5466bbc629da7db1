"""Every real payload in shared/hae-samples ingests completely, and exactly once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.ingest import jobs
from tests import hae_count
from tests.conftest import SAMPLES

SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))

# Where each section's records land (metrics are spread over several tables).
SECTION_TABLES = {"workouts": "workouts"}
METRIC_TABLES = (
    "quantity_metrics",
    "activity_metrics",
    "heart_rate_metrics",
    "blood_pressure_metrics",
    "blood_glucose_metrics",
    "insulin_metrics",
    "hygiene_events",
    "sexual_activity_metrics",
    "sleep_metrics",
    "sleep_segments",
)


def test_samples_are_present() -> None:
    assert len(SAMPLE_FILES) >= 12, f"expected the shared samples in {SAMPLES}"


async def _rows(db: Any, user_id: int) -> int:
    total = 0
    for table in (*METRIC_TABLES, *SECTION_TABLES.values()):
        rows = await db(f"SELECT count(*) AS n FROM {table} WHERE user_id = :u", u=user_id)  # noqa: S608
        total += rows[0]["n"]
    return total


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name[:60] for p in SAMPLE_FILES])
async def test_sample_ingests_completely_and_once(
    path: Path, client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    body = path.read_bytes()  # noqa: ASYNC240 - a small fixture file
    expected = hae_count.count_records(json.loads(body))
    expected_total = sum(expected.values())

    first = await client.post("/v1/ingest", content=body, headers=headers)

    assert first.status_code == 200, first.text
    report = first.json()
    assert report["totals"]["rejected"] == 0, report["errors"]
    assert report["totals"]["received"] == expected_total
    assert report["totals"]["inserted"] == expected_total
    for name, count in expected.items():
        if name in hae_count.SECTIONS:
            if count:
                assert report[name]["received"] == count
        else:
            assert report["metrics"][name]["received"] == count, name
    assert await _rows(db, user_id) == expected_total

    again = await client.post("/v1/ingest", content=body, headers=headers)

    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["totals"]["inserted"] == 0
    assert await _rows(db, user_id) == expected_total


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name[:60] for p in SAMPLE_FILES])
async def test_sample_reprocessed_changes_nothing(
    path: Path, client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], app: Any, db: Any
) -> None:
    """Not just the duplicate shortcut: processing the same points again finds them unchanged."""
    user_id, headers = writer
    body = path.read_bytes()  # noqa: ASYNC240 - a small fixture file
    first = (await client.post("/v1/ingest", content=body, headers=headers)).json()

    replayed = await jobs.replay(app.state.ingest, first["ingestion_id"])

    totals = replayed["totals"]
    assert totals["inserted"] == 0
    assert totals["updated"] == 0
    assert totals["unchanged"] == first["totals"]["received"]
    assert await _rows(db, user_id) == first["totals"]["received"]
