"""The health-data dashboard's SQL, run against the migrated schema as Grafana's read-only role.

Unlike test_deploy_artifacts.py this needs the test database (the ``migrated_url`` fixture):
deploy/postgres/grafana-readonly.sql creates the role (under a per-run name), known rows are
inserted, and every panel query, with Grafana's macros expanded the way its PostgreSQL datasource
does, must run under that role and return what the rows say.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
BOARD = ROOT / "deploy" / "grafana" / "dashboards" / "health-data.json"
GRANTS = ROOT / "deploy" / "postgres" / "grafana-readonly.sql"
ROLE = f"hae_grafana_test_{os.getpid()}"
ROLE_PASSWORD = "grafana-test-password-0123456789"
RANGE = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def _dsn(url: str, user: str | None = None, password: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if user is not None:
        parsed = parsed.set(username=user, password=password)
    return parsed.render_as_string(hide_password=False)


def expand(sql: str, user: str, interval_s: int = 60) -> str:
    """Grafana's PostgreSQL macros and the ${user:sqlstring} variable, as Grafana expands them."""
    start, end = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in RANGE)
    sql = re.sub(
        r"\$__timeGroupAlias\(([^,]+),\s*\$__interval\)",
        rf'floor(extract(epoch FROM \1) / {interval_s}) * {interval_s} AS "time"',
        sql,
    )
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN '{start}' AND '{end}'", sql)
    sql = sql.replace("${user:sqlstring}", "'" + user.replace("'", "''") + "'")
    assert "$__" not in sql
    assert "${" not in sql
    return sql


def panel_sql() -> dict[str, str]:
    board = json.loads(BOARD.read_text())
    return {
        panel["title"]: target["rawSql"]
        for panel in board["panels"]
        for target in panel.get("targets", [])
    }


FIXTURE_ROWS = """
SELECT hae_ensure_month_partition(t, '2026-11-15 00:00+00')
FROM unnest(ARRAY['heart_rate_metrics', 'activity_metrics', 'sleep_metrics', 'sleep_segments']) t;
INSERT INTO users (name) VALUES ('alice'), ('bob''s');
INSERT INTO metric_types (name, known) VALUES ('step_count', true) ON CONFLICT (name) DO NOTHING;
INSERT INTO heart_rate_metrics
    (user_id, start_at, utc_offset_min, source, min, avg, max, unit, ingestion_id)
SELECT u.id, v.t, 60, 'Watch', v.lo, v.av, v.hi, 'count/min', 1
FROM users u, (VALUES ('2026-11-01 10:00:05+00'::timestamptz, 60.0, 70.0, 80.0),
                      ('2026-11-01 10:00:35+00', 62, 72, 90)) v(t, lo, av, hi)
WHERE u.name = 'alice';
-- bob's rows must never show up in alice's panels
INSERT INTO heart_rate_metrics
    (user_id, start_at, utc_offset_min, source, min, avg, max, unit, ingestion_id)
SELECT id, '2026-11-01 10:00:10+00', 0, 'Watch', 150, 150, 150, 'count/min', 1
FROM users WHERE name = 'bob''s';
INSERT INTO activity_metrics
    (user_id, metric_id, start_at, utc_offset_min, source, qty, unit, ingestion_id)
SELECT u.id, m.id, v.t, 60, v.src, v.q, 'count', 1
FROM users u, metric_types m,
     (VALUES ('2026-11-01 10:00+00'::timestamptz, 'iPhone', 100.0),
             ('2026-11-01 11:00+00', 'iPhone', 50),
             ('2026-11-01 10:00+00', 'Watch', 120),
             ('2026-11-01 23:30+00', 'Watch', 7)) v(t, src, q)
WHERE u.name = 'alice' AND m.name = 'step_count';
INSERT INTO sleep_metrics
    (user_id, night_at, utc_offset_min, sleep_start_at, sleep_end_at, source,
     core, deep, rem, awake, unit, ingestion_id)
SELECT u.id, '2026-11-02 00:00+00', 60, '2026-11-01 22:00+00', '2026-11-02 06:00+00', v.src,
       v.core, v.deep, v.rem, v.awake, v.unit, 1
FROM users u, (VALUES ('Watch', 4.0, 1.0, 1.5, 0.5, 'hr'),
                      ('iPhone', 60.0, 0.0, 0.0, 0.0, 'min')) v(src, core, deep, rem, awake, unit)
WHERE u.name = 'alice';
INSERT INTO sleep_segments
    (user_id, start_at, end_at, utc_offset_min, end_offset_min, stage, source, ingestion_id)
SELECT u.id, v.s, v.e, 60, 60, v.stage, 'Watch', 1
FROM users u, (VALUES ('2026-11-01 21:30+00'::timestamptz, '2026-11-01 23:30+00'::timestamptz, 'Core'),
                      ('2026-11-01 23:30+00', '2026-11-02 00:30+00', 'Deep'),
                      ('2026-11-02 00:30+00', '2026-11-02 01:00+00', 'REM'),
                      ('2026-11-02 01:00+00', '2026-11-02 01:15+00', 'Awake'),
                      ('2026-11-02 01:15+00', '2026-11-02 05:00+00', 'In Bed')) v(s, e, stage)
WHERE u.name = 'alice';
INSERT INTO workouts
    (user_id, natural_key, export_version, name, start_at, end_at, utc_offset_min,
     end_offset_min, duration_s, distance_m, summary, ingestion_id)
SELECT id, 'run-1', 2, 'Outdoor Run', '2026-11-01 07:00+00', '2026-11-01 07:30+00', 60, 60,
       1800, 5000, '{}', 1
FROM users WHERE name = 'alice';
INSERT INTO workout_routes
    (workout_id, user_id, geom, point_count, utc_offsets_min, export_version, ingestion_id)
SELECT w.id, w.user_id,
       ST_GeomFromEWKT('SRID=4326;LINESTRINGM(13.40 52.50 1793512800, 13.41 52.51 1793512860, 13.42 52.52 1793512920)'),
       3, '{60,60,60}', 2, 1
FROM workouts w;
"""


