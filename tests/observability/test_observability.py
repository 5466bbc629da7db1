"""Metrics show exactly what an ingest did; probes, request ids, quality flags, freshness."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.main import create_app
from app.observability import gauges
from tests import hae_generator as g

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


async def _scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    gauges.reset_throttle()
    response = await client.get("/metrics")
    assert response.status_code == 200
    return _samples(response.text)


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _delta(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    return _value(after, name, **labels) - _value(before, name, **labels)


def _steps(start: datetime, values: list[Any]) -> dict[str, Any]:
    points = [
        {"date": g.fmt_date(start + timedelta(minutes=i)), "qty": v} for i, v in enumerate(values)
    ]
    return g.metric("step_count", "count", points)


async def test_metrics_count_exactly_what_an_ingest_did(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]]
) -> None:
    _, headers = writer
    first = g.envelope(metrics=[_steps(T0, [10, 20, 30])])
    before = await _scrape(client)
    assert (await client.post("/v1/ingest", json=first, headers=headers)).status_code == 200
    # Overlapping: 2 unchanged, 1 updated, 1 new, 2 bad (a string qty and a bad date).
    second = g.envelope(metrics=[_steps(T0, [10, 20, 31, 40, "x"])])
    second["data"]["metrics"][0]["data"].append({"date": "20/01/2024", "qty": 5})
    assert (await client.post("/v1/ingest", json=second, headers=headers)).status_code == 200
    assert (await client.post("/v1/ingest", json=second, headers=headers)).json()[
        "status"
    ] == "duplicate"

    after = await _scrape(client)

    points = "hae_ingest_points_total"
    assert _delta(before, after, points, section="metrics", outcome="inserted") == 4
    assert _delta(before, after, points, section="metrics", outcome="updated") == 1
    # 2 unchanged in the second body, and the duplicate body restates its 4 applied points.
    assert _delta(before, after, points, section="metrics", outcome="unchanged") == 2 + 4
    assert _delta(before, after, points, section="metrics", outcome="rejected") == 2 + 2
    assert _delta(before, after, "hae_ingest_rejections_total", reason="type") == 1
    assert _delta(before, after, "hae_ingest_rejections_total", reason="date") == 1
    assert _delta(before, after, "hae_ingest_payloads_total", outcome="processed") == 2
    assert _delta(before, after, "hae_ingest_payloads_total", outcome="duplicate") == 1
    route = {"route": "/v1/ingest", "method": "POST", "status_class": "2xx"}
    assert _delta(before, after, "hae_http_requests_total", **route) == 3


async def test_metric_labels_never_carry_ids_or_raw_paths(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]]
) -> None:
    _, headers = writer
    await client.get("/v1/ingestions/987654321", headers=headers)
    await client.get("/no/such/path/12345")

    text = (await client.get("/metrics")).text

    assert "987654321" not in text
    assert "12345" not in text
    assert 'route="/v1/ingestions/{ingestion_id}"' in text
    assert 'route="unmatched"' in text


async def test_probes_are_kept_out_of_http_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/livez")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}

    text = (await client.get("/metrics")).text

    assert 'route="/livez"' not in text
    assert 'route="/readyz"' not in text
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/metrics", "/livez", "/readyz"} & set(paths)


async def test_readiness_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}
    )
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ready = await client.get("/readyz")
            live = await client.get("/livez")

    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["checks"]["database"].startswith("failed")
    assert ready.json()["checks"]["redis"] == "ok"
    assert live.status_code == 200


@pytest.mark.parametrize("given", [None, "req-abc.123"])
async def test_request_id_is_echoed_and_bound_to_logs(
    given: str | None,
    client: httpx.AsyncClient,
    writer: tuple[int, dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, headers = writer
    if given:
        headers = {**headers, "X-Request-ID": given}
    body = g.envelope(metrics=[_steps(T0, [1])])

    response = await client.post("/v1/ingest", json=body, headers={**headers, "session-id": "S-1"})

    request_id = response.headers["x-request-id"]
    assert request_id == given or len(request_id) == 32
    events = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    processed = [e for e in events if e.get("event") == "ingest.processed"]
    assert len(processed) == 1, events
    assert processed[0]["request_id"] == request_id
    assert processed[0]["session_id"] == "S-1"
    assert processed[0]["ingestion_id"] == response.json()["ingestion_id"]
    assert processed[0]["user_id"] == writer[0]
    access = [e for e in events if e.get("event") == "http.request"]
    assert access[-1]["request_id"] == request_id
    assert access[-1]["route"] == "/v1/ingest"


async def test_improbable_values_are_stored_flagged_and_counted(
    client: httpx.AsyncClient, writer: tuple[int, dict[str, str]], db: Any
) -> None:
    user_id, headers = writer
    heart = g.metric(
        "heart_rate",
        "count/min",
        [
            {"date": g.fmt_date(T0), "Min": 60, "Avg": 62, "Max": 65},
            {"date": g.fmt_date(T0 + timedelta(minutes=1)), "Min": 240, "Avg": 245, "Max": 250},
            {"date": g.fmt_date(T0 + timedelta(minutes=2)), "Min": 500, "Avg": 500, "Max": 500},
        ],
    )
    spo2 = g.metric("blood_oxygen_saturation", "%", [{"date": g.fmt_date(T0), "qty": 0.62}])
    body = g.envelope(metrics=[heart, spo2])
    before = await _scrape(client)

    report = (await client.post("/v1/ingest", json=body, headers=headers)).json()
    again = g.envelope(metrics=[heart, spo2], symptoms=[])
    await client.post("/v1/ingest", json=again, headers=headers)

    after = await _scrape(client)
    assert report["metrics"]["heart_rate"]["inserted"] == 2  # the 500 bpm point is impossible
    assert report["metrics"]["heart_rate"]["rejected"] == 1
    flags = await db(
        "SELECT metric, value, reason FROM quality_flags WHERE user_id = :u ORDER BY metric, value",
        u=user_id,
    )
    assert [(f["metric"], f["value"]) for f in flags] == [
        ("blood_oxygen_saturation", 0.62),
        ("heart_rate", 240.0),
        ("heart_rate", 245.0),
        ("heart_rate", 250.0),
    ]
    assert all("improbable" in f["reason"] for f in flags)
    stored = await db("SELECT count(*) AS n FROM heart_rate_metrics WHERE user_id = :u", u=user_id)
    assert stored[0]["n"] == 2
    assert _delta(before, after, "hae_quality_flagged_total", metric="heart_rate") == 3
    assert _delta(before, after, "hae_quality_flagged_total", metric="spo2") == 1


async def test_status_shows_freshness_per_metric_and_automation(
    client: httpx.AsyncClient, make_key: Any
) -> None:
    _, token = await make_key(user="fresh", scopes=("write", "read"))
    headers = {"Authorization": f"Bearer {token}"}
    steps = g.envelope(metrics=[_steps(T0, [1, 2, 3])])
    hae = {"automation-id": "A1", "automation-name": "Steps hourly"}
    await client.post("/v1/ingest", json=steps, headers={**headers, **hae})
    later = g.envelope(workouts=[g.workout_v2(start=T0 + timedelta(days=1))])
    await client.post("/v1/ingest", json=later, headers={**headers, "automation-id": "A2"})

    status = (await client.get("/v1/status", headers=headers)).json()

    by_name = {(s["name"], s["automation_id"]): s for s in status["series"]}
    steps_entry = by_name[("step_count", "A1")]
    assert steps_entry["automation_name"] == "Steps hourly"
    assert datetime.fromisoformat(steps_entry["last_point_at"]) == T0 + timedelta(minutes=2)
    assert ("workouts", "A2") in by_name
    assert datetime.fromisoformat(status["last_point_at"]) > T0


async def test_silent_users_gauge_and_cli(
    client: httpx.AsyncClient,
    make_key: Any,
    db: Any,
    engine: Any,
    settings: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import reports
    from app.cli.runtime import Clients

    for name in ("quiet", "busy"):
        _, token = await make_key(user=name)
        body = g.envelope(metrics=[_steps(T0, [len(name)])])
        await client.post("/v1/ingest", json=body, headers={"Authorization": f"Bearer {token}"})
    async with engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(
            text(
                "UPDATE data_freshness SET last_ingested_at = now() - interval '30 hours'"
                " WHERE user_id = (SELECT id FROM users WHERE name = 'quiet')"
            )
        )

    samples = await _scrape(client)

    assert _value(samples, "hae_users_silent", hours="24") == 1
    assert _value(samples, "hae_users_silent", hours="72") == 0
    capsys.readouterr()
    clients = Clients(engine, None, settings)
    code = await reports.freshness(silent_hours=24)(clients)
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert {p["user"] for p in printed} == {"quiet"}
