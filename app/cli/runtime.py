"""What every command shares: the clients it runs with, its exit codes, name lookups.

A command parses its options into an ``Action`` (an async function of the clients); the entry
point opens the clients only once the command line was accepted, runs the action and exits with
the code it returns.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth import repository as auth_repo
from app.config import Settings
from app.db.engine import create_sessionmaker

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_EXISTS = 3
EXIT_NOT_FOUND = 4


@dataclass(frozen=True, slots=True)
class Clients:
    engine: AsyncEngine
    redis: Redis | None
    settings: Settings

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return create_sessionmaker(self.engine)


Action: TypeAlias = Callable[[Clients], Awaitable[int]]


def fail(message: str, code: int) -> int:
    """Say why on stderr; the exit code to return."""
    print(message, file=sys.stderr)
    return code


async def user_id_by_name(clients: Clients, name: str) -> int | None:
    async with clients.sessions()() as session:
        user = await auth_repo.user_by_name(session, name)
    return None if user is None else user.id


def aware_datetime(value: str) -> datetime:
    """ISO 8601; a time without an offset is UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
