"""The ingest pipeline, conducted: receive -> decode -> normalise -> write -> report.

receive   ``receive.body`` reads the body within its limits (at the HTTP edge);
          ``receive.archive`` commits it before anything else is done with it.
decode    ``decode.envelope`` splits it into sections.
normalise ``normalise.sections`` turns each section into write units (one per metric series).
write     ``write.strategy`` groups the units' writes into transactions; ``write.series`` and
          ``write.workouts`` choose COPY or merge per table.
report    ``report.builder`` counts every point; ``report.outcome`` records the report with
          the last write; ``report.counting`` tells Prometheus once it is committed.

Jobs (claiming, leases, retries, replays) are ``app.ingest.jobs``. No FastAPI here: the router
hands over bytes and headers; the worker and the CLI's replay reach ``process`` through jobs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.engine import autocommit
from app.db.errors import STORAGE_ERRORS
from app.db.partitions import PartitionManager
from app.errors import InvalidEnvelope, MalformedPayload
from app.ingest.decode import envelope as envelopes
from app.ingest.jobs import Jobs
from app.ingest.normalise import sections
from app.ingest.normalise.common import Context
from app.ingest.normalise.sections.metrics import MetricsSection
from app.ingest.receive import archive
from app.ingest.receive.body import ReceivedBody
from app.ingest.report import counting, outcome
from app.ingest.report.builder import ReportBuilder, as_duplicate
from app.ingest.types import Attempt, Envelope, Job, Outcome, RawIngestion, Sender
from app.ingest.write import units
from app.ingest.write.strategy import Fallback, OneTransaction, PerSeries, Strategy
from app.observability import metrics

log = structlog.get_logger(__name__)

# Bodies up to this size (routine syncs, and bodies of many small series) are written in one
# transaction, the series of each table together: a few statements per table and one commit.
# Larger ones, and those with a series long enough to stream, go series by series (bounded
# memory and lock time; a storage failure costs one series), as does a small one whose
# transaction failed.
COMPACT_MAX_BYTES = 4 * 1024 * 1024


class IngestService:
    def __init__(
        self,
        engine: AsyncEngine,
        partitions: PartitionManager,
        settings: Settings,
    ) -> None:
        self._engine = engine
        self._autocommit = autocommit(engine)
        self._partitions = partitions
        self._settings = settings
        self._metrics = MetricsSection(engine, unknown_cap=settings.max_unknown_metrics_per_user)
        self.jobs = Jobs(
            engine, lease_s=settings.worker_lease_s, max_attempts=settings.worker_max_attempts
        )

    async def ingest(self, sender: Sender, received: ReceivedBody) -> Outcome:
        """Archive one body, then process it now (small) or leave it to the worker (large)."""
        metrics.INGEST_BYTES.inc(received.size)
        inline = received.body is not None and received.size <= self._settings.async_threshold_bytes
        claim_for = self.jobs.worker_id if inline else None
        ingestion = await archive.store(
            self._autocommit, sender, received, claim_for, self._settings.worker_lease_s
        )
        if not ingestion.created:
            answered = _answered_before(ingestion)
            if answered is not None:
                return answered
            if inline:  # sent again while queued or failed: take it over unless someone holds it
                ingestion = await self.jobs.take(ingestion.id) or ingestion
        if not ingestion.claimed or received.body is None:
            counting.count_payload("accepted")
            log.info("ingest.accepted", ingestion_id=ingestion.id, bytes=received.size)
            return Outcome(ingestion.id, None)
        return Outcome(ingestion.id, await self.process(ingestion, received.body))

    async def process(
        self, ingestion: RawIngestion, body: bytes, *, use_digests: bool = True
    ) -> dict[str, Any]:
        """Process a claimed ingestion, renewing the claim while it works."""
        structlog.contextvars.bind_contextvars(ingestion_id=ingestion.id, user_id=ingestion.user_id)
        try:
            async with self.jobs.lease(ingestion.id):
                return await self._process(ingestion, body, use_digests)
        except (MalformedPayload, InvalidEnvelope):
            counting.count_payload("rejected")
            raise
        except Exception as exc:
            log.exception("ingest.interrupted", error_type=type(exc).__name__)
            report = await self.jobs.interrupted(ingestion, type(exc).__name__)
            counting.count_payload(report["status"])
            return report

    async def _process(
        self, ingestion: RawIngestion, body: bytes, use_digests: bool
    ) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            envelope = envelopes.decode(body)
        except (MalformedPayload, InvalidEnvelope) as exc:
            await self.jobs.rejected(ingestion.id, exc.problem(), exc.detail)
            raise
        job = Job(ingestion.id, ingestion.user_id, len(body), ingestion.attempts, use_digests)
        attempt: Attempt | None = None
        if len(body) <= COMPACT_MAX_BYTES and not sections.may_stream(envelope):
            try:
                attempt = await self._attempt(job, envelope, compact=True)
            except (*STORAGE_ERRORS, Fallback) as exc:
                # Nothing of the attempt is kept (one transaction): the series-by-series way
                # below stores what it can and reports the rest, as for a large body.
                metrics.INGEST_FALLBACKS.inc()
                log.warning("ingest.single_transaction_fallback", error_type=type(exc).__name__)
        if attempt is None:
            attempt = await self._attempt(job, envelope, compact=False)
        result = attempt.result
        counting.count_flags(attempt.flagged)
        elapsed = time.perf_counter() - started
        counting.count_processed(result, attempt.reasons, elapsed)
        log.info(
            "ingest.processed",
            status=result["status"],
            duration_s=round(elapsed, 4),
            **result["totals"],
        )
        return result

    async def _attempt(self, job: Job, envelope: Envelope, *, compact: bool) -> Attempt:
        """Normalise every section into write units and write them: all in one transaction
        (``compact``) or series by series."""
        ctx = Context(
            user_id=job.user_id,
            ingestion_id=job.ingestion_id,
            now=datetime.now(UTC),
            future_tolerance=timedelta(days=self._settings.future_tolerance_days),
        )
        report = ReportBuilder(job.ingestion_id)
        report.unknown_sections = envelopes.unknown_sections(envelope)
        report.warnings += envelope.warnings
        strategy: Strategy = (
            OneTransaction(self._engine, self._partitions, job.user_id)
            if compact
            else PerSeries(self._engine, self._partitions, report)
        )
        async for normalised in sections.normalise(
            envelope, ctx, report, self._metrics, use_digests=job.use_digests
        ):
            await strategy.add(units.unit_for(normalised, ctx, report))
        result, flagged = await strategy.commit(
            lambda conn: outcome.record(conn, job, report, self.jobs.policy)
        )
        return Attempt(result, flagged, report.reasons)


def _answered_before(ingestion: RawIngestion) -> Outcome | None:
    """The answer to a body identical to one already processed or rejected; None otherwise."""
    if ingestion.status == "processed" and ingestion.report is not None:
        log.info("ingest.duplicate", ingestion_id=ingestion.id)
        duplicate = as_duplicate(ingestion.report)
        counting.count_payload("duplicate")
        counting.count_points(duplicate)
        return Outcome(ingestion.id, duplicate)
    if ingestion.status == "rejected" and ingestion.report is not None:
        _raise_stored_rejection(ingestion.report)
    return None


def _raise_stored_rejection(problem: dict[str, Any]) -> None:
    error_type = MalformedPayload if problem.get("status") == 400 else InvalidEnvelope
    extensions = {
        k: v for k, v in problem.items() if k not in {"type", "title", "status", "detail"}
    }
    raise error_type(problem.get("detail"), **extensions)
