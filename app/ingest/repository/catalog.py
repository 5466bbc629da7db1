"""The metric type catalogue, shared by all users (a name and its id, never a user's data),
and each account's admitted unknown names, which bound what one account can add to it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import driver_connection

# Only names not yet present reach the INSERT, so a name already registered never draws (burns)
# a value from the id sequence; a concurrent first registration of the same name burns one.
_REGISTER = (
    "INSERT INTO metric_types (name, known)"
    " SELECT u.name, u.known FROM unnest($1::text[], $2::boolean[]) AS u(name, known)"
    " WHERE NOT EXISTS (SELECT 1 FROM metric_types m WHERE m.name = u.name)"
    " ON CONFLICT (name) DO NOTHING"
)
# A name that gained a typed mapping in this version of the code.
_NOW_KNOWN = "UPDATE metric_types SET known = true WHERE name = ANY($1::text[]) AND NOT known"
_IDS = "SELECT name, id FROM metric_types WHERE name = ANY($1::text[])"


async def metric_type_ids(
    conn: AsyncConnection, names: Sequence[tuple[str, bool]]
) -> dict[str, int]:
    """Ids for metric names, registering the ones never seen before."""
    if not names:
        return {}
    driver = await driver_connection(conn)
    all_names = [n for n, _ in names]
    await driver.execute(_REGISTER, all_names, [k for _, k in names])
    known = [n for n, k in names if k]
    if known:
        await driver.execute(_NOW_KNOWN, known)
    return {row["name"]: row["id"] for row in await driver.fetch(_IDS, all_names)}


# One account's admissions are serialised (the count and the insert must agree), then: the
# names it already has, plus new ones in the order given while its count is under the cap.
_LOCK_USER = (
    "SELECT pg_advisory_xact_lock(hashtextextended('unknown-metrics:' || ($1::bigint)::text, 0))"
)
_ADMIT = (
    "WITH have AS (SELECT count(*) AS n FROM user_unknown_metrics WHERE user_id = $1),"
    " fresh AS (SELECT u.name, u.n FROM unnest($2::text[]) WITH ORDINALITY AS u(name, n)"
    " WHERE NOT EXISTS (SELECT 1 FROM user_unknown_metrics x"
    " WHERE x.user_id = $1 AND x.name = u.name)),"
    " added AS (INSERT INTO user_unknown_metrics (user_id, name)"
    " SELECT $1, name FROM fresh ORDER BY n LIMIT greatest(0, $3 - (SELECT n FROM have))"
    " ON CONFLICT DO NOTHING RETURNING name)"
    " SELECT name FROM added"
    " UNION ALL SELECT name FROM user_unknown_metrics WHERE user_id = $1 AND name = ANY($2::text[])"
)


async def admit_unknown(
    conn: AsyncConnection, user_id: int, names: Sequence[str], cap: int
) -> set[str]:
    """Which of these unknown metric names the account may store: those it stored before, and
    new ones while it holds fewer than ``cap`` (in the caller's transaction)."""
    if not names:
        return set()
    driver = await driver_connection(conn)
    await driver.execute(_LOCK_USER, user_id)
    return {row["name"] for row in await driver.fetch(_ADMIT, user_id, list(names), cap)}
