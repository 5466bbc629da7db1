"""Background processing: ``python -m app.worker``.

PostgreSQL is the queue: the raw ingestion row is the job. A worker claims the oldest due row
(``FOR UPDATE SKIP LOCKED``, so any number of workers share the queue), holds it with a lease it
renews while working, and records the outcome in the same transaction as the report. A worker
killed mid-ingest simply lets its lease run out; the next one takes the row over and, since every
write is an idempotent upsert, finishes with exactly the rows a clean run would have written.
Failures are retried with exponential backoff; after HAE_WORKER_MAX_ATTEMPTS the row is marked
failed with the reason (replay it with ``python -m app.cli ingestions replay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import structlog

from app.config import Settings, get_settings
from app.db.engine import create_engine
from app.db.errors import STORAGE_ERRORS
from app.db.partitions import PartitionManager
from app.ingest import jobs, notify
from app.ingest.service import IngestService
from app.lifespan import maintain_partitions
from app.logging import configure as configure_logging

log = structlog.get_logger("app.worker")


async def run(settings: Settings, stop: asyncio.Event, *, exit_when_idle: bool = False) -> int:
    """Process until ``stop`` is set (finishing the ingestion in hand), or the queue is empty."""
    engine = create_engine(settings, pool_size=3)
    partitions = PartitionManager(engine)
    await maintain_partitions(partitions, settings)
    service = IngestService(engine, partitions, settings)
    # Woken by NOTIFY when a body is queued; the poll interval remains for due retries, and for
    # any notification lost while the listening connection was down.
    listener = notify.Listener(settings.database_url, (notify.QUEUED,))
    log.info("worker.started", worker=service.jobs.worker_id)
    processed = 0
    backoff = settings.worker_poll_s
    try:
        while not stop.is_set():
            ticket = listener.ticket(notify.QUEUED)
            try:
                report = await jobs.run_next(service)
            except STORAGE_ERRORS as exc:
                # The database is away: the job is safe in its row; try again, slower each time.
                log.warning("worker.database_unavailable", error_type=type(exc).__name__)
                backoff = min(backoff * 2, 30.0)
                await _wait(stop, backoff)
                continue
            finally:
                structlog.contextvars.clear_contextvars()
            backoff = settings.worker_poll_s
            if report is None:
                if exit_when_idle:
                    break
                await _idle(stop, listener, ticket, settings.worker_poll_s)
                continue
            processed += 1
            log.info("worker.ingestion_done", status=report.get("status"))
    finally:
        await listener.close()
        await engine.dispose()
        log.info("worker.stopped", processed=processed)
    return processed


async def _idle(
    stop: asyncio.Event, listener: notify.Listener, ticket: asyncio.Event, seconds: float
) -> None:
    """Until work is notified, ``seconds`` pass, or the worker is asked to stop."""
    stopping = asyncio.create_task(stop.wait())
    woken = asyncio.create_task(listener.wait(ticket, seconds))
    try:
        await asyncio.wait((stopping, woken), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (stopping, woken):
            task.cancel()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _main() -> int:
    settings = get_settings()
    configure_logging(json=settings.environment == "production")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run(settings, stop, exit_when_idle="--once" in sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
