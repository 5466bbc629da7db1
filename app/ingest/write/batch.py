"""Series of one table written together: one COPY (or one staged merge) for many series.

A routine sync carries a handful of series per table, and some bodies carry thousands of tiny
ones (a point per series). Written one by one, each series costs its own round trips; written
together, a table costs the same few statements whatever the number of series.

Series are applied in body order: two series whose keys overlap (the same metric sent twice,
the later one revising the earlier) go to successive waves, so the later one still revises
what the earlier one wrote; series with disjoint keys commute and share a wave.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.repository import digests
from app.ingest.repository.tables import key_prefix, spec, time_range
from app.ingest.types import Rows, UpsertResult, WriteUnit
from app.ingest.write import series
from app.ingest.write.units import SeriesUnit, record_flags


def plan(units: Sequence[WriteUnit]) -> list[WriteUnit]:
    """The units as they are to be written: series of a table grouped into batches (one per
    wave), every other unit on its own, in body order for each table."""
    alone = [u for u in units if not _batchable(u)]
    shared_tables = {part.table for unit in alone for part in unit.parts}
    by_table: dict[str, list[SeriesUnit]] = defaultdict(list)
    for unit in units:
        if isinstance(unit, SeriesUnit) and _batchable(unit):
            table = unit.parts[0].table
            if table in shared_tables:
                alone.append(unit)
            else:
                by_table[table].append(unit)
    alone_ids = {id(u) for u in alone}
    steps: list[WriteUnit] = [u for u in units if id(u) in alone_ids]
    for table, table_units in by_table.items():
        if len(table_units) == 1:
            steps.append(table_units[0])
            continue
        steps += [TableBatch(table, wave) for wave in _waves(table, table_units)]
    return steps


def _batchable(unit: WriteUnit) -> bool:
    if not isinstance(unit, SeriesUnit) or unit.digest is not None or len(unit.parts) != 1:
        return False
    part = unit.parts[0]
    return part.stream is None and bool(part.rows) and spec(part.table).time_column is not None


def _waves(table: str, units: list[SeriesUnit]) -> list[list[SeriesUnit]]:
    """Units in waves: a unit goes after the last wave holding any of its keys."""
    positions = [units[0].parts[0].columns.index(c) for c in spec(table).key]
    waves: list[list[SeriesUnit]] = []
    keys_of_wave: list[set[tuple[Any, ...]]] = []
    for unit in units:
        keys = {tuple(row[i] for i in positions) for row in unit.parts[0].rows}
        after = max(
            (i for i, seen in enumerate(keys_of_wave) if not seen.isdisjoint(keys)), default=-1
        )
        if after + 1 == len(waves):
            waves.append([])
            keys_of_wave.append(set())
        waves[after + 1].append(unit)
        keys_of_wave[after + 1] |= keys
    return waves


@dataclass(slots=True)
class TableBatch:
    """Several series of one table with disjoint keys, written by one COPY or merge."""

    table: str
    units: list[SeriesUnit]
    probes: list[Rows] = field(default_factory=list)

    def __post_init__(self) -> None:
        # One emptiness probe per key prefix (a metric), over the range of its series.
        spans: dict[tuple[Any, ...], list[Rows]] = defaultdict(list)
        for unit in self.units:
            spans[tuple(key_prefix(unit.parts[0]).values())].append(unit.parts[0])
        for parts in spans.values():
            ranges = [time_range(part) for part in parts]
            probe = Rows(self.table, parts[0].columns, [parts[0].rows[0]], unique_keys=True)
            probe.first_at = min(first for first, _ in ranges)
            probe.last_at = max(last for _, last in ranges)
            self.probes.append(probe)

    @property
    def parts(self) -> list[Rows]:
        return [unit.parts[0] for unit in self.units]

    @property
    def label(self) -> str:
        return ", ".join(dict.fromkeys(unit.label for unit in self.units))

    async def write(
        self, conn: AsyncConnection, held: frozenset[str], empty: dict[int, bool]
    ) -> list[str]:
        merged = self._merged()
        direct = merged.unique_keys and all(empty.get(id(p)) for p in self.probes)
        attribute = "metric_id" if "metric_id" in spec(self.table).prefix else None
        result = await series.upsert(conn, merged, returning=attribute, held=held, empty=direct)
        if result.updated:  # rows changed: digests that vouched for them are void
            first, last = time_range(merged)
            await digests.invalidate(
                conn, self.table, self.units[0].ctx.user_id, first_at=first, last_at=last
            )
        self._attribute(result, attribute)
        return await record_flags(conn, self.units[0].ctx)

    def _merged(self) -> Rows:
        parts = self.parts
        merged = Rows(self.table, parts[0].columns)
        for part in parts:
            merged.rows += part.rows
            merged.months |= part.months
        merged.unique_keys = all(part.unique_keys for part in parts)
        ranges = [time_range(part) for part in parts]
        merged.first_at = min(first for first, _ in ranges)
        merged.last_at = max(last for _, last in ranges)
        return merged

    def _attribute(self, result: UpsertResult, attribute: str | None) -> None:
        """Each series' share of what the batch did: per metric exact (the report counts per
        metric), handed to the metric's series in order, none given more than it sent."""
        inserted = _count_by(result.inserted_keys, attribute, result.inserted)
        updated = _count_by(result.updated_keys, attribute, result.updated)
        for unit in self.units:
            part = unit.parts[0]
            metric = part.rows[0][part.columns.index(attribute)] if attribute else None
            sent = len(part.rows)
            took_inserted = min(sent, inserted[metric])
            took_updated = min(sent - took_inserted, updated[metric])
            inserted[metric] -= took_inserted
            updated[metric] -= took_updated
            unit.results = [UpsertResult(sent, took_inserted, took_updated, [], [])]

    def settle(self) -> None:
        for unit in self.units:
            unit.settle()

    def failed(self) -> None:
        for unit in self.units:
            unit.failed()


def _count_by(keys: list[Any], attribute: str | None, total: int) -> defaultdict[Any, int]:
    counts: defaultdict[Any, int] = defaultdict(int)
    if attribute is None:
        counts[None] = total
    else:
        for key in keys:
            counts[key] += 1
    return counts
