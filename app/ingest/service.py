"""Ingest orchestration: archive the raw body, then write every section in its own transaction.

No FastAPI here: the router hands over bytes and headers; the worker and the CLI's replay call
the same ``process``.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
import structlog
from redis.asyncio import Redis
from sqlalchemy.exc import DBAPIError, EmulatedDBAPIException, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.audit import repository as audit
from app.config import Settings
from app.db.engine import autocommit
from app.db.partitions import Month, PartitionManager
from app.errors import InvalidEnvelope, MalformedPayload
from app.ingest import catalog, digests, raw, repository, wire
from app.ingest.body import ReceivedBody
from app.ingest.normalise import events, workouts
from app.ingest.normalise import metrics as metric_series
from app.ingest.normalise.common import Context, PointError, Reject, Rows, month_of
from app.ingest.normalise.decode import NotAList, decode_items
from app.ingest.report import ReportBuilder, as_duplicate
from app.observability import metrics
from app.quality import repository as quality
from app.quality import rules
from app.query import cache as query_cache

log = structlog.get_logger(__name__)

SECTIONS = ("metrics", "workouts", *events.SECTIONS)
_top_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_series_decoder = msgspec.json.Decoder(wire.MetricSeries)
# Bodies up to this size (a routine sync) are written in one transaction, all series together:
# a few round trips and one commit. Larger ones go series by series (bounded memory and lock
# time; a storage failure costs one series), as does a small one whose transaction failed.
COMPACT_MAX_BYTES = 256 * 1024
_METRIC_IDS_MAX = 100_000
# A statement or the connection failed. Hot-path statements go to asyncpg directly, so their
# errors arrive unwrapped (asyncpg's own), or as SQLAlchemy's adapter raised them when BEGIN failed
# (EmulatedDBAPIException, which is not a DBAPIError).
STORAGE_ERRORS = (
    DBAPIError,
    SQLAlchemyError,
    EmulatedDBAPIException,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


class IngestService:
    def __init__(
        self,
        engine: AsyncEngine,
        partitions: PartitionManager,
        settings: Settings,
        *,
        redis: Redis | None = None,
    ) -> None:
        self._engine = engine
        self._autocommit = autocommit(engine)
        self._redis = redis
        self._partitions = partitions
        self._settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._metric_ids_cache: dict[str, int] = {}

    async def receive(
        self,
        *,
        user_id: int,
        api_key_id: int | None,
        received: ReceivedBody,
        headers: dict[str, str],
        content_type: str | None,
        content_encoding: str | None,
        claim: bool,
    ) -> raw.RawIngestion:
        """Commit the raw body (or find the identical one sent before) before anything else.

        Its INSERT is one statement, committed on its own (no BEGIN/COMMIT round trips)."""
        async with self._autocommit.connect() as conn:
            return await raw.store(
                conn,
                user_id=user_id,
                api_key_id=api_key_id,
                sha256=received.sha256,
                size=received.size,
                blob=received.compressed,
                content_type=content_type,
                content_encoding=content_encoding,
                headers=headers,
                claim_for=self.worker_id if claim else None,
                lease_s=self._settings.worker_lease_s,
            )

    async def ingest(
        self,
        *,
        user_id: int,
        api_key_id: int | None,
        received: ReceivedBody,
        headers: dict[str, str],
        content_type: str | None = None,
        content_encoding: str | None = None,
    ) -> Outcome:
        """Archive one body, then process it now (small) or leave it to the worker (large)."""
        metrics.INGEST_BYTES.inc(received.size)
        inline = received.body is not None and received.size <= self._settings.async_threshold_bytes
        ingestion = await self.receive(
            user_id=user_id,
            api_key_id=api_key_id,
            received=received,
            headers=headers,
            content_type=content_type,
            content_encoding=content_encoding,
            claim=inline,
        )
        if not ingestion.created:
            if ingestion.status == "processed" and ingestion.report is not None:
                log.info("ingest.duplicate", ingestion_id=ingestion.id)
                duplicate = as_duplicate(ingestion.report)
                metrics.INGEST_PAYLOADS.labels(outcome="duplicate").inc()
                _count_points(duplicate)
                return Outcome(ingestion.id, duplicate)
            if ingestion.status == "rejected" and ingestion.report is not None:
                _raise_stored_rejection(ingestion.report)
            if inline:
                # Sent again while queued or failed: take it over now unless someone holds it.
                async with self._engine.begin() as conn:
                    claimed = await raw.claim(
                        conn, ingestion.id, self.worker_id, self._settings.worker_lease_s
                    )
                if claimed is not None:
                    ingestion = claimed
        if not ingestion.claimed or received.body is None:
            metrics.INGEST_PAYLOADS.labels(outcome="accepted").inc()
            log.info("ingest.accepted", ingestion_id=ingestion.id, bytes=received.size)
            return Outcome(ingestion.id, None)
        return Outcome(ingestion.id, await self.process(ingestion, received.body))

    async def replay(self, ingestion_id: int) -> dict[str, Any]:
        """Reprocess an archived body (after a mapping fix, say): idempotent by natural keys."""
        async with self._engine.begin() as conn:
            claimed = await raw.claim(
                conn, ingestion_id, self.worker_id, self._settings.worker_lease_s, force=True
            )
            if claimed is None:
                raise LookupError(f"no ingestion {ingestion_id}")
            body = await raw.load_body(conn, ingestion_id)
        # Every series goes through normalise and merge again: a replay is how a mapping fix
        # reaches data already stored, which a digest would answer as unchanged.
        return await self.process(claimed, body, use_digests=False)

    async def process_next(self) -> dict[str, Any] | None:
        """Claim the oldest due ingestion and process it; None when the queue is empty."""
        async with self._engine.begin() as conn:
            claimed = await raw.claim_next(conn, self.worker_id, self._settings.worker_lease_s)
            if claimed is None:
                return None
            body = await raw.load_body(conn, claimed.id)
        try:
            return await self.process(claimed, body)
        except (MalformedPayload, InvalidEnvelope) as exc:
            return exc.problem() | {"ingestion_id": claimed.id, "status": "rejected"}

    async def process(
        self, ingestion: raw.RawIngestion, body: bytes, *, use_digests: bool = True
    ) -> dict[str, Any]:
        """Process a claimed ingestion, renewing the claim while it works."""
        structlog.contextvars.bind_contextvars(ingestion_id=ingestion.id, user_id=ingestion.user_id)
        heartbeat = asyncio.create_task(self._heartbeat(ingestion.id))
        try:
            return await self._process(
                ingestion.id, ingestion.user_id, body, ingestion.attempts, use_digests
            )
        except (MalformedPayload, InvalidEnvelope):
            metrics.INGEST_PAYLOADS.labels(outcome="rejected").inc()
            raise
        except Exception as exc:
            log.exception("ingest.interrupted", error_type=type(exc).__name__)
            status, retry = self._next_step(ingestion.attempts)
            report = _interrupted(ingestion.id, status, type(exc).__name__)
            metrics.INGEST_PAYLOADS.labels(outcome=status).inc()
            async with self._engine.begin() as conn:
                await raw.finish(
                    conn,
                    ingestion.id,
                    status="failed" if status == "failed" else "pending",
                    report=report,
                    error=type(exc).__name__,
                    retry_in_s=retry,
                )
            return report
        finally:
            heartbeat.cancel()
            # Committed by now (or nothing was): cached read aggregates of this user are stale.
            await query_cache.invalidate_user(
                self._redis, self._settings.redis_prefix, ingestion.user_id
            )

    def _next_step(self, attempts: int) -> tuple[str, float | None]:
        """("retrying", seconds) with exponential backoff, or ("failed", None) when spent."""
        if attempts >= self._settings.worker_max_attempts:
            return "failed", None
        return "retrying", float(min(600, 5 * 2 ** max(0, attempts - 1)))

    async def _heartbeat(self, ingestion_id: int) -> None:
        interval = self._settings.worker_lease_s / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._engine.begin() as conn:
                    await raw.renew(
                        conn, ingestion_id, self.worker_id, self._settings.worker_lease_s
                    )
            except STORAGE_ERRORS as exc:
                log.warning("ingest.lease_renewal_failed", error_type=type(exc).__name__)

    async def _process(
        self, ingestion_id: int, user_id: int, body: bytes, attempts: int, use_digests: bool
    ) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            body, replaced_nul = _without_nul(body)
            sections = self._sections(body)
        except (MalformedPayload, InvalidEnvelope) as exc:
            async with self._engine.begin() as conn:
                await raw.finish(
                    conn, ingestion_id, status="rejected", report=exc.problem(), error=exc.detail
                )
            raise
        job = _Job(ingestion_id, user_id, len(body), attempts, use_digests, replaced_nul)
        attempt: _Attempt | None = None
        if len(body) <= COMPACT_MAX_BYTES:
            try:
                attempt = await self._attempt(job, sections, _Batch())
            except (*STORAGE_ERRORS, _NotCompact) as exc:
                # Nothing of the attempt is kept (one transaction): the series-by-series way
                # below stores what it can and reports the rest, as for a large body.
                metrics.INGEST_FALLBACKS.inc()
                log.warning("ingest.single_transaction_fallback", error_type=type(exc).__name__)
        if attempt is None:
            attempt = await self._attempt(job, sections, None)
        result = attempt.result
        _count_flags(attempt.flagged)
        elapsed = time.perf_counter() - started
        _observe(result, attempt.reasons, elapsed)
        log.info(
            "ingest.processed",
            status=result["status"],
            duration_s=round(elapsed, 4),
            **result["totals"],
        )
        return result

    async def _attempt(
        self, job: _Job, sections: dict[str, msgspec.Raw], batch: _Batch | None
    ) -> _Attempt:
        """Normalise and store every section. With a ``batch`` (a small body) the writes wait
        until all is normalised and then go in one transaction with the outcome: a few round
        trips and one commit instead of a transaction per series."""
        ctx = Context(
            user_id=job.user_id,
            ingestion_id=job.ingestion_id,
            now=datetime.now(UTC),
            future_tolerance=timedelta(days=self._settings.future_tolerance_days),
        )
        report = ReportBuilder(job.ingestion_id)
        flagged: list[str] = []
        report.unknown_sections = sorted(k for k in sections if k not in SECTIONS)
        if job.replaced_nul:
            report.warnings.append(
                "NUL characters (\\u0000) replaced by U+FFFD: PostgreSQL text cannot hold them;"
                " the raw body keeps the original"
            )
        if "metrics" in sections:
            await self._metrics(
                sections["metrics"], ctx, report, use_digests=job.use_digests, batch=batch
            )
        if "workouts" in sections:
            await self._workouts(sections["workouts"], ctx, report, batch)
        for key, (table, columns, build) in events.SECTIONS.items():
            if key in sections:
                await self._events(key, sections[key], table, columns, build, ctx, report, batch)
        if batch is None:
            async with self._engine.begin() as conn:
                result = await self._finish(conn, job, report)
            return _Attempt(result, flagged, report.reasons)
        for table, months in batch.months.items():
            await self._partitions.ensure(table, months)
        async with self._engine.begin() as conn:
            # Every table this body writes, locked at once in one order: two bodies of one user
            # cannot deadlock, and no series pays a round trip for its lock.
            held = await repository.lock_tables(conn, job.user_id, batch.months)
            # Which series meet nothing stored (and go straight in by COPY): one probe for all.
            empty = await repository.empty_ranges(conn, batch.parts)
            for write in batch.writes:
                flagged += await write(conn, held, empty)
            result = await self._finish(conn, job, report)
        return _Attempt(result, flagged, report.reasons)

    async def _finish(
        self, conn: AsyncConnection, job: _Job, report: ReportBuilder
    ) -> dict[str, Any]:
        """Record the outcome (the report, freshness, audit) in ``conn``'s transaction."""
        result = report.build()
        retry = None
        if report.failed:
            # Written series stay written; the whole body is retried later (idempotently).
            result["status"], retry = self._next_step(job.attempts)
        await raw.finish(
            conn,
            job.ingestion_id,
            status={"processed": "processed", "failed": "failed"}.get(result["status"], "pending"),
            report=result,
            error="; ".join(report.failed) or None,
            retry_in_s=retry,
        )
        await quality.record_freshness(conn, job.user_id, job.ingestion_id, report.freshness)
        await audit.record(
            conn,
            action="ingest",
            user_id=job.user_id,
            details={
                "ingestion_id": job.ingestion_id,
                "bytes": job.size,
                "status": result["status"],
                "totals": result["totals"],
            },
        )
        return result

    def _sections(self, body: bytes) -> dict[str, msgspec.Raw]:
        try:
            top = _top_decoder.decode(body)
        except RecursionError:
            # msgspec's C decoder stops at the interpreter's recursion limit (~1000 levels) and
            # raises; HAE bodies nest at most ~8 levels. (A byte-by-byte depth scan in Python
            # cost ~100 ns a byte: seconds on a backfill.)
            raise MalformedPayload("JSON nested too deeply", field="$") from None
        except msgspec.DecodeError as exc:
            if isinstance(exc, msgspec.ValidationError):
                raise InvalidEnvelope("the body must be a JSON object", field="$") from None
            raise MalformedPayload(str(exc), field="$") from None
        if "data" in top:
            try:
                data = _top_decoder.decode(top["data"])
            except msgspec.ValidationError:
                raise InvalidEnvelope("`data` must be an object", field="data") from None
        elif any(key in top for key in SECTIONS):
            data = top  # a bare {metrics, workouts, ...} object, as some tools save it
        else:
            raise InvalidEnvelope(
                'expected {"data": {"metrics": [...], "workouts": [...], ...}}', field="data"
            )
        return data

    async def _write(
        self,
        section: str,
        name: str | None,
        parts: list[Rows],
        report: ReportBuilder,
        ctx: Context,
        done: Callable[[list[repository.UpsertResult] | None], None],
        batch: _Batch | None,
        digest: _Digest | None = None,
    ) -> None:
        """Write one series/section in its own transaction (a failure costs only this one), or
        add it to the batch; ``done`` gets the results, None when it could not be stored."""
        if batch is not None:
            if any(part.stream is not None for part in parts):
                raise _NotCompact("a streamed series")

            async def write(
                conn: AsyncConnection, held: frozenset[str], empty: dict[int, bool]
            ) -> list[str]:
                results, flagged = await self._store(conn, parts, ctx, digest, held, empty)
                self._written(section, name, parts, report)
                done(results)
                return flagged

            batch.add(parts, write)
            return
        for part in parts:
            await self._partitions.ensure(part.table, part.months)
        try:
            async with self._engine.begin() as conn:
                results, flagged = await self._store(conn, parts, ctx, digest, frozenset(), {})
        except STORAGE_ERRORS as exc:
            ctx.flags = []
            _release(parts)
            label = f"{section}:{name}" if name else section
            log.error(
                "ingest.write_failed", section=section, metric=name, error_type=type(exc).__name__
            )
            report.failed.append(f"{label}: storage error ({type(exc).__name__})")
            done(None)
            return
        _count_flags(flagged)
        self._written(section, name, parts, report)
        done(results)

    async def _store(
        self,
        conn: AsyncConnection,
        parts: list[Rows],
        ctx: Context,
        digest: _Digest | None,
        held: frozenset[str],
        empty: dict[int, bool],
    ) -> tuple[list[repository.UpsertResult], list[str]]:
        """The statements of one series' write, in the caller's transaction."""
        results = [
            await repository.upsert(conn, part, held=held, empty=empty.get(id(part)))
            for part in parts
        ]
        # Taken after the upserts: a streamed series is normalised during its COPY.
        flags, ctx.flags = ctx.flags, []
        flagged = await quality.record_flags(conn, ctx.user_id, ctx.ingestion_id, flags)
        for part, result in zip(parts, results, strict=True):
            if result.updated:  # rows changed: digests that vouched for them are void
                first, last = repository.time_range(part)
                await digests.invalidate(
                    conn, part.table, ctx.user_id, first_at=first, last_at=last
                )
        if digest is not None and len(parts) == 1 and not digest.errors:
            await _record_digest(conn, ctx.user_id, digest, parts[0], results[0])
        return results, flagged

    @staticmethod
    def _written(section: str, name: str | None, parts: list[Rows], report: ReportBuilder) -> None:
        newest = _newest(parts)
        _release(parts)
        if newest is not None:
            report.freshness.append(
                ("metric" if section == "metrics" else "section", name or section, newest)
            )

    async def _metric_ids(self, names: list[tuple[str, bool]]) -> dict[str, int]:
        """Ids of metric names, registering new ones; remembered (a type is never removed)."""
        missing = [(n, known) for n, known in names if n not in self._metric_ids_cache]
        if missing:
            async with self._engine.begin() as conn:
                found = await repository.metric_type_ids(conn, missing)
            if len(self._metric_ids_cache) < _METRIC_IDS_MAX:
                self._metric_ids_cache.update(found)
            return {n: self._metric_ids_cache.get(n) or found[n] for n, _ in names}
        return {n: self._metric_ids_cache[n] for n, _ in names}

    async def _metrics(
        self,
        raw_section: msgspec.Raw,
        ctx: Context,
        report: ReportBuilder,
        *,
        use_digests: bool,
        batch: _Batch | None,
    ) -> None:
        errors: list[PointError] = []
        try:
            items, _, _ = decode_items(
                raw_section, msgspec.Raw, section="metrics", name=None, errors=errors
            )
        except NotAList as exc:
            report.add("metrics", None, received=1, rejected=1)
            report.reject(
                [PointError("metrics", None, None, None, f"`metrics` must be an array: {exc}")]
            )
            return
        series_list: list[tuple[int, wire.MetricSeries]] = []
        for index, item in enumerate(items):
            try:
                series_list.append((index, _series_decoder.decode(item)))
            except msgspec.ValidationError as exc:
                report.add("metrics", None, received=1, rejected=1)
                report.reject(
                    [PointError("metrics", None, index, None, f"not a metric series: {exc}")]
                )
        names = sorted({(s.name, s.name in catalog.KNOWN) for _, s in series_list})
        ids = await self._metric_ids(names)
        report.unknown_metrics = sorted({n for n, known in names if not known})
        candidates = _digest_candidates(items, series_list, ids) if use_digests else {}
        hits: dict[bytes, digests.Known] = {}
        if candidates:
            async with self._engine.connect() as conn:
                hits = await digests.known(conn, ctx.user_id, list(candidates.values()))
        for position, series in series_list:
            candidate = candidates.get(position)
            hit = hits.get(candidate.digest) if candidate is not None else None
            if hit is not None:  # the same bytes, applied before, every row still stored
                report.add("metrics", series.name, received=hit.received)
                report.freshness.append(("metric", series.name, hit.last_at))
                continue
            known = series.name in catalog.KNOWN
            try:
                result = metric_series.normalise_series(series, ctx, ids[series.name], known)
            except NotAList as exc:
                report.add("metrics", series.name, received=1, rejected=1)
                report.reject(
                    [
                        PointError(
                            "metrics",
                            series.name,
                            position,
                            "data",
                            f"`data` must be an array: {exc}",
                        )
                    ]
                )
                continue
            digest = (
                _Digest(candidate, result.received, result.errors)
                if candidate is not None
                else None
            )
            await self._write(
                "metrics",
                series.name,
                result.rows,
                report,
                ctx,
                partial(_series_written, report, result),
                batch,
                digest=digest,
            )

    async def _events(
        self,
        key: str,
        raw_section: msgspec.Raw,
        table: str,
        columns: tuple[str, ...],
        build: Callable[[dict[str, Any], Context], tuple[Any, ...]],
        ctx: Context,
        report: ReportBuilder,
        batch: _Batch | None,
    ) -> None:
        errors: list[PointError] = []
        try:
            items, indexes, received = decode_items(
                raw_section, dict, section=key, name=None, errors=errors
            )
        except NotAList as exc:
            report.add(key, None, received=1, rejected=1)
            report.reject([PointError(key, None, None, None, f"`{key}` must be an array: {exc}")])
            return
        rows = Rows(table, columns)
        for i, item in enumerate(items):
            try:
                row = build(item, ctx)
            except Reject as exc:
                index = indexes[i] if indexes is not None else i
                errors.append(
                    PointError(
                        key,
                        item.get("name") if isinstance(item.get("name"), str) else None,
                        index,
                        exc.field,
                        exc.reason,
                    )
                )
                continue
            rows.rows.append(row)
            rows.months.add(month_of(row[1]))
        report.reject(errors)

        def done(written: list[repository.UpsertResult] | None) -> None:
            report.add(
                key,
                None,
                received=received,
                inserted=written[0].inserted if written else 0,
                updated=written[0].updated if written else 0,
                rejected=len(errors),
            )

        await self._write(key, None, [rows], report, ctx, done, batch)

    async def _workouts(
        self, raw_section: msgspec.Raw, ctx: Context, report: ReportBuilder, batch: _Batch | None
    ) -> None:
        errors: list[PointError] = []
        try:
            items, indexes, received = decode_items(
                raw_section, msgspec.Raw, section="workouts", name=None, errors=errors
            )
        except NotAList as exc:
            report.add("workouts", None, received=1, rejected=1)
            report.reject(
                [PointError("workouts", None, None, None, f"`workouts` must be an array: {exc}")]
            )
            return
        parsed: list[workouts.Workout] = []
        rejected = len(errors)
        for i, item in enumerate(items):
            index = indexes[i] if indexes is not None else i
            workout = workouts.normalise(index, msgspec.json.decode(item), ctx, errors)
            if workout is None:
                rejected += 1
            else:
                parsed.append(workout)
        report.reject(errors)
        # The same workout twice in one body: the later one wins, as for points.
        unique = list({w.natural_key: w for w in parsed}.values())

        def done(outcome: tuple[int, int] | None) -> None:
            if outcome is None:
                report.add("workouts", None, received=received, rejected=rejected)
                return
            inserted, updated = outcome
            report.add(
                "workouts",
                None,
                received=received,
                inserted=inserted,
                updated=updated,
                rejected=rejected,
            )
            # Bad series or route points inside a stored workout: left out, listed in errors.
            report.sections["workouts"]["points_rejected"] = len(errors) - rejected
            if unique:
                report.freshness.append(("section", "workouts", max(w.row[5] for w in unique)))

        if not unique:
            done((0, 0))
            return
        series_months = set().union(*(w.series_months for w in unique))
        if batch is not None:

            async def write(
                conn: AsyncConnection, held: frozenset[str], empty: dict[int, bool]
            ) -> list[str]:
                inserted, updated, flagged = await self._store_workouts(conn, unique, ctx, held)
                done((inserted, updated))
                return flagged

            batch.add(
                [
                    Rows("workouts", workouts.WORKOUT_COLUMNS),
                    Rows("workout_series", workouts.SERIES_COLUMNS, months=series_months),
                    Rows("workout_routes", workouts.ROUTE_COLUMNS),
                ],
                write,
            )
            return
        await self._partitions.ensure("workout_series", series_months)
        try:
            async with self._engine.begin() as conn:
                inserted, updated, flagged = await self._store_workouts(
                    conn, unique, ctx, frozenset()
                )
        except STORAGE_ERRORS as exc:
            ctx.flags = []
            log.error("ingest.write_failed", section="workouts", error_type=type(exc).__name__)
            report.failed.append(f"workouts: storage error ({type(exc).__name__})")
            done(None)
            return
        _count_flags(flagged)
        done((inserted, updated))

    async def _store_workouts(
        self,
        conn: AsyncConnection,
        items: list[workouts.Workout],
        ctx: Context,
        held: frozenset[str],
    ) -> tuple[int, int, list[str]]:
        """Workouts with their series and routes, in the caller's transaction."""
        flags, ctx.flags = ctx.flags, []
        head = Rows("workouts", workouts.WORKOUT_COLUMNS, [w.row for w in items])
        series_months = set().union(*(w.series_months for w in items))
        result = await repository.upsert(conn, head, returning="natural_key", held=held)
        ids = await repository.workout_ids(conn, ctx.user_id, [w.natural_key for w in items])
        series = Rows("workout_series", workouts.SERIES_COLUMNS, months=series_months)
        routes = Rows("workout_routes", workouts.ROUTE_COLUMNS)
        owner: dict[Any, str] = {}
        for w in items:
            workout_id = ids[w.natural_key]
            owner[workout_id] = w.natural_key
            series.rows.extend((r[0], workout_id, *r[2:]) for r in w.series)
            if w.route is not None:
                routes.rows.append((workout_id, *w.route[1:]))
        touched: set[str] = set()
        for part in (series, routes):
            written = await repository.upsert(conn, part, returning="workout_id", held=held)
            touched.update(owner[k] for k in written.inserted_keys + written.updated_keys)
        # A re-sent workout replaces its series: points it no longer carries (the app's
        # recovery-in-heartRateData bug, a changed grouping) must not linger.
        removed = await repository.remove_stale_workout_series(conn, ctx.user_id, series)
        touched.update(owner[k] for k in removed)
        flagged = await quality.record_flags(conn, ctx.user_id, ctx.ingestion_id, flags)
        new = set(result.inserted_keys)
        changed = (set(result.updated_keys) | touched) - new
        return len(new), len(changed), flagged


