"""All SQL of deletion: rows in a range, and everything of an account.

The partitioned tables have no foreign keys (see app.ingest.models), so every table is deleted
from explicitly, children before parents. Deletions take the same per-(table, user) advisory
locks as the ingest upsert, in the order the ingest takes them, so a concurrent write is never
half-classified against rows that vanish under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.query import sql
from app.query.timerange import Bound

# Health tables by ingest section: (table, time column, flag metric name or None = by metric_id).
METRIC_TABLES: tuple[tuple[str, str, str | None], ...] = (
    ("quantity_metrics", "start_at", None),
    ("activity_metrics", "start_at", None),
    ("heart_rate_metrics", "start_at", "heart_rate"),
    ("blood_pressure_metrics", "start_at", "blood_pressure"),
    ("blood_glucose_metrics", "start_at", "blood_glucose"),
    ("insulin_metrics", "start_at", "insulin_delivery"),
    ("hygiene_events", "start_at", None),
    ("sexual_activity_metrics", "start_at", "sexual_activity"),
    ("sleep_metrics", "night_at", "sleep_analysis"),
    ("sleep_segments", "start_at", "sleep_analysis"),
)
EVENT_TABLES: dict[str, str] = {
    "symptoms": "symptoms",
    "ecg": "ecg_recordings",
    "heartRateNotifications": "heart_rate_notifications",
    "stateOfMind": "state_of_mind",
    "medications": "medications",
    "cycleTracking": "cycle_tracking",
}
WORKOUT_TABLES = ("workouts", "workout_series", "workout_routes")
# The one order of the per-(table, user) writer locks for whoever takes several: erasure takes
# them all, a small ingest body those of the tables it writes (ingest.repository.lock_tables),
# a series-by-series workouts write (workouts, workout_series, workout_routes) in turn.
LOCK_ORDER = (
    *WORKOUT_TABLES,
    *(t for t, _, _ in METRIC_TABLES),
    *EVENT_TABLES.values(),
)
# Erased explicitly and last: everything else of the account goes first.
_ACCOUNT_LAST = ("raw_ingestions", "api_keys")
_NEVER = ("audit_log", "users")


@dataclass(frozen=True, slots=True)
class Target:
    table: str
    time_column: str
    metric_id: int | None = None  # only this metric's rows (tables keyed by metric_id)
    flag_metric: str | None = None  # quality flags' metric name when not by metric_id
    flagged: bool = True  # False for a table whose rows are never flagged


async def lock(conn: AsyncConnection, user_id: int, tables: Iterable[str]) -> None:
    wanted = set(tables)
    for table in (t for t in LOCK_ORDER if t in wanted):
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"{table}:{user_id}"},
        )


async def metric_type_id(conn: AsyncConnection, name: str) -> int | None:
    found = await conn.execute(text("SELECT id FROM metric_types WHERE name = :n"), {"n": name})
    value = found.scalar_one_or_none()
    return None if value is None else int(value)


async def delete_rows(
    conn: AsyncConnection, user_id: int, target: Target, lo: Bound | None, hi: Bound | None
) -> tuple[int, int]:
    """Delete the target's rows in range, and the quality flags of exactly those points.

    Returns (rows, flags) deleted."""
    params = sql.Params()
    where = [f"user_id = {params.add(user_id)}"]
    if target.metric_id is not None:
        where.append(f"metric_id = {params.add(target.metric_id)}")
    where += sql.time_range(target.time_column, "utc_offset_min", lo, hi, params)
    if not target.flagged:
        result = await conn.execute(
            text(f"DELETE FROM {target.table} WHERE {' AND '.join(where)}"), params
        )
        return int(result.rowcount or 0), 0
    if target.flag_metric is None:
        gone = f"metric_id, {target.time_column} AS at"
        flagged = (
            "SELECT DISTINCT m.name, g.at FROM gone g JOIN metric_types m ON m.id = g.metric_id"
        )
    else:
        gone = f"{target.time_column} AS at"
        name = params.add(target.flag_metric, "text")
        flagged = f"SELECT DISTINCT {name} AS name, g.at FROM gone g"
    statement = (
        f"WITH gone AS (DELETE FROM {target.table} WHERE {' AND '.join(where)}"
        f" RETURNING {gone}),"
        f" flags AS (DELETE FROM quality_flags f USING ({flagged}) d"
        f" WHERE f.user_id = {params.add(user_id)} AND f.metric = d.name AND f.start_at = d.at"
        " RETURNING 1)"
        " SELECT (SELECT count(*) FROM gone) AS n, (SELECT count(*) FROM flags) AS flags"
    )
    row = (await conn.execute(text(statement), params)).one()
    return int(row.n), int(row.flags)


async def delete_workouts(
    conn: AsyncConnection, user_id: int, lo: Bound | None, hi: Bound | None
) -> dict[str, int]:
    """Workouts starting in range with their series and routes (and their speed flags)."""
    params = sql.Params()
    where = [f"w.user_id = {params.add(user_id)}"]
    where += sql.time_range("w.start_at", "w.utc_offset_min", lo, hi, params)
    u = params.add(user_id)
    statement = (
        f"WITH doomed AS (SELECT w.id, w.start_at FROM workouts w WHERE {' AND '.join(where)}),"
        f" s AS (DELETE FROM workout_series t USING doomed d WHERE t.user_id = {u}"
        " AND t.workout_id = d.id RETURNING 1),"
        f" r AS (DELETE FROM workout_routes t USING doomed d WHERE t.user_id = {u}"
        " AND t.workout_id = d.id RETURNING 1),"
        f" w AS (DELETE FROM workouts t USING doomed d WHERE t.user_id = {u} AND t.id = d.id"
        " RETURNING t.start_at),"
        f" f AS (DELETE FROM quality_flags q USING (SELECT DISTINCT start_at FROM w) g"
        f" WHERE q.user_id = {u} AND q.table_name = 'workouts' AND q.start_at = g.start_at"
        " RETURNING 1)"
        " SELECT (SELECT count(*) FROM s) AS series, (SELECT count(*) FROM r) AS routes,"
        " (SELECT count(*) FROM w) AS workouts, (SELECT count(*) FROM f) AS flags"
    )
    row = (await conn.execute(text(statement), params)).one()
    return {
        "workout_series": int(row.series),
        "workout_routes": int(row.routes),
        "workouts": int(row.workouts),
        "quality_flags": int(row.flags),
    }


async def user_name(conn: AsyncConnection, user_id: int) -> str | None:
    found = await conn.execute(
        text("SELECT name FROM users WHERE id = :u FOR UPDATE"), {"u": user_id}
    )
    value = found.scalar_one_or_none()
    return None if value is None else str(value)


async def key_ids(conn: AsyncConnection, user_id: int) -> list[str]:
    found = await conn.execute(
        text("SELECT key_id FROM api_keys WHERE user_id = :u"), {"u": user_id}
    )
    return [str(k) for k in found.scalars()]


async def account_tables(conn: AsyncConnection) -> list[str]:
    """Every table with a ``user_id`` column (partition parents, not partitions), children
    before the tables they reference: found in the catalog, so a table added later is erased
    too without anyone remembering to list it here."""
    found = await conn.execute(
        text(
            "SELECT c.relname AS name,"
            " ARRAY(SELECT DISTINCT p.relname FROM pg_constraint k"
            "       JOIN pg_class p ON p.oid = k.confrelid"
            "       WHERE k.conrelid = c.oid AND k.contype = 'f' AND p.oid <> c.oid) AS parents"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
            " AND NOT c.relispartition AND a.attname = 'user_id' AND NOT a.attisdropped"
        )
    )
    parents = {str(r.name): set(r.parents) for r in found}
    for table in _NEVER:
        parents.pop(table, None)
    ordered: list[str] = []
    placed: set[str] = set()

    def place(table: str, path: frozenset[str]) -> None:
        if table in placed or table in path:
            return
        # Everything referencing this table goes first.
        for child in sorted(t for t, refs in parents.items() if table in refs):
            place(child, path | {table})
        placed.add(table)
        ordered.append(table)

    rank = {table: i for i, table in enumerate(_ACCOUNT_LAST)}
    for table in sorted(parents, key=lambda t: (rank.get(t, -1), t)):
        place(table, frozenset())
    return ordered


async def delete_all(conn: AsyncConnection, table: str, user_id: int) -> int:
    quoted = '"' + table.replace('"', '""') + '"'
    result = await conn.execute(
        text(f"DELETE FROM {quoted} WHERE user_id = :u"),
        {"u": user_id},
    )
    return int(result.rowcount or 0)


async def delete_user(conn: AsyncConnection, user_id: int) -> int:
    result = await conn.execute(text("DELETE FROM users WHERE id = :u"), {"u": user_id})
    return int(result.rowcount or 0)
