"""Series digests: a large metric series sent again byte for byte is answered from its digest.

Health Auto Export re-sends whole series on every sync and on every retry, so most of a large
body is usually data already stored. A series of at least ``MIN_BYTES`` is hashed as sent (its
whole JSON object: name, units, points); after it has been written with no point rejected, the
digest is recorded with the series' time range and the number of rows stored for its key prefix
in that range. When the same digest arrives again, that count is taken afresh and, if it still
matches, the series is reported unchanged without being decoded, normalised or merged.

Why that is exact: a digest row asserts that every row the series normalises to is stored with
the values it carries. Only an update or a delete of such a row can falsify it. Inserts of other
keys (another source, newer points) cannot. So every writer that updates or deletes rows of a
digested table removes the digests overlapping what it touched, in its own transaction, and the
re-count catches deletions made behind the application's back. Normalising code that changes
what a series maps to must bump ``VERSION`` (replays after a mapping fix bypass digests anyway).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.repository.tables import spec
from app.ingest.types import DigestCandidate as Candidate

VERSION = b"hae-series-digest/2\n"  # 2: localised labels stored canonical
MIN_BYTES = 256 * 1024  # ~2,500 points: below this a merge costs less than bookkeeping
# Tables whose rows a metric series maps to one-to-one (sleep splits into two tables).
TABLES = frozenset(
    {
        "quantity_metrics",
        "activity_metrics",
        "heart_rate_metrics",
        "blood_pressure_metrics",
        "blood_glucose_metrics",
        "insulin_metrics",
        "hygiene_events",
        "sexual_activity_metrics",
    }
)


@dataclass(frozen=True, slots=True)
class Known:
    received: int
    last_at: datetime


def digest_of(series_json: bytes | memoryview) -> bytes:
    digest = hashlib.sha256(VERSION)
    digest.update(series_json)  # a view into the body: no copy
    return digest.digest()


def _prefix_where(table: str) -> str:
    s = spec(table)
    where = ["user_id = :user_id"]
    if "metric_id" in s.prefix:
        where.append("metric_id = :series_id")
    where.append(f"{s.time_column} >= :first_at AND {s.time_column} <= :last_at")
    return " AND ".join(where)


async def _count(
    conn: AsyncConnection, table: str, user_id: int, series_id: int, first: Any, last: Any
) -> int:
    if table not in TABLES:
        raise ValueError(f"no digests for {table!r}")
    found = await conn.execute(
        text(f"SELECT count(*) FROM {table} WHERE {_prefix_where(table)}"),
        {"user_id": user_id, "series_id": series_id, "first_at": first, "last_at": last},
    )
    return int(found.scalar_one())


async def known(
    conn: AsyncConnection, user_id: int, candidates: list[Candidate]
) -> dict[bytes, Known]:
    """The candidates applied before whose stored rows are all still there."""
    if not candidates:
        return {}
    by_digest = {c.digest: c for c in candidates}
    found = await conn.execute(
        text(
            "SELECT digest, table_name, series_id, first_at, last_at, received, stored"
            " FROM series_digests WHERE user_id = :user_id"
            " AND digest = ANY(CAST(:digests AS bytea[]))"
        ),
        {"user_id": user_id, "digests": list(by_digest)},
    )
    hits: dict[bytes, Known] = {}
    for row in found.all():
        candidate = by_digest[bytes(row.digest)]
        if (row.table_name, row.series_id) != (candidate.table, candidate.series_id):
            continue  # the same bytes now map elsewhere (a catalog change): not a hit
        stored = await _count(
            conn, row.table_name, user_id, row.series_id, row.first_at, row.last_at
        )
        if stored == row.stored:
            hits[candidate.digest] = Known(row.received, row.last_at)
    return hits


async def record(
    conn: AsyncConnection,
    user_id: int,
    candidate: Candidate,
    *,
    first_at: datetime,
    last_at: datetime,
    received: int,
    stored: int | None = None,
) -> None:
    """Note a series just written in full (inside the writing transaction, under its lock).

    ``stored`` may be given when known without counting (a direct COPY into an empty range).
    Older digests of the same series overlapping this range are superseded and dropped, which
    keeps the table at about one row per distinct large series.
    """
    if stored is None:
        stored = await _count(
            conn, candidate.table, user_id, candidate.series_id, first_at, last_at
        )
    params = {
        "user_id": user_id,
        "digest": candidate.digest,
        "table_name": candidate.table,
        "series_id": candidate.series_id,
        "first_at": first_at,
        "last_at": last_at,
        "received": received,
        "stored": stored,
    }
    await conn.execute(
        text(
            "DELETE FROM series_digests WHERE user_id = :user_id AND table_name = :table_name"
            " AND series_id = :series_id AND first_at <= :last_at AND last_at >= :first_at"
        ),
        params,
    )
    await conn.execute(
        text(
            "INSERT INTO series_digests"
            " (user_id, digest, table_name, series_id, first_at, last_at, received, stored)"
            " VALUES (:user_id, :digest, :table_name, :series_id, :first_at, :last_at,"
            " :received, :stored)"
            " ON CONFLICT (user_id, digest) DO UPDATE SET table_name = excluded.table_name,"
            " series_id = excluded.series_id, first_at = excluded.first_at,"
            " last_at = excluded.last_at, received = excluded.received, stored = excluded.stored,"
            " created_at = now()"
        ),
        params,
    )


async def invalidate(
    conn: AsyncConnection,
    table: str,
    user_id: int,
    *,
    series_id: int | None = None,
    first_at: datetime | None = None,
    last_at: datetime | None = None,
) -> None:
    """Forget digests a write may have falsified: of this table (and series) overlapping the
    range, or all of the table's when no range is given."""
    if table not in TABLES:
        return
    where = ["user_id = :user_id", "table_name = :table_name"]
    if series_id is not None:
        where.append("series_id = :series_id")
    if first_at is not None and last_at is not None:
        where.append("first_at <= :last_at AND last_at >= :first_at")
    await conn.execute(
        text(f"DELETE FROM series_digests WHERE {' AND '.join(where)}"),
        {
            "user_id": user_id,
            "table_name": table,
            "series_id": series_id,
            "first_at": first_at,
            "last_at": last_at,
        },
    )
