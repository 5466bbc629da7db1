"""Large series stream into COPY while they are normalised: every way that can go sideways
still stores exactly the points, once, with their rejections reported once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.ingest.normalise import metrics as metric_series
from tests import hae_generator as g

N = 25_000  # above STREAM_MIN_POINTS


@pytest.fixture(autouse=True)
def _series_stream() -> None:
    assert metric_series.STREAM_MIN_POINTS < N


def _steps(start: Any, count: int, *, qty: float = 3.0) -> list[dict[str, Any]]:
    return [
        {"date": g.fmt_date(start + timedelta(minutes=i)), "qty": qty, "source": "W"}
        for i in range(count)
    ]


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], points: list[dict[str, Any]]
) -> dict[str, Any]:
    body = g.envelope(metrics=[g.metric("step_count", "count", points)])
    response = await client.post("/v1/ingest", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _stored(db: Any, user_id: int) -> int:
    rows = await db("SELECT count(*) AS n FROM activity_metrics WHERE user_id = :u", u=user_id)
    return int(rows[0]["n"])


async def test_fresh_large_series_goes_straight_in(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    report = await _post(client, headers, _steps(g.T0, N))

    assert report["totals"] == {
        "received": N,
        "inserted": N,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    assert await _stored(db, user_id) == N


async def test_large_series_overlapping_stored_rows_is_merged(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    await _post(client, headers, _steps(g.T0, N))
    later = _steps(g.T0 + timedelta(minutes=N // 2), N, qty=3.0)
    later[0]["qty"] = 99.0  # one stored point changes

    report = await _post(client, headers, later)

    totals = report["totals"]
    assert totals["inserted"] == N // 2
    assert totals["updated"] == 1
    assert totals["unchanged"] == N - N // 2 - 1
    assert await _stored(db, user_id) == N + N // 2


async def test_out_of_order_point_falls_back_without_losing_or_doubling(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    points = _steps(g.T0, N)
    points[N // 2], points[N // 2 + 1] = points[N // 2 + 1], points[N // 2]  # breaks the order
    points.insert(100, dict(points[5]))  # the same key twice: the later one wins
    points[200]["date"] = "not a date"  # rejected once, not once per attempt

    report = await _post(client, headers, points)

    totals = report["totals"]
    assert totals["received"] == N + 1
    assert totals["rejected"] == 1
    assert report["error_count"] == 1
    assert report["errors"][0]["index"] == 200
    assert totals["inserted"] == N - 1
    assert await _stored(db, user_id) == N - 1


async def test_point_outside_the_claimed_range_lands_in_its_own_partition(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    points = _steps(g.T0, N)
    points[N // 3]["date"] = g.fmt_date(g.T0 - timedelta(days=400))  # months before the first

    report = await _post(client, headers, points)

    assert report["totals"]["inserted"] == N
    default = await db("SELECT count(*) AS n FROM activity_metrics_default")
    assert default[0]["n"] == 0
    assert await _stored(db, user_id) == N


async def test_a_point_of_the_wrong_shape_in_a_later_chunk_is_rejected_alone(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    """Large series are decoded a chunk at a time: a chunk with one bad point falls back to
    point by point, and the rejection carries the point's index in the whole series."""
    user_id, headers = writer
    count = metric_series.CHUNK_POINTS * 2 + 500
    points = _steps(g.T0, count)
    bad = metric_series.CHUNK_POINTS + 123
    points[bad]["qty"] = "lots"

    report = await _post(client, headers, points)

    assert report["totals"]["received"] == count
    assert report["totals"]["inserted"] == count - 1
    assert [(e["index"], e["field"]) for e in report["errors"]] == [(bad, "qty")]
    assert await _stored(db, user_id) == count - 1


async def test_a_resync_extending_stored_rows_merges_only_the_shared_part(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    """The shared part is merged (a changed value updated), the part after the newest stored
    point goes straight in; a point out of order in the new part, or a key repeated across
    the cut, undoes that and the whole series is merged, with the same exact outcome."""
    user_id, headers = writer
    await _post(client, headers, _steps(g.T0, N))
    for variant in ("ordered", "out of order", "repeated across the cut"):
        start = g.T0 + timedelta(minutes=N // 2)
        later = _steps(start, N, qty=3.0)
        later[10]["qty"] = 50.0 + len(variant)  # a stored point changes (each variant anew)
        if variant == "out of order":
            later[-5], later[-4] = later[-4], later[-5]
        elif variant == "repeated across the cut":
            later.insert(N - N // 2 + 3, dict(later[N - N // 2 - 1]))
        new = N - N // 2 if variant == "ordered" else 0

        report = await _post(client, headers, later)

        totals = report["totals"]
        assert totals["received"] == len(later), variant
        assert totals["inserted"] == new, variant
        assert totals["updated"] == 1, variant
        assert totals["rejected"] == 0, variant
        assert await _stored(db, user_id) == N + N // 2, variant
    changed = await db(
        "SELECT qty FROM activity_metrics WHERE user_id = :u AND start_at = :at",
        u=user_id,
        at=g.T0 + timedelta(minutes=N // 2 + 10),
    )
    assert [r["qty"] for r in changed] == [50.0 + len("repeated across the cut")]
