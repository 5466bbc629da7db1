"""Export: a user's data as one Health Auto Export JSON document, streamed in bounded memory.

The document is ``{"data": {"metrics": [...], "workouts": [...], "symptoms": [...], ...}}``,
what the app itself sends, so any HAE receiver accepts it and ingesting it here as another user
gives that user exactly the same rows. Metric series are split wherever the unit changes (units
are per series in the format). Workouts keep their identity: a v2 workout is written with its
``id``, a v1 workout (identified by name, start and end) without one, both with the v2 route
fields.

Memory: rows come from server-side cursors ``FETCH_ROWS`` at a time and leave as ~64 KiB chunks;
the largest thing held at once is one workout (its series and route) or one ECG recording.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal

import msgspec
import structlog
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.audit import repository as audit
from app.export import hae, repository
from app.query.timerange import Bound

log = structlog.get_logger(__name__)

CHUNK_BYTES = 64 * 1024
_encode = msgspec.json.Encoder().encode

Encoder = Callable[[RowMapping], hae.Obj]
# table -> (point encoder, fixed metric name or None when named by metric_id)
_METRICS: dict[str, tuple[Encoder, str | None]] = {
    "quantity_metrics": (hae.quantity, None),
    "activity_metrics": (hae.quantity, None),
    "heart_rate_metrics": (hae.heart_rate, "heart_rate"),
    "blood_pressure_metrics": (hae.blood_pressure, "blood_pressure"),
    "blood_glucose_metrics": (hae.blood_glucose, "blood_glucose"),
    "insulin_metrics": (hae.insulin, "insulin_delivery"),
    "hygiene_events": (hae.hygiene, None),
    "sexual_activity_metrics": (hae.sexual_activity, "sexual_activity"),
    "sleep_metrics": (hae.sleep_night, "sleep_analysis"),
    "sleep_segments": (hae.sleep_segment, "sleep_analysis"),
}


@dataclass(slots=True)
class _Chunks:
    """Collects small writes; ``ready`` hands out ~CHUNK_BYTES at a time."""

    parts: list[bytes] = field(default_factory=list)
    size: int = 0

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    @property
    def full(self) -> bool:
        return self.size >= CHUNK_BYTES

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


@dataclass(slots=True)
class _Document:
    """One export being written: its snapshot connection, the user and range, the output so far
    and the rows counted per table."""

    conn: AsyncConnection
    user_id: int
    lo: Bound | None
    hi: Bound | None
    out: _Chunks = field(default_factory=_Chunks)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, table: str) -> None:
        self.counts[table] = self.counts.get(table, 0) + 1

    async def sections(self) -> AsyncIterator[None]:
        """Writes the whole document into ``out``; yields whenever ``out`` is full."""
        self.out.add(b'{"data":{"metrics":[')
        async for _ in self._metrics():
            yield None
        self.out.add(b'],"workouts":[')
        async for _ in self._workouts():
            yield None
        for key, source in repository.EVENT_SOURCES.items():
            self.out.add(b'],"' + key.encode() + b'":[')
            async for _ in self._events(key, source):
                yield None
        self.out.add(b"]}}")

    async def _metrics(self) -> AsyncIterator[None]:
        """Metric series, a new one wherever the metric or its unit changes."""
        names = await repository.metric_names(self.conn)
        first_series = True
        for source in repository.METRIC_SOURCES:
            encode_row, fixed_name = _METRICS[source.table]
            current: tuple[str, str | None] | None = None
            first_point = True
            async for row in repository.rows(self.conn, source, self.user_id, self.lo, self.hi):
                name = fixed_name or names[int(row["metric_id"])]
                key = (name, row["unit"])
                if key != current:
                    if current is not None:
                        self.out.add(b"]}")
                    head = _encode({"name": name, "units": row["unit"]})
                    self.out.add((b"" if first_series else b",") + head[:-1] + b',"data":[')
                    first_series, first_point, current = False, True, key
                self.out.add((b"" if first_point else b",") + _encode(encode_row(row)))
                first_point = False
                self.count(source.table)
                if self.out.full:
                    yield None
            if current is not None:
                self.out.add(b"]}")

    async def _workouts(self) -> AsyncIterator[None]:
        """Workouts with their series and route; series come from one cursor in workout order."""
        conn, user_id = self.conn, self.user_id
        series_rows = aiter(repository.workout_series(conn, user_id, self.lo, self.hi))
        pending = await anext(series_rows, None)
        first = True
        async for row in repository.workouts(conn, user_id, self.lo, self.hi):
            item = hae.workout_head(row)
            series: dict[str, list[hae.Obj]] = {}
            while pending is not None and pending["workout_id"] == row["id"]:
                series.setdefault(pending["series"], []).append(hae.workout_series_point(pending))
                self.count("workout_series")
                pending = await anext(series_rows, None)
            item.update(series)
            route = await repository.route(conn, user_id, row["id"])
            if route is not None:
                item["route"] = hae.route_points(route)
                self.count("workout_routes")
            self.out.add((b"" if first else b",") + _encode(item))
            first = False
            self.count("workouts")
            if self.out.full:
                yield None

    async def _events(self, key: str, source: repository.Source) -> AsyncIterator[None]:
        encode_row = hae.EVENTS[key]
        first = True
        async for row in repository.rows(self.conn, source, self.user_id, self.lo, self.hi):
            self.out.add((b"" if first else b",") + _encode(encode_row(row)))
            first = False
            self.count(source.table)
            if self.out.full:
                yield None


class ExportService:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self, user_id: int, lo: Bound | None, hi: Bound | None, via: Literal["api", "cli"]
    ) -> None:
        """Audit the export (who, which range, how); never any health data."""
        async with self._engine.begin() as conn:
            await audit.record(
                conn,
                action="data.exported",
                user_id=user_id,
                details={
                    "via": via,
                    "from": lo.text() if lo else None,
                    "to": hi.text() if hi else None,
                },
            )

    async def stream(
        self, user_id: int, lo: Bound | None = None, hi: Bound | None = None
    ) -> AsyncIterator[bytes]:
        """The document, chunk by chunk, from one consistent snapshot."""
        async with self._engine.connect() as base:
            conn = await base.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with conn.begin():
                document = _Document(conn, user_id, lo, hi)
                async for _ in document.sections():
                    yield document.out.take()
                yield document.out.take()
        counts = document.counts
        log.info("export.completed", rows=sum(counts.values()), tables=len(counts))
