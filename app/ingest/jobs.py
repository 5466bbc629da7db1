"""Jobs: the archived body is the job. Claimed with a lease (``FOR UPDATE SKIP LOCKED``, so any
number of workers and API processes share the queue), held by a heartbeat while it is worked on,
retried with exponential backoff when storage failed, replayed on an operator's request.

Where a retry is decided: ``RetryPolicy.after``. The worker loop (``app.worker``) and the CLI's
replay call ``run_next`` and ``replay``; the HTTP edge claims a small body at once when it is
archived (``receive.archive.store(claim_for=...)``) or takes over a re-sent one (``Jobs.take``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.errors import STORAGE_ERRORS
from app.errors import InvalidEnvelope, MalformedPayload
from app.ingest.receive.archive import load_body
from app.ingest.repository import archive
from app.ingest.types import RawIngestion

log = structlog.get_logger(__name__)

_MAX_BACKOFF_S = 600
_FIRST_BACKOFF_S = 5


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int

    def after(self, attempts: int) -> tuple[str, float | None]:
        """After ``attempts`` that failed: ("retrying", seconds until the next, doubling each
        time) or ("failed", None) once they are spent."""
        if attempts >= self.max_attempts:
            return "failed", None
        return "retrying", float(min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2 ** max(0, attempts - 1)))


class Jobs:
    """This process's handle on the queue: its worker id, its lease, its retry policy."""

    def __init__(self, engine: AsyncEngine, *, lease_s: int, max_attempts: int) -> None:
        self._engine = engine
        self.lease_s = lease_s
        self.policy = RetryPolicy(max_attempts)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def take(self, ingestion_id: int) -> RawIngestion | None:
        """Claim a queued or failed ingestion unless someone holds it."""
        async with self._engine.begin() as conn:
            return await archive.claim(conn, ingestion_id, self.worker_id, self.lease_s)

    async def take_next(self) -> tuple[RawIngestion, bytes] | None:
        """Claim the oldest due ingestion, with its body; None when the queue is empty."""
        async with self._engine.begin() as conn:
            claimed = await archive.claim_next(conn, self.worker_id, self.lease_s)
            if claimed is None:
                return None
            return claimed, await load_body(conn, claimed.id)

    async def take_for_replay(self, ingestion_id: int) -> tuple[RawIngestion, bytes]:
        """Claim an ingestion whatever its state, with its body (LookupError if none)."""
        async with self._engine.begin() as conn:
            claimed = await archive.claim(
                conn, ingestion_id, self.worker_id, self.lease_s, force=True
            )
            if claimed is None:
                raise LookupError(f"no ingestion {ingestion_id}")
            return claimed, await load_body(conn, ingestion_id)

    @asynccontextmanager
    async def lease(self, ingestion_id: int) -> AsyncIterator[None]:
        """Renew the claim while the body is worked on (a third of the lease at a time)."""
        heartbeat = asyncio.create_task(self._heartbeat(ingestion_id))
        try:
            yield
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, ingestion_id: int) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                async with self._engine.begin() as conn:
                    await archive.renew(conn, ingestion_id, self.worker_id, self.lease_s)
            except STORAGE_ERRORS as exc:
                log.warning("ingest.lease_renewal_failed", error_type=type(exc).__name__)

    async def interrupted(self, ingestion: RawIngestion, error: str) -> dict[str, Any]:
        """Processing broke off: back in the queue for a later attempt, or failed when the
        attempts are spent; the report that says so."""
        status, retry = self.policy.after(ingestion.attempts)
        report = _interrupted_report(ingestion.id, status, error)
        async with self._engine.begin() as conn:
            await archive.finish(
                conn,
                ingestion.id,
                status="failed" if status == "failed" else "pending",
                report=report,
                error=error,
                retry_in_s=retry,
            )
        return report

    async def rejected(
        self, ingestion_id: int, problem: dict[str, Any], detail: str | None
    ) -> None:
        """The body itself cannot be read: the job ends, rejected, with the problem."""
        async with self._engine.begin() as conn:
            await archive.finish(
                conn, ingestion_id, status="rejected", report=problem, error=detail
            )


class Processor(Protocol):
    """What processes a claimed body (``IngestService``)."""

    jobs: Jobs

    async def process(
        self, ingestion: RawIngestion, body: bytes, *, use_digests: bool = True
    ) -> dict[str, Any]: ...


async def run_next(processor: Processor) -> dict[str, Any] | None:
    """Claim the oldest due ingestion and process it; None when the queue is empty."""
    taken = await processor.jobs.take_next()
    if taken is None:
        return None
    claimed, body = taken
    try:
        return await processor.process(claimed, body)
    except (MalformedPayload, InvalidEnvelope) as exc:
        return exc.problem() | {"ingestion_id": claimed.id, "status": "rejected"}


async def replay(processor: Processor, ingestion_id: int) -> dict[str, Any]:
    """Reprocess an archived body (after a mapping fix, say): idempotent by natural keys.

    Every series goes through normalise and merge again: a replay is how a mapping fix reaches
    data already stored, which a digest would answer as unchanged."""
    claimed, body = await processor.jobs.take_for_replay(ingestion_id)
    return await processor.process(claimed, body, use_digests=False)


def _interrupted_report(ingestion_id: int, status: str, error: str) -> dict[str, Any]:
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
