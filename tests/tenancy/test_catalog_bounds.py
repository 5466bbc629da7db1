"""One account cannot exhaust the metric catalogue that every account shares."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from app.config import Settings
from app.ingest.repository import catalog as catalog_sql

POINT = {"date": "2026-11-02 08:00:00 +0000", "qty": 1}


def _body(names: list[str]) -> bytes:
    metrics = [{"name": n, "units": "count", "data": [POINT]} for n in names]
    return json.dumps({"data": {"metrics": metrics}}).encode()


async def _post(client: httpx.AsyncClient, token: str, body: bytes) -> dict[str, Any]:
    response = await client.post(
        "/v1/ingest",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def _sequence_value(db: Callable[..., Any]) -> int:
    rows = await db("SELECT coalesce(max(id), 0) AS top FROM metric_types")
    return int(rows[0]["top"])


async def test_unknown_names_are_capped_per_account_and_known_ones_flow(
    client: httpx.AsyncClient,
    make_key: Callable[..., Any],
    db: Callable[..., Any],
    settings: Settings,
) -> None:
    cap = settings.max_unknown_metrics_per_user
    _, hostile = await make_key(user="hostile")
    _, other = await make_key(user="other")
    before = await _sequence_value(db)

    names = [f"zz_unknown_{i:05d}" for i in range(40_000)]
    report = await _post(client, hostile, _body(names))

    assert report["totals"]["received"] == 40_000
    assert report["totals"]["inserted"] == cap
    assert report["totals"]["rejected"] == 40_000 - cap
    assert len(report["unknown_metrics"]) == cap
    assert any("HAE_MAX_UNKNOWN_METRICS_PER_USER" in e["reason"] for e in report["errors"])
    # The shared catalogue grew by the admitted names only.
    assert await _sequence_value(db) - before <= cap

    # Known names are never capped, for the same account.
    known = await _post(client, hostile, _body(["heart_rate", "step_count"]))
    assert known["totals"]["inserted"] == 2
    assert known["totals"]["rejected"] == 0
    # A name it already stores keeps flowing; a new one is refused.
    again = await _post(client, hostile, _body([names[0], "zz_one_more"]))
    assert again["metrics"][names[0]]["unchanged"] == 1
    assert again["metrics"]["zz_one_more"]["rejected"] == 1

    # Another account's new name is accepted.
    theirs = await _post(client, other, _body(["zz_their_own_metric"]))
    assert theirs["totals"]["inserted"] == 1
    assert theirs["unknown_metrics"] == ["zz_their_own_metric"]


async def test_registration_from_a_cold_process_draws_no_ids(
    engine: Any, db: Callable[..., Any]
) -> None:
    names = [("zz_cold_a", False), ("zz_cold_b", False), ("heart_rate", True)]
    async with engine.begin() as conn:
        await catalog_sql.metric_type_ids(conn, names)
    start = (await db("SELECT last_value FROM metric_types_id_seq"))[0]["last_value"]
    for _ in range(50):  # what every restart of every process used to do for each name
        async with engine.begin() as conn:
            await catalog_sql.metric_type_ids(conn, names)
    end = (await db("SELECT last_value FROM metric_types_id_seq"))[0]["last_value"]
    assert end == start
