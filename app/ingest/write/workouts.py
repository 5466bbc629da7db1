"""The writer of workouts, with their series and routes (one table family, three tables)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.normalise import workouts
from app.ingest.repository import workouts as workout_sql
from app.ingest.types import Rows, Workout
from app.ingest.write import series


def tables(items: list[Workout]) -> list[Rows]:
    """The (empty) parts a workouts write touches: for locks and partitions ahead of it."""
    return [
        Rows("workouts", workouts.WORKOUT_COLUMNS),
        Rows("workout_series", workouts.SERIES_COLUMNS, months=_series_months(items)),
        Rows("workout_routes", workouts.ROUTE_COLUMNS),
    ]


def _series_months(items: list[Workout]) -> set[tuple[int, int]]:
    return set().union(*(w.series_months for w in items))


async def write(
    conn: AsyncConnection, user_id: int, items: list[Workout], held: frozenset[str]
) -> tuple[int, int]:
    """Workouts with their series and routes, in the caller's transaction: (workouts inserted,
    workouts changed: a workout counts as changed when any of its series or route did)."""
    head = Rows("workouts", workouts.WORKOUT_COLUMNS, [w.row for w in items])
    result = await series.upsert(conn, head, returning="natural_key", held=held)
    ids = await workout_sql.workout_ids(conn, user_id, [w.natural_key for w in items])
    owner, parts = _children(items, ids)
    touched: set[str] = set()
    for part in parts:
        written = await series.upsert(conn, part, returning="workout_id", held=held)
        touched.update(owner[k] for k in written.inserted_keys + written.updated_keys)
    # A re-sent workout replaces its series: points it no longer carries (the app's
    # recovery-in-heartRateData bug, a changed grouping) must not linger.
    removed = await workout_sql.remove_stale_series(conn, user_id, parts[0])
    touched.update(owner[k] for k in removed)
    new = set(result.inserted_keys)
    changed = (set(result.updated_keys) | touched) - new
    return len(new), len(changed)


def _children(
    items: list[Workout], ids: dict[str, Any]
) -> tuple[dict[Any, str], tuple[Rows, Rows]]:
    """(workout id -> natural key, (series rows, route rows)) with the stored workout ids."""
    series_rows = Rows("workout_series", workouts.SERIES_COLUMNS, months=_series_months(items))
    routes = Rows("workout_routes", workouts.ROUTE_COLUMNS)
    owner: dict[Any, str] = {}
    for w in items:
        workout_id = ids[w.natural_key]
        owner[workout_id] = w.natural_key
        series_rows.rows.extend((r[0], workout_id, *r[2:]) for r in w.series)
        if w.route is not None:
            routes.rows.append((workout_id, *w.route[1:]))
    return owner, (series_rows, routes)
