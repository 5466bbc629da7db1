"""Authentication and key lifecycle. Knows nothing of HTTP: the dependency reads headers.

Verification: the key's row is read by its public key id on every request (so revocation, expiry
and a disabled user take effect on the next request, whatever is cached); the slow Argon2 check
is skipped when this (key, secret) pair was verified recently (see verified.py), and otherwise
runs only after a failure slot was reserved for the attacker it could be (see throttle.py).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit import repository as audit
from app.auth import keys, verified
from app.auth import repository as repo
from app.auth.models import ApiKey, User
from app.auth.throttle import AuthThrottle
from app.auth.verified import VerifiedCache
from app.config import Settings
from app.db.engine import autocommit
from app.db.partitions import PartitionManager
from app.errors import Forbidden, Unauthorized
from app.observability import metrics
from app.ratelimit.limiter import Decision, Hit, Limiter

log = structlog.get_logger(__name__)

SCOPES = ("read", "write")
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_INVALID = "invalid API key"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    api_key_id: int
    key_id: str
    scopes: tuple[str, ...]
    rate_limit_requests: int
    rate_limit_bytes: int

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this key lacks the '{scope}' scope")


class UserExists(Exception):
    pass


class AuthService:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        redis: Redis | None,
        limiter: Limiter,
        partitions: PartitionManager,
    ) -> None:
        self._engine = engine
        self._reads = autocommit(engine)  # the key lookup is one statement: no BEGIN/ROLLBACK
        self._settings = settings
        self._limiter = limiter
        self._throttle = AuthThrottle(limiter, settings)
        self._partitions = partitions
        pepper = settings.key_pepper.get_secret_value() if settings.key_pepper else None
        self._verified = VerifiedCache(
            redis,
            prefix=settings.redis_prefix,
            pepper=pepper.encode() if pepper else secrets.token_bytes(32),
            ttl_s=settings.auth_cache_ttl_s,
        )
        self._last_used: dict[int, datetime] = {}

    async def authenticate(self, token: str | None, client: str | None) -> Principal:
        """The principal behind ``token``, or Unauthorized (one answer for every failure)."""
        if not token:
            raise Unauthorized(
                "an API key is required (Authorization: Bearer, X-API-Key or api-key)"
            )
        parsed = keys.parse(token)
        if parsed is None:
            await self._throttle.reserve(client, None)
            await self._failed("malformed", None, client)
        key_id, secret = parsed
        async with self._reads.connect() as conn:
            record = await repo.key_by_key_id(conn, key_id)
        if record is None:
            await self._throttle.reserve(client, None)
            # Same Argon2 work as a wrong secret: timing does not reveal which key ids exist.
            await self._throttle.verify(keys.DUMMY_HASH, secret)
            await self._failed("bad_credentials", key_id, client)
        mac = self._verified.mac(key_id, record.secret_hash, secret)
        # A secret verified recently is let in before any throttle: others' failures from a
        # shared address cannot lock its owner out, and it costs no Argon2 work.
        if not await self._verified.contains(key_id, mac):
            reservation = await self._throttle.reserve(client, key_id)
            if not await self._throttle.verify(record.secret_hash, secret):
                await self._failed("bad_credentials", key_id, client)
            await self._throttle.release(reservation)
            await self._verified.remember(key_id, mac)
        return await self._principal(record, client)

    async def _principal(self, record: repo.KeyRecord, client: str | None) -> Principal:
        now = datetime.now(UTC)
        if (
            record.revoked_at is not None
            or record.user_disabled_at is not None
            or (record.expires_at is not None and record.expires_at <= now)
        ):
            await self._failed("inactive_key", record.key_id, client)
        await self._touch(record.id, now)
        return Principal(
            user_id=record.user_id,
            api_key_id=record.id,
            key_id=record.key_id,
            scopes=record.scopes,
            rate_limit_requests=record.rate_limit_requests or self._settings.rate_limit_requests,
            rate_limit_bytes=record.rate_limit_bytes or self._settings.rate_limit_bytes,
        )

    async def _failed(self, reason: str, key_id: str | None, client: str | None) -> NoReturn:
        """401, audited; the attempt's failure slot, reserved before any check, stays taken."""
        metrics.AUTH_FAILURES.labels(reason=reason).inc()
        log.info("auth.failed", reason=reason)
        async with self._engine.begin() as conn:
            # The key id is public (it identifies, it does not authenticate); the secret is never kept.
            await audit.record(
                conn,
                action="auth.failed",
                details={"reason": reason, "key_id": key_id, "client": client},
            )
        raise Unauthorized(_INVALID)

    async def _touch(self, key_pk: int, now: datetime) -> None:
        # last_used_at at one-minute resolution: at most one write per key a minute per process.
        last = self._last_used.get(key_pk)
        if last is not None and now - last < _LAST_USED_RESOLUTION:
            return
        self._last_used[key_pk] = now
        async with self._engine.begin() as conn:
            await repo.touch_last_used(conn, key_pk, now)

    async def admit_request(self, principal: Principal) -> tuple[Decision, Decision]:
        """Take one request from the key's budget (refused when it is spent), with the state of
        its byte budget (for the RateLimit headers): one round trip."""
        requests, body_bytes = await self._limiter.hit_many(
            [
                Hit(
                    "requests",
                    f"requests:{principal.key_id}",
                    1,
                    principal.rate_limit_requests,
                    self._settings.rate_limit_window_s,
                ),
                Hit(
                    "bytes",
                    f"bytes:{principal.key_id}",
                    0,
                    principal.rate_limit_bytes,
                    self._settings.rate_limit_bytes_window_s,
                ),
            ]
        )
        return requests, body_bytes

    async def reserve_bytes(self, principal: Principal, size: int) -> Decision:
        """Take ``size`` body bytes from the key's byte budget (0 only reads the state)."""
        return await self._limiter.hit(
            "bytes",
            f"bytes:{principal.key_id}",
            cost=size,
            limit=principal.rate_limit_bytes,
            window_s=self._settings.rate_limit_bytes_window_s,
        )


