"""``audit``, ``quality`` and ``freshness``: read-only reports, one JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Annotated, Any

import typer

from app.audit import repository as audit_repo
from app.cli.runtime import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    Action,
    Clients,
    aware_datetime,
    fail,
    user_id_by_name,
)
from app.quality import repository as quality_repo

reports = typer.Typer()

User = Annotated[str | None, typer.Option(help="only this user's records")]
Since = Annotated[
    datetime | None,
    typer.Option(parser=aware_datetime, metavar="SINCE", help="ISO 8601 time, e.g. 2026-11-01"),
]
Until = Annotated[
    datetime | None,
    typer.Option(parser=aware_datetime, metavar="UNTIL", help="ISO 8601 time (exclusive)"),
]
Limit = Annotated[int, typer.Option()]


Records = list[dict[str, Any]]


@reports.command("audit", help="show the audit trail (newest first)")
def audit(
    user: User = None,
    action: Annotated[
        str | None, typer.Option(help="only this action, e.g. ingest, key.revoked, auth.failed")
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
) -> Action:
    async def records(clients: Clients, user_id: int | None) -> Records:
        async with clients.sessions()() as session:
            return await audit_repo.search(
                session, user_id=user_id, action=action, since=since, until=until, limit=limit
            )

    return partial(report, user=user, records=records)


@reports.command("quality", help="improbable values that were stored and flagged")
def quality(
    user: User = None,
    metric: Annotated[str | None, typer.Option()] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
) -> Action:
    async def records(clients: Clients, user_id: int | None) -> Records:
        async with clients.engine.connect() as conn:
            return await quality_repo.list_flags(
                conn, user_id=user_id, metric=metric, since=since, until=until, limit=limit
            )

    return partial(report, user=user, records=records)


@reports.command("freshness", help="last data per user, metric and automation")
def freshness(
    user: User = None,
    silent_hours: Annotated[
        float | None, typer.Option(help="only users whose last ingest is older than this")
    ] = None,
) -> Action:
    async def records(clients: Clients, user_id: int | None) -> Records:
        async with clients.engine.connect() as conn:
            found = await quality_repo.freshness(conn, user_id)
        if silent_hours is None:
            return found
        return _silent_users(found, datetime.now(UTC) - timedelta(hours=silent_hours))

    return partial(report, user=user, records=records)


async def report(
    clients: Clients,
    *,
    user: str | None,
    records: Callable[[Clients, int | None], Awaitable[Records]],
) -> int:
    """The records (of one user, or of everyone), one JSON object a line."""
    user_id = None
    if user is not None and (user_id := await user_id_by_name(clients, user)) is None:
        return fail(f"no user {user!r}", EXIT_NOT_FOUND)
    for record in await records(clients, user_id):
        print(json.dumps(record, default=str, ensure_ascii=False))
    return EXIT_OK


def _silent_users(records: Records, cutoff: datetime) -> Records:
    """The records of users whose latest ingest (of anything) is before ``cutoff``."""
    latest: dict[str, datetime] = {}
    for record in records:
        user, at = record["user"], record["last_ingested_at"]
        latest[user] = max(latest.get(user, at), at)
    return [record for record in records if latest[record["user"]] < cutoff]
