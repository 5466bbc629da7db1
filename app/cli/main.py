"""The command tree and the process around a command: settings, logging, clients, exit code."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import typer

from app.cli.export import commands as export_commands
from app.cli.ingestions import ingestions
from app.cli.keys import keys
from app.cli.partitions import partitions
from app.cli.reports import reports
from app.cli.runtime import Action, Clients
from app.cli.users import users
from app.config import get_settings
from app.db.engine import create_engine
from app.lifespan import create_redis
from app.logging import configure as configure_logging

PROG = "python -m app.cli"


async def run(action: Action) -> int:
    """Run a parsed command with clients of its own, closed afterwards."""
    settings = get_settings()
    configure_logging(json=settings.environment == "production", level="WARNING")
    engine = create_engine(settings, pool_size=2)
    redis = create_redis(settings)
    try:
        return await action(Clients(engine, redis, settings))
    finally:
        await redis.aclose()
        await engine.dispose()


def _run_parsed(action: Action) -> None:
    # Every command returns its Action; this runs it once parsing succeeded.
    raise typer.Exit(asyncio.run(run(action)))


cli = typer.Typer(
    help="Admin commands. Exit codes: 0 done, 2 usage, 3 already exists, 4 not found.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click output for usage errors, and no tracebacks that print local variables
    # (secrets, connection strings).
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    result_callback=_run_parsed,
)
cli.add_typer(users, name="users")
cli.add_typer(keys, name="keys")
cli.add_typer(reports)
cli.add_typer(ingestions, name="ingestions")
cli.add_typer(partitions, name="partitions")
cli.add_typer(export_commands)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m app.cli ARGS``: the exit code (2 for a command line that was refused)."""
    try:
        typer.main.get_command(cli).main(args=argv, prog_name=PROG)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0
