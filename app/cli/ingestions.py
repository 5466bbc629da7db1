"""``ingestions replay ID|--failed``: reprocess archived request bodies (idempotent)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from app.cli.runtime import EXIT_NOT_FOUND, EXIT_OK, Action, Clients, fail
from app.db.partitions import PartitionManager
from app.ingest import jobs
from app.ingest.repository import archive
from app.ingest.service import IngestService

ingestions = typer.Typer(help="raw payload archive", no_args_is_help=True)


@ingestions.command("replay", help="reprocess archived bodies (idempotent)")
def replay(
    ingestion_id: Annotated[int | None, typer.Argument(show_default=False)] = None,
    failed: Annotated[bool, typer.Option("--failed", help="every ingestion marked failed")] = False,
) -> Action:
    if (ingestion_id is None) == (not failed):
        raise typer.BadParameter("give an ingestion id or --failed (one of them)")
    return partial(replay_ingestions, ingestion_id=ingestion_id)


async def replay_ingestions(clients: Clients, *, ingestion_id: int | None) -> int:
    """One ingestion, or (``ingestion_id`` None) every failed one; a line of totals each."""
    ids = [ingestion_id] if ingestion_id is not None else await _failed_ids(clients)
    service = IngestService(clients.engine, PartitionManager(clients.engine), clients.settings)
    for one_id in ids:
        try:
            report = await jobs.replay(service, one_id)
        except LookupError:
            return fail(f"no ingestion {one_id}", EXIT_NOT_FOUND)
        totals = " ".join(f"{k}={v}" for k, v in report["totals"].items())
        print(f"{one_id}\t{report['status']}\t{totals}")
    return EXIT_OK


async def _failed_ids(clients: Clients) -> list[int]:
    async with clients.engine.connect() as conn:
        return await archive.failed_ids(conn)
