"""The floor of a small sync: what any server must pay to take such a body and make it durable.

A bare ASGI app (no framework, no middleware, no auth), served by uvicorn exactly as the app is
(``procs.uvicorn_args``), so the service and its floor differ only in what the service does on
top. Three routes, each answering the bench's small-sync client as the service does:

- ``POST /floor/echo``: reads the body and answers (the HTTP floor: server, loop, parser);
- ``POST /floor/db?user=N``: reads the body, hashes and zstd-compresses it as the app does, and
  in one transaction inserts the raw archive row, COPYs the data rows the app's normaliser made
  of that body before the level began (one COPY per table, as the app batches them) and records
  the outcome on the archive row (the app's own two statements);
- ``POST /floor/full?user=N``: the same, but the rows come from this very request's body,
  decoded with the app's decoders (``app.ingest.decode``, msgspec wire types) and turned into
  rows by a loop that checks nothing.

The bodies come from the file named by ``HAE_BENCH_FLOOR_BODIES`` (msgpack list of bytes). At
start-up each is normalised by the app's own normaliser (``sections.normalise``: the rows the
service writes for it, not a reading of what it stored, so the floor does not depend on the
service having run first), the month partitions they need are created, and the cheap rows of
``/floor/full`` are checked against the normaliser's: a floor writing other rows than the
service would measure something else, so a mismatch stops the floor from starting.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import msgspec
from sqlalchemy.engine import make_url

from app.config import Settings, get_settings
from app.db.engine import create_engine
from app.ingest import notify
from app.ingest.decode import envelope as envelopes
from app.ingest.decode import wire
from app.ingest.normalise import sections
from app.ingest.normalise.common import Context
from app.ingest.normalise.dates import parse_date
from app.ingest.normalise.sections.metrics import MetricsSection
from app.ingest.normalise.units import canonical
from app.ingest.receive.archive import COMPRESSION
from app.ingest.receive.body import received_from_bytes
from app.ingest.report.builder import ReportBuilder
from app.ingest.repository.archive import _FINISH, _STORE
from app.ingest.types import SeriesWrite
from tests.bench.floors import BODIES_ENV

WORKER = "bench-floor"
# Rows are normalised once for these ids; each request puts its user's and ingestion's in.
_USER, _INGESTION = 0, 0

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Part = tuple[str, tuple[str, ...], list[tuple[Any, ...]]]  # table, columns, rows

_series_list = msgspec.json.Decoder(list[wire.MetricSeries])
_heart_rates = msgspec.json.Decoder(list[wire.HeartRatePoint])
_quantities = msgspec.json.Decoder(list[wire.QuantityPoint])


@dataclass(frozen=True, slots=True)
class Template:
    """How one metric's series becomes rows: its table, columns and metric id (from the
    normaliser's rows), and its unit's conversion to the canonical one."""

    table: str
    columns: tuple[str, ...]
    metric_id: int | None  # None: the heart-rate table, which has no metric column

    def rows(self, series: wire.MetricSeries) -> list[tuple[Any, ...]]:
        """The series' rows with placeholder ids, from its points decoded as the app does."""
        if self.metric_id is None:
            return _heart_rate_rows(_heart_rates.decode(series.data), series.units)
        points = _quantities.decode(series.data)
        return _quantity_rows(points, series.units, self.metric_id)


def _bounds(p: wire.HeartRatePoint | wire.QuantityPoint) -> tuple[Any, Any, int]:
    at, offset = parse_date(p.date if p.date is not None else p.start)
    return at, parse_date(p.end)[0] if p.end is not None else None, offset


def _heart_rate_rows(points: list[wire.HeartRatePoint], unit: str | None) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for p in points:
        low, avg, high = (p.qty,) * 3 if p.avg is None else (p.min, p.avg, p.max)
        values = (p.source, low, avg, high, unit, p.context)
        out.append((_USER, *_bounds(p), *values, _INGESTION))
    return out


def _quantity_rows(
    points: list[wire.QuantityPoint], unit: str | None, metric_id: int
) -> list[tuple[Any, ...]]:
    conv = canonical(unit)
    factor, shift = (conv[1], conv[2]) if conv and conv[1:] != (1.0, 0.0) else (None, 0.0)
    out: list[tuple[Any, ...]] = []
    for p in points:
        qty = float(p.qty)  # type: ignore[arg-type] # a small sync's points all carry one
        canonical_qty = None if factor is None else qty * factor + shift
        values = (p.source, p.qty, unit, canonical_qty, None)
        out.append((_USER, metric_id, *_bounds(p), *values, _INGESTION))
    return out


def cheap_parts(body: bytes, templates: dict[str, Template]) -> list[Part]:
    """The body's rows by table, decoded with the app's decoders, nothing checked."""
    raw = envelopes.decode(body).sections["metrics"]
    by_table: dict[str, Part] = {}
    for series in _series_list.decode(raw):
        template = templates[series.name]
        part = by_table.setdefault(template.table, (template.table, template.columns, []))
        part[2].extend(template.rows(series))
    return list(by_table.values())


def with_ids(parts: list[Part], user_id: int, ingestion_id: int) -> list[Part]:
    """The rows with this request's user and ingestion (first and last column of every table)."""
    return [
        (table, columns, [(user_id, *row[1:-1], ingestion_id) for row in rows])
        for table, columns, rows in parts
    ]


