"""``export USER``: the same document as ``GET /v1/export``, for operators."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from app.cli.runtime import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    Action,
    Clients,
    fail,
    user_id_by_name,
)
from app.export.service import ExportService
from app.query.errors import InvalidQuery
from app.query.timerange import parse_range, parse_tz

commands = typer.Typer()


@commands.command(
    "export", help="a user's data as Health Auto Export JSON (re-importable anywhere)"
)
def export(
    user: Annotated[str, typer.Argument()],
    start: Annotated[
        str | None,
        typer.Option("--from", help="inclusive: 2023-01-20 or an ISO date-time"),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="exclusive, same forms")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA zone for local --from/--to")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")
    ] = None,
) -> Action:
    return partial(export_user, user=user, start=start, end=end, tz=tz, output=output)


async def export_user(
    clients: Clients,
    *,
    user: str,
    start: str | None,
    end: str | None,
    tz: str | None,
    output: Path | None,
) -> int:
    """Exit 0, 2 (bad range) or 4 (no such user)."""
    user_id = await user_id_by_name(clients, user)
    if user_id is None:
        return fail(f"no user {user!r}", EXIT_NOT_FOUND)
    try:
        lo, hi = parse_range(start, end, parse_tz(tz))
    except InvalidQuery as exc:
        return fail(str(exc), EXIT_USAGE)
    service = ExportService(clients.engine)
    await service.record(user_id, lo, hi, via="cli")
    chunks = service.stream(user_id, lo, hi)
    if output is None:
        await _to_stdout(chunks)
        return EXIT_OK
    await _to_file(chunks, output)
    print(f"exported user {user} to {output}", file=sys.stderr)
    return EXIT_OK


async def _to_stdout(chunks: AsyncIterator[bytes]) -> None:
    binary = getattr(sys.stdout, "buffer", None)  # absent when stdout is redirected to a StringIO
    async for chunk in chunks:
        if binary is not None:
            binary.write(chunk)
        else:
            sys.stdout.write(chunk.decode())
    sys.stdout.flush()


async def _to_file(chunks: AsyncIterator[bytes], path: Path) -> None:
    handle = await asyncio.to_thread(_open, path)
    try:
        async for chunk in chunks:
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)


def _open(path: Path) -> BinaryIO:
    return path.open("wb")
