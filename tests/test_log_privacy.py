"""No log line carries payload content: marker strings are placed in metric names, units,
sources, dates, values and workout fields (some of them made to be refused by the database), and
everything the app logs while storing and reading them is scanned for the markers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import hae_generator as g

MARK = "zqxmark"


def _marked_payload() -> dict[str, Any]:
    point = {"date": g.fmt_date(g.WORKOUT_START), "qty": 3, "source": f"{MARK}src"}
    odd_date = {"date": f"2023-01-20 {MARK}date", "qty": 4, "source": "Watch"}
    odd_value = {"date": g.fmt_date(g.WORKOUT_START), "qty": f"{MARK}value", "source": "Watch"}
    # Too long for the unique index on the natural key: the database refuses the row.
    huge_source = {"date": g.fmt_date(g.WORKOUT_START), "qty": 5, "source": MARK * 2000}
    workout = g.workout_v2()
    workout["name"] = f"{MARK}workout"
    workout["location"] = MARK * 3000
    # An integer too wide for its column: the database driver refuses it, quoting the value.
    ecg = g.ecg_record(samples=3)
    ecg["numberOfVoltageMeasurements"] = 7_000_000_000_123
    ecg["source"] = f"{MARK}ecg"
    return g.envelope(
        ecg=[ecg],
        metrics=[
            g.metric(f"{MARK}metric", f"{MARK}unit", [point, odd_date, odd_value]),
            g.metric("step_count", "count", [huge_source, odd_date]),
            g.metric("heart_rate", "count/min", [{"date": f"{MARK}", "Avg": MARK}]),
            # Too long for the metric-name index: the database refuses the series.
            g.metric(MARK * 1500, "count", [point]),
            # PostgreSQL text cannot hold NUL: refused by the database, not by the parser.
            g.metric(f"{MARK}nul\x00name", "count", [point]),
            g.metric("body_mass", "kg", [{**point, "source": f"{MARK}\x00src"}]),
        ],
        workouts=[workout],
        **{f"{MARK}section": [{"x": MARK}]},
    )


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the app logs (structlog and stdlib, any level), rendered as the app does."""
    root = logging.getLogger()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(root.handlers[0].formatter)
    handler.setLevel(logging.DEBUG)
    # The test's own HTTP client logs the URLs it requests: that is not the app speaking.
    handler.addFilter(lambda record: not record.name.startswith("httpx"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_no_log_line_carries_payload_content(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]]
) -> None:
    _, headers = writer
    with captured_logs() as logs:
        stored = await client.post("/v1/ingest", json=_marked_payload(), headers=headers)
        bad_json = await client.post(
            "/v1/ingest", content=f'{{"data": {{"{MARK}": [1, 2,'.encode(), headers=headers
        )
        not_envelope = await client.post("/v1/ingest", json={MARK: MARK}, headers=headers)
        read = await client.get(f"/v1/metrics/{MARK}metric", headers=headers)
        bad_read = await client.get(
            f"/v1/metrics/{MARK}metric", params={"from": MARK, "tz": MARK}, headers=headers
        )
    assert stored.status_code in (200, 202, 503), stored.text
    assert bad_json.status_code == 400
    assert not_envelope.status_code == 422
    assert read.status_code in (200, 404)
    assert bad_read.status_code == 400
    assert_no_marker(logs.getvalue())


def assert_no_marker(logged: str) -> None:
    assert logged, "nothing was logged: the capture is not working"
    leaked = [line for line in logged.splitlines() if MARK in line]
    assert not leaked, json.dumps(leaked[:5], indent=1)[:4000]


async def test_database_error_is_logged_without_the_values_it_quotes(engine: AsyncEngine) -> None:
    log = structlog.get_logger("app.ingest.service")
    failed = False
    with captured_logs() as logs:
        try:
            async with engine.connect() as conn:
                # PostgreSQL quotes the value; SQLAlchemy appends the parameters.
                await conn.execute(
                    text("SELECT CAST(CAST(:v AS text) AS integer)"), {"v": f"{MARK}value"}
                )
        except DBAPIError:
            failed = True
            log.exception("ingest.interrupted", error_type="DataError")
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    assert failed
    logged = logs.getvalue()
    assert_no_marker(logged)
    assert logged.count("sqlalchemy.exc.DBAPIError (SQLSTATE 22P02)") == 2, logged
    assert "Traceback (most recent call last)" in logged


def test_python_exception_message_is_not_logged() -> None:
    log = structlog.get_logger("app.query.service")
    with captured_logs() as logs:
        try:
            int(f"{MARK}42")
        except ValueError:
            log.exception("request.failed", error_type="ValueError")
    assert_no_marker(logs.getvalue())
    assert "ValueError" in logs.getvalue()


def test_metric_name_outside_the_catalog_is_logged_as_a_digest() -> None:
    log = structlog.get_logger("app.ingest.service")
    with captured_logs() as logs:
        log.error("ingest.write_failed", section="metrics", metric=f"{MARK}metric")
        log.error("ingest.write_failed", section="metrics", metric="step_count")
    assert_no_marker(logs.getvalue())
    assert "metric=unknown-" in logs.getvalue()
    assert "metric=step_count" in logs.getvalue()
