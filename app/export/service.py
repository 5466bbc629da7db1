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
        counts: dict[str, int] = {}
        async with self._engine.connect() as base:
            conn = await base.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with conn.begin():
                out = _Chunks()
                out.add(b'{"data":{"metrics":[')
                async for _ in self._metrics(conn, out, user_id, lo, hi, counts):
                    yield out.take()
                out.add(b'],"workouts":[')
                async for _ in self._workouts(conn, out, user_id, lo, hi, counts):
                    yield out.take()
                for key, source in repository.EVENT_SOURCES.items():
                    out.add(b'],"' + key.encode() + b'":[')
                    encode_row = hae.EVENTS[key]
                    first = True
                    async for row in repository.rows(conn, source, user_id, lo, hi):
                        out.add((b"" if first else b",") + _encode(encode_row(row)))
                        first = False
                        counts[source.table] = counts.get(source.table, 0) + 1
                        if out.full:
                            yield out.take()
                out.add(b"]}}")
                yield out.take()
        log.info("export.completed", rows=sum(counts.values()), tables=len(counts))

    async def _metrics(
        self,
        conn: AsyncConnection,
        out: _Chunks,
        user_id: int,
        lo: Bound | None,
        hi: Bound | None,
        counts: dict[str, int],
    ) -> AsyncIterator[None]:
        """Metric series; yields whenever ``out`` is full."""
        names = await repository.metric_names(conn)
        first_series = True
        for source in repository.METRIC_SOURCES:
            encode_row, fixed_name = _METRICS[source.table]
            current: tuple[str, str | None] | None = None
            first_point = True
            async for row in repository.rows(conn, source, user_id, lo, hi):
                name = fixed_name or names[int(row["metric_id"])]
                key = (name, row["unit"])
                if key != current:
                    if current is not None:
                        out.add(b"]}")
                    head = _encode({"name": name, "units": row["unit"]})
                    out.add((b"" if first_series else b",") + head[:-1] + b',"data":[')
                    first_series, first_point, current = False, True, key
                out.add((b"" if first_point else b",") + _encode(encode_row(row)))
                first_point = False
                counts[source.table] = counts.get(source.table, 0) + 1
                if out.full:
                    yield None
            if current is not None:
                out.add(b"]}")

    async def _workouts(
        self,
        conn: AsyncConnection,
        out: _Chunks,
        user_id: int,
        lo: Bound | None,
        hi: Bound | None,
        counts: dict[str, int],
    ) -> AsyncIterator[None]:
        """Workouts with their series and route; series come from one cursor in workout order."""
        series_rows = aiter(repository.workout_series(conn, user_id, lo, hi))
        pending = await anext(series_rows, None)
        first = True
        async for row in repository.workouts(conn, user_id, lo, hi):
            item = hae.workout_head(row)
            series: dict[str, list[hae.Obj]] = {}
            while pending is not None and pending["workout_id"] == row["id"]:
                series.setdefault(pending["series"], []).append(hae.workout_series_point(pending))
                counts["workout_series"] = counts.get("workout_series", 0) + 1
                pending = await anext(series_rows, None)
            item.update(series)
            route = await repository.route(conn, user_id, row["id"])
            if route is not None:
                item["route"] = hae.route_points(route)
                counts["workout_routes"] = counts.get("workout_routes", 0) + 1
            out.add((b"" if first else b",") + _encode(item))
            first = False
            counts["workouts"] = counts.get("workouts", 0) + 1
            if out.full:
                yield None
