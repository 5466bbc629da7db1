"""Per-user writer locks: one user's writers of a table are serialised (the classify-then-write
merge is exact under them); other users never wait on them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import driver_connection
from app.erase.repository import LOCK_ORDER

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")
_LOCK_IN_ORDER = (
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
    " FROM (SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n) AS ordered"
)


def writer_key(table: str, user_id: int) -> str:
    return f"{table}:{user_id}"


async def lock_writers(
    conn: AsyncConnection, table: str, user_id: int, held: frozenset[str]
) -> None:
    """This transaction's writer lock on ``table`` for ``user_id``, unless already ``held``."""
    key = writer_key(table, user_id)
    if key not in held:
        await conn.execute(_LOCK, {"k": key})


def _lock_rank(table: str) -> tuple[int, str]:
    """Every writer that holds several of these locks takes them in this one order: erasure
    (all of them), a series-by-series workouts write (workouts, series, routes), a small body."""
    try:
        return (LOCK_ORDER.index(table), table)
    except ValueError:
        return (len(LOCK_ORDER), table)


async def lock_tables(conn: AsyncConnection, user_id: int, tables: Iterable[str]) -> frozenset[str]:
    """Take the writer locks of several tables in one statement, in the one order every writer
    uses (so transactions taking overlapping sets cannot deadlock); the keys now held."""
    keys = [writer_key(table, user_id) for table in sorted(set(tables), key=_lock_rank)]
    if keys:
        await (await driver_connection(conn)).fetchval(_LOCK_IN_ORDER, keys)
    return frozenset(keys)
