"""``python -m app.cli export USER``: the same document as ``GET /v1/export``, for operators."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import repository as auth_repo
from app.db.engine import create_sessionmaker
from app.export.service import ExportService
from app.query.errors import InvalidQuery
from app.query.timerange import parse_range, parse_tz


def add_parser(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = groups.add_parser(
        "export", help="a user's data as Health Auto Export JSON (re-importable anywhere)"
    )
    export.add_argument("user")
    export.add_argument("--from", dest="start", help="inclusive: 2023-01-20 or an ISO date-time")
    export.add_argument("--to", dest="end", help="exclusive, same forms")
    export.add_argument("--tz", help="IANA zone for local --from/--to")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")


async def user_id_of(engine: AsyncEngine, name: str) -> int | None:
    async with create_sessionmaker(engine)() as session:
        user = await auth_repo.user_by_name(session, name)
    return None if user is None else user.id


def _open(path: Path) -> BinaryIO:
    return path.open("wb")


async def run(args: argparse.Namespace, engine: AsyncEngine) -> int:
    """Exit 0, 2 (bad range) or 4 (no such user)."""
    user_id = await user_id_of(engine, args.user)
    if user_id is None:
        print(f"no user {args.user!r}", file=sys.stderr)
        return 4
    try:
        lo, hi = parse_range(args.start, args.end, parse_tz(args.tz))
    except InvalidQuery as exc:
        print(exc.detail, file=sys.stderr)
        return 2
    service = ExportService(engine)
    await service.record(user_id, lo, hi, via="cli")
    if args.output is None:
        for_text = getattr(sys.stdout, "buffer", None)
        async for chunk in service.stream(user_id, lo, hi):
            if for_text is not None:
                for_text.write(chunk)
            else:
                sys.stdout.write(chunk.decode())
        sys.stdout.flush()
        return 0
    handle = await asyncio.to_thread(_open, args.output)
    try:
        async for chunk in service.stream(user_id, lo, hi):
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    print(f"exported user {args.user} to {args.output}", file=sys.stderr)
    return 0
