"""Write units: one series or section as a transaction strategy writes it, with its
bookkeeping (quality flags, series digests, the report's counts and freshness)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.normalise.common import Context
from app.ingest.report.builder import ReportBuilder
from app.ingest.repository import digests
from app.ingest.repository.tables import time_range
from app.ingest.types import (
    Normalised,
    PendingDigest,
    Rows,
    SeriesDone,
    SeriesWrite,
    UpsertResult,
    Workout,
    WorkoutsDone,
    WriteUnit,
)
from app.ingest.write import series
from app.ingest.write import workouts as workout_writer
from app.quality import repository as quality


def unit_for(normalised: Normalised, ctx: Context, report: ReportBuilder) -> WriteUnit:
    """The unit that writes what a section's normaliser produced."""
    if isinstance(normalised, SeriesWrite):
        return SeriesUnit(
            normalised.section,
            normalised.name,
            normalised.parts,
            ctx,
            report,
            normalised.done,
            normalised.digest,
        )
    return WorkoutsUnit(normalised.items, ctx, normalised.done)


@dataclass(slots=True)
class SeriesUnit:
    """A metric series or an event section: rows for time-series tables."""

    section: str
    name: str | None
    parts: list[Rows]
    ctx: Context
    report: ReportBuilder
    done: SeriesDone
    digest: PendingDigest | None = None
    results: list[UpsertResult] = field(default_factory=list)

    @property
    def probes(self) -> list[Rows]:
        return self.parts

    @property
    def label(self) -> str:
        return f"{self.section}:{self.name}" if self.name else self.section

    async def write(
        self, conn: AsyncConnection, held: frozenset[str], empty: dict[int, bool]
    ) -> list[str]:
        results = [
            await series.upsert(conn, part, held=held, empty=empty.get(id(part)))
            for part in self.parts
        ]
        # Taken after the upserts: a streamed series is normalised during its COPY.
        flagged = await record_flags(conn, self.ctx)
        for part, result in zip(self.parts, results, strict=True):
            if result.updated:  # rows changed: digests that vouched for them are void
                first, last = time_range(part)
                await digests.invalidate(
                    conn, part.table, self.ctx.user_id, first_at=first, last_at=last
                )
        if self.digest is not None and len(self.parts) == 1 and not self.digest.errors:
            await _record_digest(conn, self.ctx.user_id, self.digest, self.parts[0], results[0])
        self.results = results
        return flagged

    def settle(self) -> None:
        newest = newest_point(self.parts)
        release(self.parts)
        if newest is not None:
            kind = "metric" if self.section == "metrics" else "section"
            self.report.freshness.append((kind, self.name or self.section, newest))
        self.done(self.results)

    def failed(self) -> None:
        self.ctx.flags = []
        release(self.parts)
        self.done(None)


@dataclass(slots=True)
class WorkoutsUnit:
    """The workouts section: workouts with their series and routes."""

    items: list[Workout]
    ctx: Context
    done: WorkoutsDone
    counts: tuple[int, int] = (0, 0)  # (inserted, changed), once written

    @property
    def parts(self) -> list[Rows]:
        return workout_writer.tables(self.items)

    @property
    def probes(self) -> list[Rows]:
        return []  # workouts are merged by their natural key, never copied straight in

    @property
    def label(self) -> str:
        return "workouts"

    async def write(
        self, conn: AsyncConnection, held: frozenset[str], empty: dict[int, bool]
    ) -> list[str]:
        self.counts = await workout_writer.write(conn, self.ctx.user_id, self.items, held)
        return await record_flags(conn, self.ctx)

    def settle(self) -> None:
        self.done(self.counts)

    def failed(self) -> None:
        self.ctx.flags = []
        self.done(None)


async def record_flags(conn: AsyncConnection, ctx: Context) -> list[str]:
    """Store the improbable values noted so far; the metrics newly flagged."""
    flags, ctx.flags = ctx.flags, []
    return await quality.record_flags(conn, ctx.user_id, ctx.ingestion_id, flags)


async def _record_digest(
    conn: AsyncConnection, user_id: int, digest: PendingDigest, part: Rows, result: UpsertResult
) -> None:
    first, last = time_range(part)
    if first is None or last is None or part.table != digest.candidate.table:
        return
    await digests.record(
        conn,
        user_id,
        digest.candidate,
        first_at=first,
        last_at=last,
        received=digest.received,
        stored=result.inserted if result.direct else None,
    )


def release(parts: list[Rows]) -> None:
    """Drop the rows and the stream's closure (which holds the decoded points and refers back
    to its Rows: a cycle only the slow collector would find), so a large series' memory is free
    before the next one is decoded."""
    for part in parts:
        part.stream = None
        part.rows = []


def newest_point(parts: list[Rows]) -> datetime | None:
    """The latest time among the parts' rows (a streamed series: the last it yielded)."""
    newest: datetime | None = None
    for part in parts:
        if part.stream is not None:
            latest = part.last_at
        elif part.rows:
            column = "night_at" if "night_at" in part.columns else "start_at"
            position = part.columns.index(column)
            latest = max(row[position] for row in part.rows)
        else:
            latest = None
        if latest is not None and (newest is None or latest > newest):
            newest = latest
    return newest
