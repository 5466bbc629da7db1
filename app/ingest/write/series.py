"""The writer of the time-series tables: choose a straight COPY or a staged merge per series.

- Nothing of the series stored in its time range and no key repeated: COPY straight into the
  table (COPY speed, no staging, no merge).
- A large streamed series extending what is stored: merge the part it shares, COPY the rest.
- Otherwise: stage with COPY and merge (new rows inserted, changed ones updated, the rest left).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.repository import locks, series
from app.ingest.repository.tables import key_prefix, spec, time_range, user_of
from app.ingest.types import OutOfHint, Rows, UpsertResult

_ANALYZE_FROM_ROWS = 1000  # a staged batch this large gets statistics before the merge


async def upsert(
    conn: AsyncConnection,
    rows: Rows,
    *,
    returning: str | None = None,
    held: frozenset[str] = frozenset(),
    empty: bool | None = None,
) -> UpsertResult:
    """Merge ``rows`` into their table inside the caller's transaction (``held``: writer locks
    this transaction already holds; ``empty``: whether nothing of the series is stored in its
    range, when already known from ``repository.series.empty_ranges``)."""
    if rows.stream is not None:
        return await _upsert_stream(conn, rows, held)
    if not rows.rows:
        return UpsertResult(0, 0, 0, [], [])
    await locks.lock_writers(conn, rows.table, user_of(rows), held)
    first_at, last_at = time_range(rows)
    if rows.unique_keys and first_at is not None:
        if empty is None:
            empty = not await series.any_stored(conn, rows, first_at, last_at)
        if empty:
            await series.copy_into(conn, rows.table, rows.columns, rows.rows)
            keys = [row[rows.columns.index(returning)] for row in rows.rows] if returning else []
            return UpsertResult(len(rows.rows), len(rows.rows), 0, keys, [], direct=True)
    analyze = len(rows.rows) >= _ANALYZE_FROM_ROWS
    await series.stage(conn, rows.table, rows.columns, rows.rows, analyze=analyze)
    inserted, updated = await series.merge(conn, rows, first_at, last_at, returning=returning)
    return UpsertResult(len(rows.rows), len(inserted), len(updated), inserted, updated)


async def _upsert_stream(conn: AsyncConnection, rows: Rows, held: frozenset[str]) -> UpsertResult:
    """A large series: rows are normalised while COPY sends them, so Python and PostgreSQL work
    at the same time and the rows are never all in memory."""
    await locks.lock_writers(conn, rows.table, user_of(rows), held)
    if rows.hint is not None:
        stored_until = await series.newest_stored(conn, rows.table, key_prefix(rows), *rows.hint)
        if stored_until is None or stored_until < rows.hint[1]:
            written = await _try_split_write(conn, rows, stored_until)
            if written is not None:
                return written
    return await _merge_stream(conn, rows)


async def _try_split_write(
    conn: AsyncConnection, rows: Rows, stored_until: datetime | None
) -> UpsertResult | None:
    """Nothing stored in the claimed range after ``stored_until``: the rows up to it are merged,
    the rest go straight into the table (its months' partitions exist). A backfill into an
    empty range is all straight in; a re-sync that extends what is stored merges only the part
    it shares. A row that breaks the claim (out of range, not after the one before) undoes the
    attempt (None), and the whole series goes the merge way."""
    rows.strict = True
    try:
        async with conn.begin_nested():
            return await _split_write(conn, rows, stored_until)
    except OutOfHint:
        return None
    finally:
        rows.strict = False


async def _merge_stream(conn: AsyncConnection, rows: Rows) -> UpsertResult:
    """Stage the whole stream and merge it."""
    assert rows.stream is not None  # noqa: S101 - only called for streamed series
    await series.stage(conn, rows.table, rows.columns, rows.stream(), analyze=False)
    if not rows.count:
        await series.drop_stage(conn, rows.table)
        return UpsertResult(0, 0, 0, [], [])
    # Months the claim did not cover: created here, in this transaction.
    await series.ensure_months(conn, rows.table, rows.months)
    await series.analyze_stage(conn, rows.table)
    inserted, updated = await series.merge(conn, rows, rows.first_at, rows.last_at)
    return UpsertResult(rows.count, len(inserted), len(updated), [], [])


async def _split_write(
    conn: AsyncConnection, rows: Rows, stored_until: datetime | None
) -> UpsertResult:
    """Merge the (strictly ordered) rows up to ``stored_until``, COPY the rest into the table."""
    assert rows.stream is not None  # noqa: S101
    assert rows.hint is not None  # noqa: S101
    stream = rows.stream()
    if stored_until is None:
        await series.copy_into(conn, rows.table, rows.columns, stream)
        return UpsertResult(rows.count, rows.count, 0, [], [], direct=True)
    position = rows.columns.index(str(spec(rows.table).time_column))
    first_new: list[tuple[Any, ...]] = []
    shared = [0]

    def up_to_stored() -> Iterator[tuple[Any, ...]]:
        for row in stream:
            if row[position] > stored_until:
                first_new.append(row)  # strictly ordered: every row from here on is new
                return
            shared[0] += 1
            yield row

    await series.stage(conn, rows.table, rows.columns, up_to_stored(), analyze=False)
    inserted = updated = 0
    if shared[0]:
        await series.analyze_stage(conn, rows.table)
        # Strictly ordered: keys unique.
        merged = await series.merge(conn, rows, rows.hint[0], stored_until, dedupe=False)
        inserted, updated = len(merged[0]), len(merged[1])
    else:
        await series.drop_stage(conn, rows.table)
    await series.copy_into(conn, rows.table, rows.columns, chain(first_new, stream))
    return UpsertResult(rows.count, inserted + rows.count - shared[0], updated, [], [])