@pytest.fixture
async def grafana_dsn(migrated_url: str, clean_db: None) -> AsyncIterator[str]:
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed (deploy/local/services.sh installs postgresql-client)")
    owner = await asyncpg.connect(_dsn(migrated_url))
    try:
        await owner.execute(FIXTURE_ROWS)
        script = GRANTS.read_text().replace("hae_grafana", ROLE)
        process = await asyncio.create_subprocess_exec(
            *(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"ro_password={ROLE_PASSWORD}"),
            *("-d", _dsn(migrated_url)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(script.encode()), 60)
        assert process.returncode == 0, stderr.decode()
        yield _dsn(migrated_url, ROLE, ROLE_PASSWORD)
    finally:
        if await owner.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", ROLE):
            await owner.execute(f'DROP OWNED BY "{ROLE}"')
            await owner.execute(f'DROP ROLE "{ROLE}"')
        await owner.close()


async def _query(dsn: str, sql: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [dict(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def _hours(value: Any) -> float:
    return round(float(value), 4)


async def test_health_dashboard_queries_as_the_read_only_role(grafana_dsn: str) -> None:
    sql = panel_sql()
    results = {
        title: await _query(grafana_dsn, expand(text, "alice")) for title, text in sql.items()
    }

    (heart,) = results["Heart rate"]
    assert (heart["min"], heart["avg"], heart["max"]) == (60, 71, 90)  # bob's 150 excluded

    # two sources report the night: the one with more sleep wins; minutes are converted
    (night,) = results["Sleep stages per night (nightly summaries)"]
    assert night["time"] == datetime(2026, 11, 2, tzinfo=UTC)
    assert [_hours(night[k]) for k in ("Core", "Deep", "REM", "Awake")] == [4, 1, 1.5, 0.5]

    # segments from 22:30 to 02:15 local are one night, named after the morning; In Bed ignored
    (segments,) = results["Sleep stages per night (segments)"]
    assert segments["time"] == datetime(2026, 11, 2, tzinfo=UTC)
    assert [_hours(segments[k]) for k in ("Core", "Deep", "REM", "Awake")] == [2, 1, 0.5, 0.25]

    # local days (UTC+1): 23:30 UTC belongs to the next day; overlapping sources are not added
    steps = [(r["time"].date().isoformat(), r["steps"]) for r in results["Steps per day"]]
    assert steps == [("2026-11-01", 150), ("2026-11-02", 7)]

    (workout,) = results["Workouts"]
    assert workout["Workout"] == "Outdoor Run"
    assert float(workout["Minutes"]) == 30
    assert float(workout["km"]) == 5
    assert workout["Route points"] == 3
    (totals,) = results["Workouts in range"]
    assert totals["Workouts"] == 1

    route = results["Workout routes"]
    assert [(r["latitude"], r["longitude"]) for r in route] == [
        (52.50, 13.40),
        (52.51, 13.41),
        (52.52, 13.42),
    ]
    assert route[0]["time"] == datetime.fromtimestamp(1793512800, tz=UTC)

    # the variable's query, and a name that needs escaping
    board = json.loads(BOARD.read_text())
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "user"]
    names = [r["name"] for r in await _query(grafana_dsn, variable["query"])]
    assert names == ["alice", "bob's"]
    (bob,) = await _query(grafana_dsn, expand(sql["Heart rate"], "bob's"))
    assert bob["avg"] == 150


async def test_read_only_role_cannot_see_secrets_or_write(grafana_dsn: str) -> None:
    for table in ("api_keys", "raw_ingestions", "audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await _query(grafana_dsn, f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await _query(grafana_dsn, "CREATE TEMP TABLE t (x int)")
    with pytest.raises((asyncpg.InsufficientPrivilegeError, asyncpg.ReadOnlySQLTransactionError)):
        await _query(grafana_dsn, "DELETE FROM users")
