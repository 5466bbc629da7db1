"""The metric type catalogue (shared by all users: a name's id, never a user's data)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def metric_type_ids(
    conn: AsyncConnection, names: Sequence[tuple[str, bool]]
) -> dict[str, int]:
    """Ids for metric names, registering the ones never seen before."""
    if not names:
        return {}
    await conn.execute(
        text(
            "INSERT INTO metric_types (name, known) "
            "SELECT * FROM unnest(CAST(:names AS text[]), CAST(:known AS boolean[])) "
            "ON CONFLICT (name) DO UPDATE SET known = excluded.known "
            "WHERE metric_types.known IS DISTINCT FROM excluded.known"
        ),
        {"names": [n for n, _ in names], "known": [k for _, k in names]},
    )
    found = await conn.execute(
        text("SELECT name, id FROM metric_types WHERE name = ANY(CAST(:names AS text[]))"),
        {"names": [n for n, _ in names]},
    )
    return {name: id_ for name, id_ in found}