def _series_written(
    report: ReportBuilder,
    result: metric_series.SeriesResult,
    written: list[repository.UpsertResult] | None,
) -> None:
    report.reject(result.errors)  # after the write: a streamed series finds them then
    report.add(
        "metrics",
        result.name,
        received=result.received,
        inserted=sum(w.inserted for w in written) if written else 0,
        updated=sum(w.updated for w in written) if written else 0,
        rejected=result.rejected,
    )


class _NotCompact(Exception):
    """This body cannot be written in one transaction after all (a streamed series)."""


@dataclass(slots=True, frozen=True)
class _Job:
    ingestion_id: int
    user_id: int
    size: int
    attempts: int
    use_digests: bool
    replaced_nul: bool


@dataclass(slots=True)
class _Attempt:
    result: dict[str, Any]
    flagged: list[str]  # metrics newly flagged, counted once the attempt is committed
    reasons: dict[str, int]


# (connection, writer locks held, emptiness of series' ranges) -> metrics newly flagged
_Write = Callable[[AsyncConnection, frozenset[str], dict[int, bool]], Awaitable[list[str]]]


@dataclass(slots=True)
class _Batch:
    """The writes of a small body, applied together once it is all normalised."""

    writes: list[_Write] = field(default_factory=list)
    parts: list[Rows] = field(default_factory=list)
    months: dict[str, set[Month]] = field(default_factory=dict)  # table -> months written

    def add(self, parts: list[Rows], write: _Write) -> None:
        for part in parts:
            self.months.setdefault(part.table, set()).update(part.months)
        self.parts += parts
        self.writes.append(write)


