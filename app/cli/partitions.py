"""``partitions maintain``: move the partition window with the clock, create the coming months."""

from __future__ import annotations

import typer

from app.cli.runtime import EXIT_OK, Action, Clients
from app.db.partitions import PartitionManager

partitions = typer.Typer(help="monthly partitions of the series tables", no_args_is_help=True)


@partitions.command(
    "maintain", help="move the partition window with the clock; create the coming months"
)
def maintain() -> Action:
    return maintain_partitions


async def maintain_partitions(clients: Clients) -> int:
    await PartitionManager(clients.engine).maintain(clients.settings.partition_window_years)
    print("partitions maintained")
    return EXIT_OK
