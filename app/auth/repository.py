"""SQL for users and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.auth.models import ApiKey, User


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: int
    key_id: str
    user_id: int
    secret_hash: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    revoked_at: datetime | None
    user_disabled_at: datetime | None
    rate_limit_requests: int | None
    rate_limit_bytes: int | None


_KEY_BY_KEY_ID = text(
    "SELECT k.id, k.key_id, k.user_id, k.secret_hash, k.scopes, k.expires_at,"
    " k.revoked_at, u.disabled_at AS user_disabled_at,"
    " k.rate_limit_requests, k.rate_limit_bytes"
    " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_id = :key_id"
)


async def key_by_key_id(conn: AsyncConnection, key_id: str) -> KeyRecord | None:
    # Through SQLAlchemy although it costs more than asyncpg directly: this is the first
    # statement of every request, and SQLAlchemy invalidates the whole pool when it finds a
    # connection dead, so a database restart under load fails one request, not one per
    # pooled connection.
    row = (
        await conn.execute(
            _KEY_BY_KEY_ID,
            {"key_id": key_id},
        )
    ).one_or_none()
    if row is None:
        return None
    return KeyRecord(
        id=row.id,
        key_id=row.key_id,
        user_id=row.user_id,
        secret_hash=row.secret_hash,
        scopes=tuple(row.scopes),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        user_disabled_at=row.user_disabled_at,
        rate_limit_requests=row.rate_limit_requests,
        rate_limit_bytes=row.rate_limit_bytes,
    )


async def touch_last_used(conn: AsyncConnection, key_pk: int, at: datetime) -> None:
    await conn.execute(
        text(
            "UPDATE api_keys SET last_used_at = :at WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :at)"
        ),
        {"id": key_pk, "at": at},
    )


async def user_by_name(session: AsyncSession, name: str) -> User | None:
    return (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.execute(select(User).order_by(User.id))).scalars())


async def list_keys(session: AsyncSession, user_id: int | None = None) -> list[tuple[ApiKey, str]]:
    query = select(ApiKey, User.name).join(User, User.id == ApiKey.user_id).order_by(ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return [(key, name) for key, name in (await session.execute(query)).all()]


async def key_by_public_id(session: AsyncSession, key_id: str) -> ApiKey | None:
    return (
        await session.execute(select(ApiKey).where(ApiKey.key_id == key_id))
    ).scalar_one_or_none()


async def key_ids_of_user(session: AsyncSession, user_id: int) -> list[str]:
    return list(
        (await session.execute(select(ApiKey.key_id).where(ApiKey.user_id == user_id))).scalars()
    )


async def revoke_key(session: AsyncSession, key_id: str, at: datetime) -> ApiKey | None:
    key = (
        await session.execute(select(ApiKey).where(ApiKey.key_id == key_id))
    ).scalar_one_or_none()
    if key is None:
        return None
    if key.revoked_at is None:
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=at))
        key.revoked_at = at
    return key