@dataclass(slots=True)
class _Digest:
    """A digest candidate being written: recorded only if the series had no rejection."""

    candidate: digests.Candidate
    received: int
    errors: list[PointError]  # final once the series' rows have been written


def _digest_candidates(
    items: list[msgspec.Raw],
    series_list: list[tuple[int, wire.MetricSeries]],
    ids: dict[str, int],
) -> dict[int, digests.Candidate]:
    """Series large enough to be worth a digest, by position in ``metrics``."""
    found: dict[int, digests.Candidate] = {}
    for position, series in series_list:
        item = items[position]
        if len(item) < digests.MIN_BYTES:
            continue
        table = metric_series.table_for(series.name)
        if table is None or table not in digests.TABLES:
            continue
        series_id = ids[series.name] if "metric_id" in repository.spec(table).prefix else 0
        found[position] = digests.Candidate(digests.digest_of(item), table, series_id)
    return found


async def _record_digest(
    conn: Any, user_id: int, digest: _Digest, part: Rows, result: repository.UpsertResult
) -> None:
    first, last = repository.time_range(part)
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


@dataclass(slots=True)
class Outcome:
    ingestion_id: int
    report: dict[str, Any] | None  # None: archived and queued for the worker (202)


def _interrupted(ingestion_id: int, status: str, error: str) -> dict[str, Any]:
    zero = {"received": 0, "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    return {
        "ingestion_id": ingestion_id,
        "status": status,
        "totals": zero,
        "metrics": {},
        "errors": [],
        "error_count": 0,
        "failed": [f"processing interrupted ({error})"],
    }


