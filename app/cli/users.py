"""``users create|list|disable|erase``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from typing import Annotated

import typer

from app.audit import repository as audit
from app.auth import repository as auth_repo
from app.auth import service as auth_service
from app.cli.runtime import (
    EXIT_EXISTS,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    Action,
    Clients,
    fail,
    user_id_by_name,
)
from app.erase.service import EraseService

users = typer.Typer(help="manage users", no_args_is_help=True)

Name = Annotated[str, typer.Argument()]


@users.command("create", help="create a user")
def create(name: Name) -> Action:
    return partial(create_user, name=name)


@users.command("list", help="list users")
def list_() -> Action:
    return list_users


@users.command("disable", help="disable a user: their keys stop working at once")
def disable(name: Name) -> Action:
    return partial(disable_user, name=name)


@users.command(
    "erase", help="erase a user: every row, archived payload, key and cache entry (audit kept)"
)
def erase(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", help="confirm: this cannot be undone")] = False,
) -> Action:
    return partial(erase_user, name=name, confirmed=yes)


async def create_user(clients: Clients, *, name: str) -> int:
    async with clients.sessions()() as session, session.begin():
        try:
            user = await auth_service.create_user(session, name)
        except auth_service.UserExists:
            return fail(f"user {name!r} exists already", EXIT_EXISTS)
    print(f"created user {user.name} (id {user.id})")
    return EXIT_OK


async def list_users(clients: Clients) -> int:
    async with clients.sessions()() as session:
        found = await auth_repo.list_users(session)
    for user in found:
        state = f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
        print(f"{user.id}\t{user.name}\t{state}\tcreated {user.created_at:%Y-%m-%d}")
    return EXIT_OK


async def disable_user(clients: Clients, *, name: str) -> int:
    async with clients.sessions()() as session, session.begin():
        user = await auth_repo.user_by_name(session, name)
        if user is None:
            return fail(f"no user {name!r}", EXIT_NOT_FOUND)
        if user.disabled_at is None:
            user.disabled_at = datetime.now(UTC)
            await audit.record(session, action="user.disabled", user_id=user.id)
        key_ids = await auth_repo.key_ids_of_user(session, user.id)
    print(f"disabled user {name}")
    await auth_service.forget_verified(clients.redis, clients.settings, key_ids)
    return EXIT_OK


async def erase_user(clients: Clients, *, name: str, confirmed: bool) -> int:
    """The receipt, as JSON, on stdout."""
    if not confirmed:
        return fail(f"erasing {name!r} cannot be undone; add --yes to confirm", EXIT_USAGE)
    user_id = await user_id_by_name(clients, name)
    if user_id is None:
        return fail(f"no user {name!r}", EXIT_NOT_FOUND)
    service = EraseService(clients.engine, clients.redis, clients.settings)
    receipt = await service.erase_account(user_id, via="cli")
    print(json.dumps(receipt, ensure_ascii=False, indent=2))
    return EXIT_OK
