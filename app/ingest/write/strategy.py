"""How a body's writes are grouped into transactions.

- ``OneTransaction`` (a small body, a routine sync): every unit is normalised first, then all
  are written in one transaction together with the outcome: a few round trips, one commit.
  If that transaction fails for any storage reason nothing of it is kept (``Fallback``).
- ``PerSeries`` (a large body, or a small one whose single transaction failed): each unit in
  its own transaction as soon as it is normalised (bounded memory and lock time), so a storage
  failure costs only its own series; the outcome is recorded in a last transaction.

The service runs an attempt through one strategy: ``add`` each unit, then ``commit`` with the
function that records the outcome in the last (or only) transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.errors import STORAGE_ERRORS
from app.db.partitions import Month, PartitionManager
from app.ingest.report import counting
from app.ingest.report.builder import ReportBuilder
from app.ingest.repository import locks
from app.ingest.repository.series import empty_ranges
from app.ingest.types import WriteUnit
from app.ingest.write import batch

log = structlog.get_logger(__name__)

# Records the outcome (report, freshness, audit) in the given transaction; returns the report.
RecordOutcome = Callable[[AsyncConnection], Awaitable[dict[str, Any]]]


class Fallback(Exception):
    """The single transaction cannot be used for this body: write it series by series."""


class Strategy(Protocol):
    async def add(self, unit: WriteUnit) -> None:
        """A unit, normalised: written now or kept for the commit."""

    async def commit(self, record_outcome: RecordOutcome) -> tuple[dict[str, Any], list[str]]:
        """Write what is pending and the outcome: (the report, metrics newly flagged)."""


class OneTransaction:
    def __init__(self, engine: AsyncEngine, partitions: PartitionManager, user_id: int) -> None:
        self._engine = engine
        self._partitions = partitions
        self._user_id = user_id
        self._units: list[WriteUnit] = []

    async def add(self, unit: WriteUnit) -> None:
        if any(part.stream is not None for part in unit.parts):
            raise Fallback("a streamed series")
        self._units.append(unit)

    async def commit(self, record_outcome: RecordOutcome) -> tuple[dict[str, Any], list[str]]:
        steps = batch.plan(self._units)
        months: dict[str, set[Month]] = {}
        for step in steps:
            for part in step.parts:
                months.setdefault(part.table, set()).update(part.months)
        for table, table_months in months.items():
            await self._partitions.ensure(table, table_months)
        flagged: list[str] = []
        try:
            async with self._engine.begin() as conn:
                # Every table this body writes, locked at once in one order: two bodies of one
                # user cannot deadlock, and no series pays a round trip for its lock.
                held = await locks.lock_tables(conn, self._user_id, months)
                # Which series meet nothing stored (and go straight in by COPY): one probe.
                empty = await empty_ranges(conn, [p for step in steps for p in step.probes])
                for step in steps:
                    flagged += await step.write(conn, held, empty)
                    step.settle()
                result = await record_outcome(conn)
        except STORAGE_ERRORS as exc:
            raise Fallback(type(exc).__name__) from exc
        return result, flagged


class PerSeries:
    def __init__(
        self, engine: AsyncEngine, partitions: PartitionManager, report: ReportBuilder
    ) -> None:
        self._engine = engine
        self._partitions = partitions
        self._report = report

    async def add(self, unit: WriteUnit) -> None:
        for part in unit.parts:
            await self._partitions.ensure(part.table, part.months)
        try:
            async with self._engine.begin() as conn:
                flagged = await unit.write(conn, frozenset(), {})
        except STORAGE_ERRORS as exc:
            log.error("ingest.write_failed", unit=unit.label, error_type=type(exc).__name__)
            self._report.failed.append(f"{unit.label}: storage error ({type(exc).__name__})")
            unit.failed()
            return
        counting.count_flags(flagged)
        unit.settle()

    async def commit(self, record_outcome: RecordOutcome) -> tuple[dict[str, Any], list[str]]:
        async with self._engine.begin() as conn:
            return await record_outcome(conn), []
