"""``keys create|list|revoke|rotate|verify``: API keys; a secret is printed once, as the last line."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Annotated

import typer

from app.audit import repository as audit
from app.auth import keys as auth_keys
from app.auth import repository as auth_repo
from app.auth import service as auth_service
from app.cli.runtime import EXIT_NOT_FOUND, EXIT_OK, Action, Clients, fail, user_id_by_name

keys = typer.Typer(help="manage API keys", no_args_is_help=True)


class Scope(StrEnum):  # auth_service.SCOPES, which create_key enforces in any case
    read = "read"
    write = "write"


KeyId = Annotated[str, typer.Argument()]


@keys.command("create", help="create a key; the key alone is the last output line")
def create(
    user: Annotated[str, typer.Argument()],
    scope: Annotated[
        list[Scope] | None,
        typer.Option(help="write (the phone; default) and/or read (dashboards); repeat for both"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="a label, e.g. the device")] = None,
    expires_days: Annotated[
        int | None, typer.Option(min=1, help="the key stops working after N days (N >= 1)")
    ] = None,
    rate_limit_requests: Annotated[
        int | None, typer.Option(min=1, help="requests per window (default: server's)")
    ] = None,
    rate_limit_bytes: Annotated[
        int | None, typer.Option(min=1, help="body bytes per window (default: server's)")
    ] = None,
) -> Action:
    return partial(
        create_key,
        user=user,
        scopes=tuple(s.value for s in scope) if scope else ("write",),
        label=name,
        expires=None if expires_days is None else timedelta(days=expires_days),
        rate_limit_requests=rate_limit_requests,
        rate_limit_bytes=rate_limit_bytes,
    )


@keys.command("list", help="list keys (never their secrets)")
def list_(user: Annotated[str | None, typer.Argument()] = None) -> Action:
    return partial(list_keys, user=user)


@keys.command("revoke", help="revoke a key by its key id")
def revoke(key_id: KeyId) -> Action:
    return partial(revoke_key, key_id=key_id)


@keys.command(
    "rotate",
    help="new key with the same user, scopes and limits; the old one expires after a grace period",
)
def rotate(key_id: KeyId, grace_hours: Annotated[float, typer.Option()] = 24.0) -> Action:
    return partial(rotate_key, key_id=key_id, grace=timedelta(hours=grace_hours))


@keys.command(
    "verify",
    help="read a key on stdin: exit 0 when it authenticates now, 4 when not (revoked, expired...)",
)
def verify() -> Action:
    return partial(verify_key, token=sys.stdin.readline().strip())


async def create_key(
    clients: Clients,
    *,
    user: str,
    scopes: tuple[str, ...],
    label: str | None,
    expires: timedelta | None,
    rate_limit_requests: int | None,
    rate_limit_bytes: int | None,
) -> int:
    async with clients.sessions()() as session, session.begin():
        owner = await auth_repo.user_by_name(session, user)
        if owner is None:
            return fail(f"no user {user!r} (create it: users create NAME)", EXIT_NOT_FOUND)
        key, token = await auth_service.create_key(
            session,
            owner,
            scopes=scopes,
            label=label,
            expires_at=None if expires is None else datetime.now(UTC) + expires,
            rate_limit_requests=rate_limit_requests,
            rate_limit_bytes=rate_limit_bytes,
        )
    print(f"created key {key.key_id} for {owner.name}, scopes {','.join(key.scopes)}")
    _print_secret(token)
    return EXIT_OK


async def list_keys(clients: Clients, *, user: str | None) -> int:
    user_id = None
    if user is not None:
        user_id = await user_id_by_name(clients, user)
        if user_id is None:
            return fail(f"no user {user!r}", EXIT_NOT_FOUND)
    async with clients.sessions()() as session:
        found = await auth_repo.list_keys(session, user_id)
    now = datetime.now(UTC)
    for key, owner in found:
        state = "revoked" if key.revoked_at else "active"
        if key.expires_at and key.expires_at <= now:
            state = "expired"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        print(
            f"{key.key_id}\t{owner}\t{','.join(key.scopes)}\t{state}\tlast used {used}\t{key.name or ''}"
        )
    return EXIT_OK


async def revoke_key(clients: Clients, *, key_id: str) -> int:
    async with clients.sessions()() as session, session.begin():
        revoked = await auth_repo.revoke_key(session, key_id, datetime.now(UTC))
        if revoked is None:
            return fail(f"no key {key_id!r}", EXIT_NOT_FOUND)
        await audit.record(
            session,
            action="key.revoked",
            user_id=revoked.user_id,
            api_key_id=revoked.id,
            details={"key_id": revoked.key_id},
        )
    print(f"revoked key {revoked.key_id}")
    await auth_service.forget_verified(clients.redis, clients.settings, [revoked.key_id])
    return EXIT_OK


async def rotate_key(clients: Clients, *, key_id: str, grace: timedelta) -> int:
    async with clients.sessions()() as session, session.begin():
        old = await auth_repo.key_by_public_id(session, key_id)
        if old is None or old.revoked_at is not None:
            return fail(f"no active key {key_id!r}", EXIT_NOT_FOUND)
        new, token = await auth_service.rotate_key(session, old, grace=grace, now=datetime.now(UTC))
    print(
        f"created key {new.key_id}; {old.key_id} stops working at {old.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    _print_secret(token)
    return EXIT_OK


async def verify_key(clients: Clients, *, token: str) -> int:
    """What the API would decide, without counting a failure or touching ``last_used_at``."""
    parsed = auth_keys.parse(token)
    if parsed is None:
        return fail("not an API key", EXIT_NOT_FOUND)
    key_id, secret = parsed
    async with clients.engine.connect() as conn:
        record = await auth_repo.key_by_key_id(conn, key_id)
    if record is None or not await asyncio.to_thread(auth_keys.verify, record.secret_hash, secret):
        return fail(f"no key {key_id!r} with this secret", EXIT_NOT_FOUND)
    now = datetime.now(UTC)
    if record.revoked_at is not None or record.user_disabled_at is not None:
        return fail(f"key {key_id} is revoked or its user disabled", EXIT_NOT_FOUND)
    if record.expires_at is not None and record.expires_at <= now:
        return fail(
            f"key {key_id} expired at {record.expires_at:%Y-%m-%d %H:%M} UTC", EXIT_NOT_FOUND
        )
    print(f"key {key_id} authenticates, scopes {','.join(record.scopes)}")
    return EXIT_OK


def _print_secret(token: str) -> None:
    print("the key is shown once; store it now:")
    print(token)
