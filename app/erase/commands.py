"""``python -m app.cli users erase NAME --yes``: full account erasure, printing the receipt."""

from __future__ import annotations

import argparse
import json
import sys

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.erase.service import EraseService
from app.export.commands import user_id_of


def add_parser(users: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    erase = users.add_parser(
        "erase",
        help="erase a user: every row, archived payload, key and cache entry (audit kept)",
    )
    erase.add_argument("name")
    erase.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")


async def run(
    args: argparse.Namespace, engine: AsyncEngine, redis: Redis, settings: Settings
) -> int:
    """Exit 0 (the receipt, as JSON, on stdout), 2 (not confirmed) or 4 (no such user)."""
    if not args.yes:
        print(f"erasing {args.name!r} cannot be undone; add --yes to confirm", file=sys.stderr)
        return 2
    user_id = await user_id_of(engine, args.name)
    if user_id is None:
        print(f"no user {args.name!r}", file=sys.stderr)
        return 4
    receipt = await EraseService(engine, redis, settings).erase_account(user_id, via="cli")
    print(json.dumps(receipt, ensure_ascii=False, indent=2))
    return 0
