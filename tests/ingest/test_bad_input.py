"""Bad input: every kind gets its documented answer, and nothing else in the payload is lost."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests import hae_generator as g

Writer = tuple[int, dict[str, str]]
N = 10  # points per series
BAD = 4  # index of the one bad point
MARK = "@@RAW@@"  # replaced by raw JSON text that json.dumps cannot produce (1e999, NaN, ...)


def steps(count: int = N, start: datetime = g.T0, **opts: Any) -> list[dict[str, Any]]:
    return g.quantity_points("step_count", "count", start, count, g.MINUTE, **opts)


def good_series() -> list[dict[str, Any]]:
    """Two well-formed series that must survive whatever else the payload holds."""
    return [
        g.metric("step_count", "count", steps()),
        g.metric("heart_rate", "count/min", g.heart_rate_points(g.T0, N, g.MINUTE)),
    ]


def body_of(payload: Any, raw: str = "") -> bytes:
    return json.dumps(payload).replace(f'"{MARK}"', raw).encode()


# The documented problem types (README, "answer | when").
TYPES = {400: "/problems/malformed-json", 422: "/problems/invalid-envelope"}


def assert_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = resp.json()
    assert {"type", "title", "status", "detail"} <= problem.keys(), problem
    assert problem["status"] == status
    if status in TYPES:
        assert problem["type"] == TYPES[status]
        assert "field" in problem, problem
    return problem


async def count(db: Any, table: str, user_id: int) -> int:
    sql = f"SELECT count(*) AS n FROM {table} WHERE user_id = :u"  # noqa: S608 - table is ours
    rows = await db(sql, u=user_id)
    return int(rows[0]["n"])


async def assert_good_series_stored(db: Any, user_id: int, steps_expected: int = N) -> None:
    assert await count(db, "activity_metrics", user_id) == steps_expected
    assert await count(db, "heart_rate_metrics", user_id) == N


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[Callable[[int], Awaitable[Any]]]:
    """Factory: a client of a separate app whose ``max_body_bytes`` is ``limit``."""
    async with AsyncExitStack() as stack:

        async def make(limit: int) -> httpx.AsyncClient:
            small = create_app(
                Settings(
                    DATABASE_URL=settings.database_url,
                    REDIS_URL=settings.redis_url,
                    HAE_ENV="test",
                    HAE_DB_POOL_SIZE=2,
                    HAE_MAX_BODY_BYTES=limit,
                )
            )
            await stack.enter_async_context(small.router.lifespan_context(small))
            transport = httpx.ASGITransport(app=small)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            return await stack.enter_async_context(http)

        yield make


# --- the body as a whole ----------------------------------------------------------------------


async def test_malformed_json_is_400_problem_with_field(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    body = body_of(g.envelope(metrics=good_series()))[:-7]  # cut off mid-document

    resp = await client.post("/v1/ingest", content=body, headers=headers)

    assert_problem(resp, 400)
    assert await count(db, "activity_metrics", user_id) == 0


@pytest.mark.parametrize(
    "body", [b"[]", b'{"foo": 1}', b'{"data": 5}'], ids=["list", "foo", "data5"]
)
async def test_body_that_is_not_an_envelope_is_422_problem(
    body: bytes, client: httpx.AsyncClient, writer: Writer
) -> None:
    resp = await client.post("/v1/ingest", content=body, headers=writer[1])

    assert_problem(resp, 422)


async def test_deep_nesting_in_a_point_is_400_problem_not_500(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    points = steps()
    points[BAD]["qty"] = MARK
    body = body_of(
        g.envelope(metrics=[g.metric("step_count", "count", points)]), "[" * 100_000 + "]" * 100_000
    )

    resp = await client.post("/v1/ingest", content=body, headers=headers)

    assert_problem(resp, 400)
    assert await count(db, "activity_metrics", user_id) == 0


async def test_nan_literal_in_a_point_is_400_invalid_json(
    client: httpx.AsyncClient, writer: Writer
) -> None:
    points = steps()
    points[BAD]["qty"] = MARK
    body = body_of(g.envelope(metrics=[g.metric("step_count", "count", points)]), "NaN")

    resp = await client.post("/v1/ingest", content=body, headers=writer[1])

    assert_problem(resp, 400)


# --- one bad point: only that point is rejected ---------------------------------------------------

BAD_POINTS = {
    "qty_out_of_float_range": ("qty", "1e999"),
    "qty_string": ("qty", '"abc"'),
    "qty_bool": ("qty", "true"),
    "qty_missing": ("qty", None),
    "date_day_first": ("date", '"20/01/2023"'),
    "date_without_offset": ("date", '"2023-01-20 00:18:00"'),
    "date_null": ("date", "null"),
    "date_12h_bogus_hour": ("date", '"2023-01-20 13:04:05\u202fPM +1100"'),
}


@pytest.mark.parametrize(("field", "raw"), BAD_POINTS.values(), ids=BAD_POINTS.keys())
async def test_bad_point_rejects_only_that_point(
    field: str, raw: str | None, client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    series = good_series()
    point = series[0]["data"][BAD]
    if raw is None:
        del point[field]
    else:
        point[field] = MARK

    resp = await client.post(
        "/v1/ingest", content=body_of(g.envelope(metrics=series), raw or ""), headers=headers
    )

    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["totals"]["rejected"] == 1
    assert report["metrics"]["step_count"]["inserted"] == N - 1
    assert report["metrics"]["heart_rate"]["inserted"] == N
    error = report["errors"][0]
    assert (error["section"], error["name"], error["index"]) == ("metrics", "step_count", BAD)
    assert error["field"] == field
    assert error["reason"]
    await assert_good_series_stored(db, user_id, steps_expected=N - 1)


async def test_old_and_next_year_dates_stored_far_future_rejected(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    next_year = datetime.now(g.TZ).year + 1
    dates = [
        "2014-06-01 08:00:00 +0200",
        f"{next_year}-01-15 08:00:00 +1100",
        "2200-01-01 00:00:00 +0000",
    ]
    points = [{"date": d, "qty": 5, "source": g.WATCH} for d in dates]

    resp = await client.post(
        "/v1/ingest",
        json=g.envelope(metrics=[g.metric("step_count", "count", points)]),
        headers=headers,
    )

    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["metrics"]["step_count"]["inserted"] == 2
    assert report["totals"]["rejected"] == 1
    error = report["errors"][0]
    assert (error["index"], error["field"]) == (2, "date")
    assert error["reason"]
    rows = await db(
        "SELECT extract(year FROM start_at)::int AS y FROM activity_metrics WHERE user_id = :u ORDER BY 1",
        u=user_id,
    )
    assert [r["y"] for r in rows] == [2014, next_year]
    parts = await db(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'activity_metrics'::regclass"
    )
    names = {p["relname"] for p in parts}
    # Older than the partition window: stored in the default partition, no partition of its own.
    assert f"activity_metrics_p{next_year}01" in names
    assert "activity_metrics_p201406" not in names
    old = await db(
        "SELECT count(*) AS n FROM activity_metrics_default WHERE user_id = :u", u=user_id
    )
    assert old[0]["n"] == 1


async def test_unknown_metrics_stored_generically_and_reported(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    odd = [{"date": g.fmt_date(g.T0 + i * g.MINUTE), "foo": 1.5, "bar": "x"} for i in range(3)]
    metrics = [
        g.metric("future_metric_xyz", "zz", g.quantity_points("future_metric_xyz", "zz", g.T0, N)),
        g.metric("future_metric_shape", "zz", odd),
    ]

    resp = await client.post("/v1/ingest", json=g.envelope(metrics=metrics), headers=headers)

    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["totals"]["inserted"] == N + 3
    assert set(report["unknown_metrics"]) == {"future_metric_xyz", "future_metric_shape"}
    rows = await db(
        "SELECT t.name, t.known, q.qty, q.extra FROM quantity_metrics q"
        " JOIN metric_types t ON t.id = q.metric_id WHERE q.user_id = :u",
        u=user_id,
    )
    assert len(rows) == N + 3
    assert all(r["known"] is False for r in rows)
    assert sum(r["name"] == "future_metric_xyz" and r["qty"] is not None for r in rows) == N
    shaped = [r for r in rows if r["name"] == "future_metric_shape"]
    assert [r["extra"] for r in shaped] == [{"foo": 1.5, "bar": "x"}] * 3


BAD_SERIES = {
    "data_not_a_list": {"name": "active_energy", "units": "kcal", "data": 5},
    "no_name": {"units": "kcal", "data": [{"date": g.fmt_date(g.T0), "qty": 1.0}]},
}


@pytest.mark.parametrize("bad", BAD_SERIES.values(), ids=BAD_SERIES.keys())
async def test_bad_series_rejected_other_series_stored(
    bad: dict[str, Any], client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    series = good_series()
    series.insert(1, bad)

    resp = await client.post("/v1/ingest", json=g.envelope(metrics=series), headers=headers)

    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["totals"]["rejected"] == 1
    assert report["totals"]["inserted"] == 2 * N
    assert report["metrics"]["step_count"]["inserted"] == N
    assert report["metrics"]["heart_rate"]["inserted"] == N
    assert [e["section"] for e in report["errors"]] == ["metrics"]
    assert report["errors"][0]["reason"]
    await assert_good_series_stored(db, user_id)


# --- size and encoding ---------------------------------------------------------------------------


async def test_declared_content_length_over_limit_is_413(
    client: httpx.AsyncClient, writer: Writer, settings: Settings, db: Any
) -> None:
    user_id, headers = writer
    too_big = str(settings.max_body_bytes + 1)

    resp = await client.post(
        "/v1/ingest", content=b'{"data": {}}', headers={**headers, "Content-Length": too_big}
    )

    assert_problem(resp, 413)
    assert await count(db, "raw_ingestions", user_id) == 0


async def test_streamed_body_over_limit_is_413(
    limited_client: Callable[[int], Awaitable[httpx.AsyncClient]], writer: Writer
) -> None:
    small = await limited_client(1000)
    body = body_of(g.envelope(metrics=[g.metric("step_count", "count", steps(40))]))[:2000]
    assert len(body) == 2000

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    resp = await small.post("/v1/ingest", content=chunks(), headers=writer[1])

    assert "content-length" not in resp.request.headers
    assert_problem(resp, 413)


async def test_gzip_body_ingests(client: httpx.AsyncClient, writer: Writer, db: Any) -> None:
    user_id, headers = writer
    body = gzip.compress(body_of(g.envelope(metrics=good_series())))

    resp = await client.post(
        "/v1/ingest", content=body, headers={**headers, "Content-Encoding": "gzip"}
    )

    assert resp.status_code == 200, resp.text
    assert resp.json()["totals"]["inserted"] == 2 * N
    await assert_good_series_stored(db, user_id)


async def test_gzip_bomb_is_413_without_inflating_it(
    limited_client: Callable[[int], Awaitable[httpx.AsyncClient]], writer: Writer
) -> None:
    limit = 1 << 20
    small = await limited_client(limit)
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
    assert len(bomb) < limit  # only the inflated size is over the limit

    tracemalloc.start()
    try:
        resp = await small.post(
            "/v1/ingest", content=bomb, headers={**writer[1], "Content-Encoding": "gzip"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert_problem(resp, 413)
    assert peak < 10 * limit, f"{peak} bytes allocated while refusing the bomb"


async def test_unsupported_content_encoding_is_415(
    client: httpx.AsyncClient, writer: Writer
) -> None:
    body = body_of(g.envelope(metrics=good_series()))

    resp = await client.post(
        "/v1/ingest", content=body, headers={**writer[1], "Content-Encoding": "br"}
    )

    assert_problem(resp, 415)


# --- inside workouts, and sources --------------------------------------------------------------


async def test_bad_point_in_workout_series_rejects_only_that_point(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    workout = g.workout_v2()
    hr_points = len(workout["heartRateData"])
    workout["heartRateData"][3]["date"] = "20/01/2023 07:33"

    resp = await client.post("/v1/ingest", json=g.envelope(workouts=[workout]), headers=headers)

    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["workouts"]["inserted"] == 1
    assert report["workouts"]["rejected"] == 0
    assert report["error_count"] == 1
    error = report["errors"][0]
    assert (error["section"], error["name"], error["index"]) == ("workouts", "Outdoor Run", 0)
    assert error["field"].startswith("heartRateData")
    assert error["field"].endswith("date")
    assert await count(db, "workouts", user_id) == 1
    stored = await db(
        "SELECT count(*) AS n FROM workout_series WHERE user_id = :u AND series = 'heartRateData'",
        u=user_id,
    )
    assert stored[0]["n"] == hr_points - 1


async def test_null_and_pipe_joined_sources_stored_as_sent(
    client: httpx.AsyncClient, writer: Writer, db: Any
) -> None:
    user_id, headers = writer
    joined = f"{g.WATCH}|{g.PHONE}"
    points = steps(2, source=None) + steps(2, start=g.T0 + g.HOUR, source=joined)

    resp = await client.post(
        "/v1/ingest",
        json=g.envelope(metrics=[g.metric("step_count", "count", points)]),
        headers=headers,
    )

    assert resp.status_code == 200, resp.text
    assert resp.json()["metrics"]["step_count"]["inserted"] == 4
    rows = await db(
        "SELECT source FROM activity_metrics WHERE user_id = :u ORDER BY start_at", u=user_id
    )
    assert [r["source"] for r in rows] == [None, None, joined, joined]
