"""Series digests: a large series sent again byte for byte is answered without normalising or
merging it, and never once anything it vouches for has changed, however it changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ingest import jobs
from app.ingest.normalise import metrics as metric_series
from app.ingest.repository import digests
from tests import hae_generator as g

SMALL = 5_000  # materialised series (below STREAM_MIN_POINTS), above digests.MIN_BYTES
LARGE = 25_000  # streamed series


@pytest.fixture
def normalised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the series the service actually normalised, in order."""
    seen: list[str] = []
    real = metric_series.normalise_series

    def spy(series: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(series.name)
        return real(series, *args, **kwargs)

    monkeypatch.setattr(metric_series, "normalise_series", spy)
    return seen


def _steps(count: int, *, qty: float = 3.0) -> list[dict[str, Any]]:
    return [
        {"date": g.fmt_date(g.T0 + timedelta(minutes=i)), "qty": qty, "source": "Watch"}
        for i in range(count)
    ]


def _heart(count: int) -> list[dict[str, Any]]:
    return [
        {
            "date": g.fmt_date(g.T0 + timedelta(seconds=5 * i)),
            "Min": 60,
            "Avg": 61 + i % 7,
            "Max": 70,
            "source": "Watch",
        }
        for i in range(count)
    ]


def _body(*series: dict[str, Any], nonce: int = 0) -> dict[str, Any]:
    body = g.envelope(metrics=list(series))
    body[f"x-nonce-{nonce}"] = True  # a distinct body each time: not answered by its sha256
    return body


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/v1/ingest", json=body, headers=headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    assert report["status"] == "processed", report
    return report


async def _step_values(db: Any, user_id: int) -> dict[Any, float]:
    rows = await db(
        "SELECT start_at, qty FROM activity_metrics WHERE user_id = :u ORDER BY start_at",
        u=user_id,
    )
    return {r["start_at"]: r["qty"] for r in rows}


async def _digest_rows(db: Any, user_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await db(
        "SELECT table_name, series_id, received, stored FROM series_digests"
        " WHERE user_id = :u ORDER BY table_name",
        u=user_id,
    )
    return rows


@pytest.mark.parametrize("count", [SMALL, LARGE], ids=["materialised", "streamed"])
async def test_a_series_sent_again_is_answered_from_its_digest(
    client: httpx.AsyncClient,
    writer: tuple[int, dict[str, str]],
    db: Any,
    normalised: list[str],
    count: int,
) -> None:
    user_id, headers = writer
    steps = g.metric("step_count", "count", _steps(count))
    heart = g.metric("heart_rate", "count/min", _heart(count))
    await _post(client, headers, _body(steps, heart, nonce=1))
    assert normalised == ["step_count", "heart_rate"]
    recorded = await _digest_rows(db, user_id)
    assert [(r["table_name"], r["received"], r["stored"]) for r in recorded] == [
        ("activity_metrics", count, count),
        ("heart_rate_metrics", count, count),
    ]
    assert recorded[0]["series_id"] > 0
    assert recorded[1]["series_id"] == 0
    before = await _step_values(db, user_id)

    normalised.clear()
    report = await _post(client, headers, _body(steps, heart, nonce=2))

    assert normalised == []
    assert report["totals"] == {
        "received": 2 * count,
        "inserted": 0,
        "updated": 0,
        "unchanged": 2 * count,
        "rejected": 0,
    }
    assert report["metrics"]["step_count"]["unchanged"] == count
    assert await _step_values(db, user_id) == before


async def test_an_update_through_another_series_voids_the_digest(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any, normalised: list[str]
) -> None:
    user_id, headers = writer
    big = g.metric("step_count", "count", _steps(SMALL))
    await _post(client, headers, _body(big, nonce=1))
    # A small sync corrects one point the big series vouched for.
    fix = _steps(SMALL)[100:101]
    fix[0]["qty"] = 42.0
    small = await _post(client, headers, _body(g.metric("step_count", "count", fix), nonce=2))
    assert small["totals"]["updated"] == 1
    assert await _digest_rows(db, user_id) == []

    normalised.clear()
    report = await _post(client, headers, _body(big, nonce=3))

    assert normalised == ["step_count"]
    assert report["totals"]["updated"] == 1  # the big series' value is back
    assert set((await _step_values(db, user_id)).values()) == {3.0}
    assert len(await _digest_rows(db, user_id)) == 1


async def test_rows_deleted_through_the_api_come_back_on_resend(
    client: httpx.AsyncClient,
    make_key: Callable[..., Any],
    db: Any,
    normalised: list[str],
) -> None:
    user_id, token = await make_key(user="deleter", scopes=("write", "read"))
    headers = {"Authorization": f"Bearer {token}"}
    big = g.metric("step_count", "count", _steps(SMALL))
    await _post(client, headers, _body(big, nonce=1))
    gone = g.T0 + timedelta(minutes=100)
    response = await client.delete(
        "/v1/data",
        params={
            "from": gone.isoformat(),
            "to": (gone + timedelta(seconds=30)).isoformat(),
            "metric": "step_count",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    # Another source's point in the range puts the row count back where it was: only the
    # deletion's own invalidation can tell.
    phone = [dict(_steps(1)[0], source="Phone")]
    await _post(client, headers, _body(g.metric("step_count", "count", phone), nonce=2))
    rows = await db("SELECT count(*) AS n FROM activity_metrics WHERE user_id = :u", u=user_id)
    assert rows[0]["n"] == SMALL

    normalised.clear()
    report = await _post(client, headers, _body(big, nonce=3))

    assert normalised == ["step_count"]
    assert report["totals"]["inserted"] == 1
    rows = await db(
        "SELECT count(*) AS n FROM activity_metrics WHERE user_id = :u AND start_at = :at",
        u=user_id,
        at=gone,
    )
    assert rows[0]["n"] == 1


async def test_rows_deleted_behind_the_apps_back_are_noticed(
    client: httpx.AsyncClient,
    writer: tuple[int, dict[str, str]],
    db: Any,
    engine: AsyncEngine,
    normalised: list[str],
) -> None:
    user_id, headers = writer
    big = g.metric("heart_rate", "count/min", _heart(SMALL))
    await _post(client, headers, _body(big, nonce=1))
    # An operator's DELETE (or a dropped partition) does not go through the application.
    async with engine.begin() as conn:
        await conn.execute(
            text("DELETE FROM heart_rate_metrics WHERE user_id = :u AND start_at = :at"),
            {"u": user_id, "at": g.T0 + timedelta(seconds=50)},
        )

    normalised.clear()
    report = await _post(client, headers, _body(big, nonce=2))

    assert normalised == ["heart_rate"]
    assert report["totals"]["inserted"] == 1
    rows = await db("SELECT count(*) AS n FROM heart_rate_metrics WHERE user_id = :u", u=user_id)
    assert rows[0]["n"] == SMALL


async def test_new_points_of_another_source_do_not_void_it(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any, normalised: list[str]
) -> None:
    """Inserts of other keys cannot falsify a digest, but they change the count it re-checks:
    the series is then merged (all unchanged) and its digest re-recorded with the new count."""
    user_id, headers = writer
    big = g.metric("step_count", "count", _steps(SMALL))
    await _post(client, headers, _body(big, nonce=1))
    phone = [dict(p, source="Phone") for p in _steps(10)]
    await _post(client, headers, _body(g.metric("step_count", "count", phone), nonce=2))

    normalised.clear()
    report = await _post(client, headers, _body(big, nonce=3))
    assert normalised == ["step_count"]
    assert report["totals"]["unchanged"] == SMALL
    [row] = await _digest_rows(db, user_id)
    assert row["stored"] == SMALL + 10

    normalised.clear()
    await _post(client, headers, _body(big, nonce=4))
    assert normalised == []


async def test_a_series_with_a_rejected_point_gets_no_digest(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any, normalised: list[str]
) -> None:
    user_id, headers = writer
    points = _steps(SMALL)
    points[7]["date"] = "not a date"
    big = g.metric("step_count", "count", points)
    first = await _post(client, headers, _body(big, nonce=1))
    assert first["totals"]["rejected"] == 1
    assert await _digest_rows(db, user_id) == []

    normalised.clear()
    again = await _post(client, headers, _body(big, nonce=2))

    assert normalised == ["step_count"]
    assert again["totals"]["rejected"] == 1
    assert again["errors"][0]["index"] == 7


async def test_small_series_and_replays_do_not_use_digests(
    app: Any,
    client: httpx.AsyncClient,
    writer: tuple[int, dict[str, str]],
    db: Any,
    normalised: list[str],
) -> None:
    user_id, headers = writer
    small = g.metric("step_count", "count", _steps(50))
    big = g.metric("heart_rate", "count/min", _heart(SMALL))
    first = await _post(client, headers, _body(small, big, nonce=1))
    [row] = await _digest_rows(db, user_id)
    assert row["table_name"] == "heart_rate_metrics"

    normalised.clear()
    await jobs.replay(app.state.ingest, first["ingestion_id"])

    assert normalised == ["step_count", "heart_rate"]  # a mapping fix reaches every series


def test_the_digest_covers_every_byte_of_the_series() -> None:
    one = b'{"name":"step_count","units":"count","data":[{"qty":1}]}'
    assert digests.digest_of(one) == digests.digest_of(memoryview(one))
    assert digests.digest_of(one) != digests.digest_of(one.replace(b"count", b"steps", 1))
    assert digests.digest_of(one) != digests.digest_of(one.replace(b"1", b"2"))