class Floor:
    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        self.prepared: dict[bytes, list[Part]] = {}  # sha256 of a body -> its rows
        self.templates: dict[str, Template] = {}

    @property
    def settings(self) -> Settings:
        return get_settings()  # read in the server, never when the bench imports this module

    async def start(self) -> None:
        settings = self.settings
        dsn = make_url(settings.database_url).set(drivername="postgresql")
        # The app's pool: as many connections, opened as needed, with its session settings.
        self.pool = await asyncpg.create_pool(
            dsn.render_as_string(hide_password=False),
            min_size=0,
            max_size=settings.db_pool_size,
            timeout=10,
            command_timeout=settings.db_statement_timeout_s + 30,
            server_settings={
                "application_name": "hae-bench-floor",
                "statement_timeout": str(int(settings.db_statement_timeout_s * 1000)),
                "lock_timeout": "30000",
                "jit": "off",
            },
        )
        content = await asyncio.to_thread(Path(os.environ[BODIES_ENV]).read_bytes)
        await self._prepare(msgspec.msgpack.decode(content, type=list[bytes]))

    async def stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def _prepare(self, bodies: list[bytes]) -> None:
        engine = create_engine(self.settings, pool_size=1)
        section = MetricsSection(engine, unknown_cap=self.settings.max_unknown_metrics_per_user)
        months: set[tuple[str, int, int]] = set()
        try:
            for body in bodies:
                parts = await self._normalised(body, section, months)
                self.prepared[hashlib.sha256(body).digest()] = parts
                if _sorted(cheap_parts(body, self.templates)) != _sorted(parts):
                    raise RuntimeError("the floor's cheap rows differ from the normaliser's")
        finally:
            await engine.dispose()
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            for table, year, month in sorted(months):
                at = datetime(year, month, 15, tzinfo=UTC)
                await conn.execute("SELECT hae_ensure_month_partition($1, $2)", table, at)

    async def _normalised(
        self, body: bytes, section: MetricsSection, months: set[tuple[str, int, int]]
    ) -> list[Part]:
        """The rows the service's normaliser makes of ``body``, merged by table as it writes them."""
        ctx = Context(
            user_id=_USER,
            ingestion_id=_INGESTION,
            now=datetime.now(UTC),
            future_tolerance=timedelta(days=self.settings.future_tolerance_days),
        )
        by_table: dict[str, Part] = {}
        report = ReportBuilder(_INGESTION)
        envelope = envelopes.decode(body)
        async for normalised in sections.normalise(
            envelope, ctx, report, section, use_digests=False
        ):
            if not isinstance(normalised, SeriesWrite) or normalised.section != "metrics":
                raise RuntimeError("the floor knows metric series only")
            for rows in normalised.parts:
                if rows.stream is not None:
                    raise RuntimeError("a streamed series is no small sync")
                part = by_table.setdefault(rows.table, (rows.table, rows.columns, []))
                part[2].extend(rows.rows)
                months.update((rows.table, y, m) for y, m in rows.months)
                metric_id = rows.rows[0][1] if "metric_id" in rows.columns else None
                self.templates[str(normalised.name)] = Template(rows.table, rows.columns, metric_id)
        if report.reasons or report.failed:
            raise RuntimeError(f"a floor body was not clean: {report.reasons} {report.failed}")
        return list(by_table.values())

    async def write(self, body: bytes, user_id: int, parts: list[Part] | None) -> dict[str, Any]:
        """(b): the archive row, the data rows and the outcome, in one transaction."""
        settings = self.settings
        received = received_from_bytes(body, settings.raw_compression_level)
        if parts is None:
            parts = self.prepared[received.sha256]
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await conn.fetchrow(
                _STORE, user_id, None, received.sha256, received.size, received.compressed,
                COMPRESSION, "application/json", None, '{"automation-name": "bench"}', WORKER,
                settings.worker_lease_s,
            )  # fmt: skip
            ingestion_id = stored["id"]
            points = 0
            for table, columns, rows in with_ids(parts, user_id, ingestion_id):
                await conn.copy_records_to_table(table, records=rows, columns=list(columns))
                points += len(rows)
            report = {
                "ingestion_id": ingestion_id,
                "status": "processed",
                "totals": {"received": points, "inserted": points, "updated": 0,
                           "unchanged": 0, "rejected": 0},
                "tables": {table: len(rows) for table, _, rows in parts},
            }  # fmt: skip
            await conn.execute(
                _FINISH, ingestion_id, "processed", msgspec.json.encode(report).decode(),
                None, None, notify.FINISHED,
            )  # fmt: skip
        return report


def _sorted(parts: list[Part]) -> list[Part]:
    return sorted((table, columns, sorted(rows, key=repr)) for table, columns, rows in parts)


_floor = Floor()
_ECHO = msgspec.json.encode({"status": "processed", "totals": {"received": 0, "rejected": 0}})


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, content: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await _floor.start()
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await _floor.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path = scope["path"]
    if scope["method"] == "GET" and path == "/readyz":
        await _answer(send, 200, b'{"status":"ok"}')
        return
    if scope["method"] != "POST" or path not in ("/floor/echo", "/floor/db", "/floor/full"):
        await _answer(send, 404, b'{"detail":"not found"}')
        return
    body = await _body(receive)
    if path == "/floor/echo":
        await _answer(send, 200, _ECHO)
        return
    try:
        user_id = int(parse_qs(scope["query_string"].decode())["user"][0])
        parts = cheap_parts(body, _floor.templates) if path == "/floor/full" else None
        report = await _floor.write(body, user_id, parts)
    except Exception as exc:  # the bench fails on any non-2xx and shows this
        await _answer(send, 500, msgspec.json.encode({"detail": repr(exc)}))
        return
    await _answer(send, 200, msgspec.json.encode(report))
