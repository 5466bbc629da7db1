"""Monthly range partitions inside a bounded window; anything older lives in the default.

A month gets its own partition only from the table's floor on (the floor is the bound in the
default partition's ``old_rows_only`` CHECK, read by ``hae_partition_floor``); older rows land
in ``<table>_default``. Dates past now + the future tolerance are rejected per point before they
get here, so the months that can ever have a partition run from the floor to that tolerance:
a number set by the clock, not by what users send.

Creation (``hae_ensure_month_partition``) builds the month as a standalone table and ATTACHes
it: SHARE UPDATE EXCLUSIVE on the parent, which concurrent inserts and reads do not wait for;
the default's validated CHECK spares its scan. Each creation runs in its own short transaction
under a short lock_timeout (retried a few times), serialised per table by an advisory lock.
``maintain`` moves the floor with the clock and pre-creates the coming months, so the request
path rarely creates anything.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = structlog.get_logger(__name__)

Month = tuple[int, int]

LOCK_TIMEOUT = "2s"
ATTEMPTS = 3
RETRY_PAUSE_S = 0.2
AHEAD_MONTHS = 3
FLOOR_CONSTRAINT = "old_rows_only"
_NEXT_FLOOR_CONSTRAINT = "old_rows_only_next"

_PARENTS = text(
    "SELECT c.relname AS parent, a.attname AS time_column,"
    " hae_partition_floor(c.relname) AS floor"
    " FROM pg_partitioned_table p"
    " JOIN pg_class c ON c.oid = p.partrelid"
    " JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
    " WHERE c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition"
    " ORDER BY c.relname"
)
_CHILDREN = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " WHERE i.inhparent = CAST(:parent AS regclass)"
)


def partition_name(table: str, month: Month) -> str:
    return f"{table}_p{month[0]:04d}{month[1]:02d}"


def default_partition_name(table: str) -> str:
    return f"{table}_default"


def month_bounds(month: Month) -> tuple[datetime, datetime]:
    year, mon = month
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start, end


def add_months(month: Month, count: int) -> Month:
    index = month[0] * 12 + month[1] - 1 + count
    return index // 12, index % 12 + 1


def window_floor(now: datetime, years: int) -> datetime:
    """The first instant that gets monthly partitions: the start of the month ``years`` back."""
    utc = now.astimezone(UTC)
    return datetime(utc.year - years, utc.month, 1, tzinfo=UTC)


def is_partition_of(name: str, parents: Iterable[str]) -> bool:
    for parent in parents:
        if name.startswith(parent + "_"):
            suffix = name[len(parent) + 1 :]
            if suffix == "default" or (
                len(suffix) == 7 and suffix[0] == "p" and suffix[1:].isdigit()
            ):
                return True
    return False


async def create_month(conn: AsyncConnection, table: str, month: Month) -> bool:
    """Create ``month``'s partition in ``conn``'s transaction (if it is inside the window and
    missing); True when this call created it."""
    await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    created = await conn.scalar(
        text("SELECT hae_ensure_month_partition(:table, :at)"),
        {"table": table, "at": month_bounds(month)[0]},
    )
    return bool(created)


class PartitionManager:
    """Remembers which partitions exist so the hot path asks the catalog once per month."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._known: set[tuple[str, Month]] = set()
        # Set by maintain(): a process that runs into a new month maintains again, so the
        # coming months stay created ahead however long it runs.
        self._window_years: int | None = None
        self._maintained_in: Month | None = None

    def forget(self) -> None:
        self._known.clear()

    async def ensure(self, table: str, months: Iterable[Month]) -> None:
        """Make sure each month inside the window has its partition (older ones need none)."""
        missing = sorted({m for m in months if (table, m) not in self._known})
        if not missing:
            return
        now = datetime.now(UTC)
        if self._window_years is not None and self._maintained_in != (now.year, now.month):
            await self.maintain(self._window_years, now=now)
            missing = sorted({m for m in missing if (table, m) not in self._known})
        async with self._engine.connect() as conn:
            existing = set((await conn.execute(_CHILDREN, {"parent": table})).scalars())
            # Read each time: maintenance may have moved the floor since.
            floor = await conn.scalar(text("SELECT hae_partition_floor(:t)"), {"t": table})
            await conn.rollback()
            for month in missing:
                if floor is not None and month_bounds(month)[0] < floor:
                    continue  # the default partition holds months before the floor
                if partition_name(table, month) in existing or await self._create(
                    conn, table, month
                ):
                    self._known.add((table, month))

    async def _create(self, conn: AsyncConnection, table: str, month: Month) -> bool:
        """False when every attempt failed: the month is then tried again by the next body."""
        name = partition_name(table, month)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with conn.begin():
                    created = await create_month(conn, table, month)
            except DBAPIError as exc:
                # A lock held elsewhere past the timeout: step out of the queue, try again.
                log.warning(
                    "partition.create_failed",
                    table=table,
                    partition=name,
                    attempt=attempt,
                    error=str(exc.orig),
                )
                await asyncio.sleep(RETRY_PAUSE_S * attempt)
                continue
            if created:
                log.info("partition.created", table=table, partition=name)
            return True
        # The rows of this month then fail to store (the default refuses them) and the body
        # is retried later, as after any storage error.
        return False

    async def maintain(self, window_years: int, *, now: datetime | None = None) -> None:
        """Move every table's floor to ``window_years`` back; create the last month and the coming
        ones."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        floor = window_floor(moment, window_years)
        this_month = (moment.year, moment.month)
        self._window_years, self._maintained_in = window_years, this_month
        # The month just ended too: its last days are still being synced at a month's start.
        coming = [add_months(this_month, n) for n in range(-1, AHEAD_MONTHS + 1)]
        async with self._engine.connect() as conn:
            # One mover at a time (replicas start together); the others leave the floor be.
            if await conn.scalar(text("SELECT pg_try_advisory_lock(hashtext('partition-floor'))")):
                try:
                    parents = (await conn.execute(_PARENTS)).all()
                    await conn.rollback()
                    for parent in parents:
                        if parent.floor is not None and parent.floor != floor:
                            await _move_floor(conn, parent.parent, parent.time_column, floor)
                finally:
                    await conn.rollback()  # a failed statement must not keep the lock held
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(hashtext('partition-floor'))")
                    )
                    await conn.commit()
            parents = (await conn.execute(_PARENTS)).all()
            await conn.rollback()
        for parent in parents:
            await self.ensure(parent.parent, coming)
        log.info("partition.maintained", tables=len(parents), floor=floor.isoformat())


async def _move_floor(conn: AsyncConnection, table: str, column: str, floor: datetime) -> None:
    """Replace the default's CHECK (column < old floor) by (column < ``floor``).

    The new constraint is added NOT VALID and validated apart (SHARE UPDATE EXCLUSIVE, so
    writers go on during the scan) before the old one goes; while both exist the tighter one
    is the floor. A floor moved back over rows the default holds fails validation and stays.
    """
    default = default_partition_name(table)
    check = f"""CHECK ("{column}" < '{floor.isoformat()}') NOT VALID"""
    try:
        await _alter_default(
            conn,
            table,
            f"DROP CONSTRAINT IF EXISTS {_NEXT_FLOOR_CONSTRAINT}",
            f"ADD CONSTRAINT {_NEXT_FLOOR_CONSTRAINT} {check}",
        )
        await _alter_default(conn, table, f"VALIDATE CONSTRAINT {_NEXT_FLOOR_CONSTRAINT}")
        await _alter_default(
            conn,
            table,
            f"DROP CONSTRAINT IF EXISTS {FLOOR_CONSTRAINT}",
            f"RENAME CONSTRAINT {_NEXT_FLOOR_CONSTRAINT} TO {FLOOR_CONSTRAINT}",
        )
    except DBAPIError as exc:
        log.warning("partition.floor_kept", table=table, error=str(exc.orig))
        with contextlib.suppress(DBAPIError):
            async with conn.begin():
                await conn.execute(
                    text(
                        f'ALTER TABLE "{default}" DROP CONSTRAINT IF EXISTS'
                        f" {_NEXT_FLOOR_CONSTRAINT}"
                    )
                )
        return
    log.info("partition.floor_moved", table=table, floor=floor.isoformat())


async def _alter_default(conn: AsyncConnection, table: str, *changes: str) -> None:
    """``changes`` to ``table``'s default partition, one transaction under the table's lock."""
    default = default_partition_name(table)
    async with conn.begin():
        await _locked(conn, table)
        for change in changes:
            await conn.execute(text(f'ALTER TABLE "{default}" {change}'))


async def _locked(conn: AsyncConnection, table: str) -> None:
    await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": "partition:" + table}
    )
