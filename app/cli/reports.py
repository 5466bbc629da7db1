"""``audit``, ``quality`` and ``freshness``: read-only reports, one JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Iterable
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
    return partial(show_audit, user=user, action=action, since=since, until=until, limit=limit)


@reports.command("quality", help="improbable values that were stored and flagged")
def quality(
    user: User = None,
    metric: Annotated[str | None, typer.Option()] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
) -> Action:
    return partial(show_quality, user=user, metric=metric, since=since, until=until, limit=limit)


@reports.command("freshness", help="last data per user, metric and automation")
def freshness(
    user: User = None,
    silent_hours: Annotated[
        float | None, typer.Option(help="only users whose last ingest is older than this")
    ] = None,
) -> Action:
    return partial(show_freshness, user=user, silent_hours=silent_hours)


async def show_audit(
    clients: Clients,
    *,
    user: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> int:
    user_id = None
    if user is not None and (user_id := await user_id_by_name(clients, user)) is None:
        return fail(f"no user {user!r}", EXIT_NOT_FOUND)
    async with clients.sessions()() as session:
        records = await audit_repo.search(
            session, user_id=user_id, action=action, since=since, until=until, limit=limit
        )
    _print_lines(records)
    return EXIT_OK


async def show_quality(
    clients: Clients,
    *,
    user: str | None,
    metric: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> int:
    user_id = None
    if user is not None and (user_id := await user_id_by_name(clients, user)) is None:
        return fail(f"no user {user!r}", EXIT_NOT_FOUND)
    async with clients.engine.connect() as conn:
        records = await quality_repo.list_flags(
            conn, user_id=user_id, metric=metric, since=since, until=until, limit=limit
        )
    _print_lines(records)
    return EXIT_OK


async def show_freshness(clients: Clients, *, user: str | None, silent_hours: float | None) -> int:
    user_id = None
    if user is not None and (user_id := await user_id_by_name(clients, user)) is None:
        return fail(f"no user {user!r}", EXIT_NOT_FOUND)
    async with clients.engine.connect() as conn:
        records = await quality_repo.freshness(conn, user_id)
    if silent_hours is not None:
        records = _silent_users(records, datetime.now(UTC) - timedelta(hours=silent_hours))
    _print_lines(records)
    return EXIT_OK


def _silent_users(records: list[dict[str, Any]], cutoff: datetime) -> list[dict[str, Any]]:
    """The records of users whose latest ingest (of anything) is before ``cutoff``."""
    latest: dict[str, datetime] = {}
    for record in records:
        user, at = record["user"], record["last_ingested_at"]
        latest[user] = max(latest.get(user, at), at)
    return [record for record in records if latest[record["user"]] < cutoff]


def _print_lines(records: Iterable[dict[str, Any]]) -> None:
    for record in records:
        print(json.dumps(record, default=str, ensure_ascii=False))
