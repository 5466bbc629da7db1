"""SQL of workouts beyond the generic merge: their ids, and series points a re-send dropped."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.types import Rows


async def workout_ids(
    conn: AsyncConnection, user_id: int, natural_keys: list[str]
) -> dict[str, Any]:
    found = await conn.execute(
        text(
            "SELECT natural_key, id FROM workouts "
            "WHERE user_id = :user_id AND natural_key = ANY(CAST(:keys AS text[]))"
        ),
        {"user_id": user_id, "keys": natural_keys},
    )
    return {key: id_ for key, id_ in found}


async def remove_stale_series(conn: AsyncConnection, user_id: int, series: Rows) -> list[Any]:
    """Delete points of the (workout, series) pairs in ``series`` that it no longer contains.

    A series the new version does not carry at all is kept: the app omits series when "include
    workout metrics" is off, which is no reason to forget them.
    """
    if not series.rows:
        return []
    pick = [series.columns.index(c) for c in ("workout_id", "series", "start_at", "source")]
    w, s, at, src = ([row[i] for row in series.rows] for i in pick)
    removed = await conn.execute(
        text(
            "WITH k AS (SELECT * FROM unnest(CAST(:w AS uuid[]), CAST(:s AS text[]),"
            " CAST(:at AS timestamptz[]), CAST(:src AS text[])) AS k(workout_id, series, start_at, source))"
            " DELETE FROM workout_series t"
            " WHERE t.user_id = :user_id AND t.workout_id = ANY(CAST(:workout_ids AS uuid[]))"
            " AND (t.workout_id, t.series) IN (SELECT DISTINCT workout_id, series FROM k)"
            " AND NOT EXISTS (SELECT 1 FROM k WHERE k.workout_id = t.workout_id"
            " AND k.series = t.series AND k.start_at = t.start_at AND k.source IS NOT DISTINCT FROM t.source)"
            " RETURNING t.workout_id"
        ),
        {"user_id": user_id, "workout_ids": sorted(set(w)), "w": w, "s": s, "at": at, "src": src},
    )
    return sorted(set(removed.scalars()))
