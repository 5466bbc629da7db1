"""Admin commands: ``python -m app.cli users|keys|ingestions|export ...``.

Exit codes: 0 done, 2 usage, 3 already exists, 4 not found.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit import repository as audit
from app.auth import repository as auth_repo
from app.auth import service as auth_service
from app.config import get_settings
from app.db.engine import create_engine, create_sessionmaker
from app.db.partitions import PartitionManager
from app.erase import commands as erase_commands
from app.export import commands as export_commands
from app.ingest.service import IngestService
from app.lifespan import create_redis
from app.logging import configure as configure_logging
from app.quality import repository as quality_repo

EXIT_EXISTS = 3
EXIT_NOT_FOUND = 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)

    users = groups.add_parser("users", help="manage users").add_subparsers(
        dest="command", required=True
    )
    users.add_parser("create", help="create a user").add_argument("name")
    users.add_parser("list", help="list users")
    users.add_parser(
        "disable", help="disable a user: their keys stop working at once"
    ).add_argument("name")
    erase_commands.add_parser(users)

    keys = groups.add_parser("keys", help="manage API keys").add_subparsers(
        dest="command", required=True
    )
    create = keys.add_parser("create", help="create a key; the key alone is the last output line")
    create.add_argument("user")
    create.add_argument(
        "--scope",
        action="append",
        choices=auth_service.SCOPES,
        help="write (the phone; default) and/or read (dashboards); repeat for both",
    )
    create.add_argument("--name", help="a label, e.g. the device")
    create.add_argument("--expires-days", type=int, help="the key stops working after N days")
    create.add_argument(
        "--rate-limit-requests", type=_positive, help="requests per window (default: server's)"
    )
    create.add_argument(
        "--rate-limit-bytes", type=_positive, help="body bytes per window (default: server's)"
    )
    keys.add_parser("list", help="list keys (never their secrets)").add_argument("user", nargs="?")
    keys.add_parser("revoke", help="revoke a key by its key id").add_argument("key_id")
    rotate = keys.add_parser(
        "rotate",
        help="new key with the same user, scopes and limits; the old one expires after a grace period",
    )
    rotate.add_argument("key_id")
    rotate.add_argument("--grace-hours", type=float, default=24.0)

    audit_cmd = groups.add_parser("audit", help="show the audit trail (newest first)")
    audit_cmd.add_argument("--user", help="only this user's records")
    audit_cmd.add_argument(
        "--action", help="only this action, e.g. ingest, key.revoked, auth.failed"
    )
    audit_cmd.add_argument("--since", type=_aware_datetime, help="ISO 8601 time, e.g. 2026-11-01")
    audit_cmd.add_argument("--until", type=_aware_datetime, help="ISO 8601 time (exclusive)")
    audit_cmd.add_argument("--limit", type=int, default=100)

    quality_cmd = groups.add_parser(
        "quality", help="improbable values that were stored and flagged"
    )
    quality_cmd.add_argument("--user")
    quality_cmd.add_argument("--metric")
    quality_cmd.add_argument("--since", type=_aware_datetime)
    quality_cmd.add_argument("--until", type=_aware_datetime)
    quality_cmd.add_argument("--limit", type=int, default=100)
    fresh = groups.add_parser("freshness", help="last data per user, metric and automation")
    fresh.add_argument("--user")
    fresh.add_argument(
        "--silent-hours", type=float, help="only users whose last ingest is older than this"
    )

    ingestions = groups.add_parser("ingestions", help="raw payload archive").add_subparsers(
        dest="command", required=True
    )
    replay = ingestions.add_parser("replay", help="reprocess archived bodies (idempotent)")
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", type=int)
    target.add_argument("--failed", action="store_true", help="every ingestion marked failed")
    partitions = groups.add_parser("partitions", help="monthly partitions of the series tables")
    partitions.add_subparsers(dest="command", required=True).add_parser(
        "maintain", help="move the partition window with the clock; create the coming months"
    )
    export_commands.add_parser(groups)
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a whole number of at least 1")
    return number


def _aware_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _run(args: argparse.Namespace, engine: AsyncEngine, redis: Redis) -> int:
    partitions = PartitionManager(engine)
    sessions = create_sessionmaker(engine)
    now = datetime.now(UTC)
    forget: list[str] = []
    if args.group == "users" and args.command == "erase":
        return await erase_commands.run(args, engine, redis, get_settings())
    if args.group == "export":
        return await export_commands.run(args, engine)
    if args.group == "partitions":
        await partitions.maintain(get_settings().partition_window_years)
        print("partitions maintained")
        return 0
    if args.group == "users":
        async with sessions() as session, session.begin():
            if args.command == "create":
                try:
                    user = await auth_service.create_user(session, args.name)
                except auth_service.UserExists:
                    print(f"user {args.name!r} exists already", file=sys.stderr)
                    return EXIT_EXISTS
                print(f"created user {user.name} (id {user.id})")
            elif args.command == "list":
                for user in await auth_repo.list_users(session):
                    state = (
                        f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active"
                    )
                    print(f"{user.id}\t{user.name}\t{state}\tcreated {user.created_at:%Y-%m-%d}")
            elif args.command == "disable":
                found = await auth_repo.user_by_name(session, args.name)
                if found is None:
                    print(f"no user {args.name!r}", file=sys.stderr)
                    return EXIT_NOT_FOUND
                if found.disabled_at is None:
                    found.disabled_at = now
                    await audit.record(session, action="user.disabled", user_id=found.id)
                forget = await auth_repo.key_ids_of_user(session, found.id)
                print(f"disabled user {found.name}")
        await auth_service.forget_verified(redis, get_settings(), forget)
        return 0
    if args.group == "keys":
        async with sessions() as session, session.begin():
            if args.command == "create":
                owner = await auth_repo.user_by_name(session, args.user)
                if owner is None:
                    print(f"no user {args.user!r} (create it: users create NAME)", file=sys.stderr)
                    return EXIT_NOT_FOUND
                expires = now + timedelta(days=args.expires_days) if args.expires_days else None
                key, token = await auth_service.create_key(
                    session,
                    owner,
                    scopes=tuple(args.scope or ("write",)),
                    label=args.name,
                    expires_at=expires,
                    rate_limit_requests=args.rate_limit_requests,
                    rate_limit_bytes=args.rate_limit_bytes,
                )
                print(f"created key {key.key_id} for {owner.name}, scopes {','.join(key.scopes)}")
                print("the key is shown once; store it now:")
                print(token)
            elif args.command == "list":
                user_id = None
                if args.user:
                    owner = await auth_repo.user_by_name(session, args.user)
                    if owner is None:
                        print(f"no user {args.user!r}", file=sys.stderr)
                        return EXIT_NOT_FOUND
                    user_id = owner.id
                for key, name in await auth_repo.list_keys(session, user_id):
                    state = "revoked" if key.revoked_at else "active"
                    if key.expires_at and key.expires_at <= now:
                        state = "expired"
                    used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                    print(
                        f"{key.key_id}\t{name}\t{','.join(key.scopes)}\t{state}\tlast used {used}\t{key.name or ''}"
                    )
            elif args.command == "revoke":
                revoked = await auth_repo.revoke_key(session, args.key_id, now)
                if revoked is None:
                    print(f"no key {args.key_id!r}", file=sys.stderr)
                    return EXIT_NOT_FOUND
                await audit.record(
                    session,
                    action="key.revoked",
                    user_id=revoked.user_id,
                    api_key_id=revoked.id,
                    details={"key_id": revoked.key_id},
                )
                print(f"revoked key {revoked.key_id}")
                forget = [revoked.key_id]
            elif args.command == "rotate":
                old = await auth_repo.key_by_public_id(session, args.key_id)
                if old is None or old.revoked_at is not None:
                    print(f"no active key {args.key_id!r}", file=sys.stderr)
                    return EXIT_NOT_FOUND
                new, token = await auth_service.rotate_key(
                    session, old, grace=timedelta(hours=args.grace_hours), now=now
                )
                print(
                    f"created key {new.key_id}; {old.key_id} stops working at {old.expires_at:%Y-%m-%d %H:%M} UTC"
                )
                print("the key is shown once; store it now:")
                print(token)
        await auth_service.forget_verified(redis, get_settings(), forget)
        return 0
    if args.group in ("quality", "freshness"):
        user_id = None
        if args.user:
            async with sessions() as session:
                owner = await auth_repo.user_by_name(session, args.user)
            if owner is None:
                print(f"no user {args.user!r}", file=sys.stderr)
                return EXIT_NOT_FOUND
            user_id = owner.id
        async with engine.connect() as conn:
            if args.group == "quality":
                records = await quality_repo.list_flags(
                    conn,
                    user_id=user_id,
                    metric=args.metric,
                    since=args.since,
                    until=args.until,
                    limit=args.limit,
                )
            else:
                records = await quality_repo.freshness(conn, user_id)
        if args.group == "freshness" and args.silent_hours is not None:
            cutoff = now - timedelta(hours=args.silent_hours)
            latest: dict[str, datetime] = {}
            for record in records:
                user = record["user"]
                latest[user] = max(
                    latest.get(user, record["last_ingested_at"]), record["last_ingested_at"]
                )
            records = [r for r in records if latest[r["user"]] < cutoff]
        for record in records:
            print(json.dumps(record, default=str, ensure_ascii=False))
        return 0
    if args.group == "audit":
        async with sessions() as session:
            user_id = None
            if args.user:
                owner = await auth_repo.user_by_name(session, args.user)
                if owner is None:
                    print(f"no user {args.user!r}", file=sys.stderr)
                    return EXIT_NOT_FOUND
                user_id = owner.id
            records = await audit.search(
                session,
                user_id=user_id,
                action=args.action,
                since=args.since,
                until=args.until,
                limit=args.limit,
            )
        for record in records:
            print(json.dumps(record, default=str, ensure_ascii=False))
        return 0
    if args.group == "ingestions" and args.command == "replay":
        service = IngestService(engine, partitions, get_settings(), redis=redis)
        if args.failed:
            async with engine.connect() as conn:
                ids = list(
                    (
                        await conn.execute(
                            text(
                                "SELECT id FROM raw_ingestions WHERE status = 'failed' ORDER BY id"
                            )
                        )
                    ).scalars()
                )
        else:
            ids = [args.id]
        for ingestion_id in ids:
            try:
                report = await service.replay(ingestion_id)
            except LookupError:
                print(f"no ingestion {ingestion_id}", file=sys.stderr)
                return EXIT_NOT_FOUND
            totals = report["totals"]
            print(
                f"{ingestion_id}\t{report['status']}\t"
                + " ".join(f"{k}={v}" for k, v in totals.items())
            )
        return 0
    return 2


async def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    configure_logging(json=settings.environment == "production", level="WARNING")
    engine = create_engine(settings, pool_size=2)
    redis = create_redis(settings)
    try:
        return await _run(args, engine, redis)
    finally:
        await redis.aclose()
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(argv))


if __name__ == "__main__":
    sys.exit(main())
