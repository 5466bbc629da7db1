"""The outcome of a body, recorded in its last transaction: the report on the archived row
(which also ends or reschedules the job), data freshness, and the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit import repository as audit
from app.ingest.jobs import RetryPolicy
from app.ingest.report.builder import ReportBuilder
from app.ingest.repository import archive
from app.ingest.types import Job
from app.quality import repository as quality

_ROW_STATUS = {"processed": "processed", "failed": "failed"}  # anything else: back in the queue


async def record(
    conn: AsyncConnection, job: Job, report: ReportBuilder, policy: RetryPolicy
) -> dict[str, Any]:
    """Record the outcome in ``conn``'s transaction; the report as the client reads it."""
    result = report.build()
    retry = None
    if report.failed:
        # Written series stay written; the whole body is retried later (idempotently).
        result["status"], retry = policy.after(job.attempts)
    await archive.finish(
        conn,
        job.ingestion_id,
        status=_ROW_STATUS.get(result["status"], "pending"),
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