def cache_key(settings: Settings, key_id: str) -> str:
    return verified.cache_key(settings.redis_prefix, key_id)


async def forget_verified(redis: Redis | None, settings: Settings, key_ids: list[str]) -> None:
    """Drop cached verifications (revocation does not depend on it, but there is no reason to keep them)."""
    if redis is None or not key_ids:
        return
    try:
        await redis.delete(*(cache_key(settings, k) for k in key_ids))
    except (RedisError, OSError):
        log.warning("auth.redis_unavailable", error_type="cache_invalidation")


async def create_user(session: AsyncSession, name: str) -> User:
    if await repo.user_by_name(session, name) is not None:
        raise UserExists(name)
    user = User(name=name)
    session.add(user)
    await session.flush()
    await audit.record(session, action="user.created", user_id=user.id, details={"name": name})
    return user


async def create_key(
    session: AsyncSession,
    user: User,
    *,
    scopes: tuple[str, ...] = ("write",),
    label: str | None = None,
    expires_at: datetime | None = None,
    rate_limit_requests: int | None = None,
    rate_limit_bytes: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key; the token is returned once and never stored."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {SCOPES}")
    new = keys.generate()
    secret_hash = await asyncio.to_thread(keys.hash_secret, new.secret)
    key = ApiKey(
        key_id=new.key_id,
        user_id=user.id,
        name=label,
        secret_hash=secret_hash,
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        rate_limit_requests=rate_limit_requests,
        rate_limit_bytes=rate_limit_bytes,
    )
    session.add(key)
    await session.flush()
    await audit.record(
        session,
        action="key.created",
        user_id=user.id,
        api_key_id=key.id,
        details={"key_id": key.key_id, "scopes": key.scopes},
    )
    return key, new.token


async def rotate_key(
    session: AsyncSession, old: ApiKey, *, grace: timedelta, now: datetime
) -> tuple[ApiKey, str]:
    """A new key with the old one's user, scopes and limits; the old one expires after ``grace``."""
    owner = await session.get_one(User, old.user_id)
    new, token = await create_key(
        session,
        owner,
        scopes=tuple(old.scopes),
        label=old.name,
        expires_at=old.expires_at if old.expires_at and old.expires_at > now + grace else None,
        rate_limit_requests=old.rate_limit_requests,
        rate_limit_bytes=old.rate_limit_bytes,
    )
    deadline = now + grace
    if old.expires_at is None or old.expires_at > deadline:
        old.expires_at = deadline
    await audit.record(
        session,
        action="key.rotated",
        user_id=old.user_id,
        api_key_id=old.id,
        details={
            "key_id": old.key_id,
            "new_key_id": new.key_id,
            "old_expires_at": deadline.isoformat(),
        },
    )
    return new, token
