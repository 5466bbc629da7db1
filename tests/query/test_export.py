"""Export: user A's data as Health Auto Export JSON that, ingested as user B, gives B exactly A's
rows (every column but the user, the ingestion and generated ids), on every shared sample and on
generated data of every section; streamed; ranged; the CLI writes the same document."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.export.service import CHUNK_BYTES, ExportService
from tests import hae_generator as g
from tests.conftest import SAMPLES
from tests.query.support import Account, every_section, ingest, row_counts, snapshot

SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))


async def export(client: httpx.AsyncClient, account: Account, **params: str) -> bytes:
    response = await client.get("/v1/export", params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith("attachment;")
    return response.content


async def assert_round_trip(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account
) -> dict[str, list[Any]]:
    document = await export(client, alice)
    assert set(json.loads(document)["data"]) >= {"metrics", "workouts", "symptoms", "ecg"}
    report = await ingest(client, bob.headers, document)
    assert report["status"] == "processed"
    original = await snapshot(db, alice.user_id)
    copied = await snapshot(db, bob.user_id)
    for table in original:
        assert copied[table] == original[table], table
    return original


def test_the_shared_samples_are_there() -> None:
    assert len(SAMPLE_FILES) >= 12, SAMPLES


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name[:60] for p in SAMPLE_FILES])
async def test_sample_exports_and_reimports_to_identical_rows(
    path: Path, client: httpx.AsyncClient, db: Any, alice: Account, bob: Account
) -> None:
    await ingest(client, alice.headers, path.read_bytes())  # noqa: ASYNC240 - small fixture

    rows = await assert_round_trip(client, db, alice, bob)

    assert sum(len(r) for r in rows.values()) > 0


async def test_whole_sample_corpus_at_once_round_trips(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account
) -> None:
    for path in SAMPLE_FILES:
        await ingest(client, alice.headers, path.read_bytes())

    await assert_round_trip(client, db, alice, bob)


async def test_generated_data_of_every_section_round_trips(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account
) -> None:
    await ingest(client, alice.headers, every_section())

    rows = await assert_round_trip(client, db, alice, bob)

    empty = [table for table, found in rows.items() if not found]
    assert empty == [], f"the generated payload should reach every table: {empty}"
    # The raw-kept fields came back raw: a numeric valenceClassification, a numeric cycle value.
    [mind] = await db(
        "SELECT CAST(extra AS text) AS extra FROM state_of_mind"
        " WHERE user_id = :u AND valence_classification IS NULL",
        u=bob.user_id,
    )
    assert json.loads(mind["extra"]) == {"valenceClassification": 2}
    # The DST night keeps the bounds' own offsets.
    [night] = await db(
        "SELECT bound_offsets_min FROM sleep_metrics WHERE user_id = :u"
        " AND bound_offsets_min IS NOT NULL",
        u=bob.user_id,
    )
    assert night["bound_offsets_min"] == [660, 600, 660, 600]


async def test_a_second_export_import_changes_nothing(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account
) -> None:
    """Idempotent both ways: B's own export, re-ingested by A, finds every row unchanged."""
    await ingest(client, alice.headers, every_section())
    await ingest(client, bob.headers, await export(client, alice))

    report = await ingest(client, alice.headers, await export(client, bob))

    assert report["totals"]["inserted"] == 0
    assert report["totals"]["updated"] == 0
    assert report["totals"]["unchanged"] == report["totals"]["received"] > 0


async def test_export_of_a_range_holds_only_that_range(
    client: httpx.AsyncClient, db: Any, alice: Account, bob: Account
) -> None:
    days = [
        g.metric("step_count", "count", g.quantity_points("step_count", "count", g.T0, 72, g.HOUR))
    ]
    await ingest(client, alice.headers, g.envelope(metrics=days, workouts=[g.workout_v2()]))

    # Local day 21 January at +1100 (the points' own offset).
    document = await export(client, alice, **{"from": "2023-01-21", "to": "2023-01-22"})

    data = json.loads(document)["data"]
    [series] = data["metrics"]
    assert len(series["data"]) == 24
    assert series["data"][0]["date"] == "2023-01-21 00:00:00 +1100"
    assert series["data"][-1]["date"] == "2023-01-21 23:00:00 +1100"
    assert data["workouts"] == []  # it started on the 20th
    await ingest(client, bob.headers, document)
    assert (await row_counts(db, bob.user_id))["activity_metrics"] == 24


async def _measure(service: ExportService, user_id: int) -> tuple[list[int], int]:
    sizes: list[int] = []
    tracemalloc.start()
    try:
        async for chunk in service.stream(user_id):
            sizes.append(len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sizes, peak


async def test_export_streams_in_bounded_memory(
    client: httpx.AsyncClient, engine: AsyncEngine, alice: Account
) -> None:
    """The document leaves in ~64 KiB chunks and Python's peak allocation does not grow with
    the history (httpx's in-process transport buffers responses, so this reads the service)."""
    service = ExportService(engine)
    await ingest(client, alice.headers, g.big_payload(20_000))
    small, small_peak = await _measure(service, alice.user_id)
    for day in range(1, 5):
        await ingest(client, alice.headers, g.big_payload(20_000, start=g.T0 + day * 3 * g.DAY))

    large, large_peak = await _measure(service, alice.user_id)

    assert sum(large) > 4.5 * sum(small) > 10_000_000
    assert len(large) > 150
    assert max(large) < 2 * CHUNK_BYTES + 1_000_000  # ~64 KiB, or one whole workout
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
    assert large_peak < sum(large) / 2


async def test_export_is_audited_without_health_data(
    client: httpx.AsyncClient, db: Any, alice: Account
) -> None:
    await ingest(client, alice.headers, every_section())

    await export(client, alice, **{"from": "2023-01-20"})

    [record] = await db(
        "SELECT details FROM audit_log WHERE action = 'data.exported' AND user_id = :u",
        u=alice.user_id,
    )
    assert record["details"] == {"via": "api", "from": "2023-01-20T00:00:00", "to": None}


async def test_cli_export_writes_the_same_document(
    client: httpx.AsyncClient, db: Any, alice: Account, cli: Any, tmp_path: Path
) -> None:
    await ingest(client, alice.headers, every_section())
    target = tmp_path / "alice.json"

    result = await cli("export", "alice", "--output", str(target))

    assert result.code == 0
    assert target.read_bytes() == await export(client, alice)
    missing = await cli("export", "nobody", "--output", str(tmp_path / "x.json"))
    assert missing.code == 4


async def test_cli_export_to_stdout(client: httpx.AsyncClient, alice: Account, cli: Any) -> None:
    await ingest(client, alice.headers, every_section())

    result = await cli("export", "alice", "--from", "2023-01-20", "--to", "2023-01-21")

    assert result.code == 0
    data = json.loads(result.out)["data"]
    assert data["metrics"]
    assert data["workouts"]
