"""Monthly range partitions, created on demand before rows that need them are written.

Creation runs in its own short transaction (serialised per table with an advisory lock), so a
long data transaction never holds the parent's lock. Each table has a default partition as a net:
if a month's partition cannot be created, its rows still land there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = structlog.get_logger(__name__)

Month = tuple[int, int]


def partition_name(table: str, month: Month) -> str:
    return f"{table}_p{month[0]:04d}{month[1]:02d}"


def default_partition_name(table: str) -> str:
    return f"{table}_default"


def month_bounds(month: Month) -> tuple[datetime, datetime]:
    year, mon = month
    start = datetime(year, mon, 1, tzinfo=UTC)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start, end


def is_partition_of(name: str, parents: Iterable[str]) -> bool:
    for parent in parents:
        if name.startswith(parent + "_"):
            suffix = name[len(parent) + 1 :]
            if suffix == "default" or (
                len(suffix) == 7 and suffix[0] == "p" and suffix[1:].isdigit()
            ):
                return True
    return False


class PartitionManager:
    """Remembers which partitions exist so the hot path asks the catalog once per month."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._known: set[tuple[str, Month]] = set()

    def forget(self) -> None:
        self._known.clear()

    async def ensure(self, table: str, months: Iterable[Month]) -> None:
        missing = sorted({m for m in months if (table, m) not in self._known})
        if not missing:
            return
        async with self._engine.connect() as conn:
            existing = set(
                (
                    await conn.execute(
                        text(
                            "SELECT c.relname FROM pg_inherits i "
                            "JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = CAST(:parent AS regclass)"
                        ),
                        {"parent": table},
                    )
                ).scalars()
            )
            await conn.rollback()
            for month in missing:
                name = partition_name(table, month)
                if name not in existing:
                    await self._create(conn, table, month)
                self._known.add((table, month))

    async def _create(self, conn: AsyncConnection, table: str, month: Month) -> None:
        name = partition_name(table, month)
        start, end = month_bounds(month)
        try:
            async with conn.begin():
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": "partition:" + table}
                )
                await conn.execute(
                    text(
                        f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}" '
                        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                    )
                )
            log.info("partition.created", table=table, partition=name)
        except DBAPIError as exc:
            # Rows already in the default partition for this month block the split; they are
            # safe there, and an operator can move them (see README, partition maintenance).
            log.warning("partition.create_failed", table=table, partition=name, error=str(exc.orig))