def _raise_stored_rejection(problem: dict[str, Any]) -> None:
    error_type = MalformedPayload if problem.get("status") == 400 else InvalidEnvelope
    extensions = {
        k: v for k, v in problem.items() if k not in {"type", "title", "status", "detail"}
    }
    raise error_type(problem.get("detail"), **extensions)


def _release(parts: list[Rows]) -> None:
    """Drop the rows and the stream's closure (which holds the decoded points and refers back
    to its Rows: a cycle only the slow collector would find), so a large series' memory is free
    before the next one is decoded."""
    for part in parts:
        part.stream = None
        part.rows = []


def _newest(parts: list[Rows]) -> datetime | None:
    newest: datetime | None = None
    for part in parts:
        if part.stream is not None and part.last_at is not None:
            newest = part.last_at if newest is None or part.last_at > newest else newest
            continue
        if not part.rows:
            continue
        column = "night_at" if "night_at" in part.columns else "start_at"
        position = part.columns.index(column)
        latest = max(row[position] for row in part.rows)
        newest = latest if newest is None or latest > newest else newest
    return newest


_SECTION_LABELS = ("workouts", *events.SECTIONS)


# A JSON \u0000 escape not itself escaped (an odd run of backslashes before the "u").
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def _without_nul(body: bytes) -> tuple[bytes, bool]:
    """The body with every NUL escape turned into U+FFFD (valid JSON, storable text)."""
    if b"\\u0000" not in body:  # the common case costs one C-speed scan
        return body, False
    replaced, count = _NUL_ESCAPE.subn(rb"\1\\ufffd", body)
    return replaced, count > 0


def _count_points(result: dict[str, Any]) -> None:
    outcomes = ("inserted", "updated", "unchanged", "rejected")
    sections: list[tuple[str, dict[str, int]]] = [
        ("metrics", c) for c in result["metrics"].values()
    ]
    sections += [(s, result[s]) for s in _SECTION_LABELS if isinstance(result.get(s), dict)]
    for section, counts in sections:
        for outcome in outcomes:
            if counts.get(outcome):
                metrics.INGEST_POINTS.labels(section=section, outcome=outcome).inc(counts[outcome])
    unnamed = result["totals"]["rejected"] - sum(c.get("rejected", 0) for _, c in sections)
    if unnamed > 0:
        metrics.INGEST_POINTS.labels(section="metrics", outcome="rejected").inc(unnamed)


def _count_flags(flagged: list[str]) -> None:
    for metric in flagged:
        metrics.QUALITY_FLAGGED.labels(metric=rules.family(metric)).inc()


def _observe(result: dict[str, Any], reasons: dict[str, int], elapsed: float) -> None:
    metrics.INGEST_PAYLOADS.labels(outcome=result["status"]).inc()
    metrics.INGEST_DURATION.observe(elapsed)
    _count_points(result)
    for reason, count in reasons.items():
        metrics.INGEST_REJECTIONS.labels(reason=reason).inc(count)
    if result.get("failed"):
        metrics.INGEST_REJECTIONS.labels(reason="storage").inc(len(result["failed"]))
