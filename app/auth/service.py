"""Authentication and key lifecycle. Knows nothing of HTTP: the dependency reads headers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit import repository as audit
from app.auth import keys
from app.auth import repository as repo
from app.auth.models import ApiKey, User
from app.errors import Forbidden, Unauthorized

log = structlog.get_logger(__name__)

SCOPES = ("read", "write")
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_VERIFIED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    api_key_id: int
    key_id: str
    scopes: tuple[str, ...]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this key lacks the '{scope}' scope")


class UserExists(Exception):
    pass


class AuthService:
    """Verifies keys: Argon2 once per (key, secret) per process, the key's state on every call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # key id -> (HMAC of the secret under a per-process key, hash it was verified against).
        # The secret itself is never kept; revocation and user state are read on every request.
        self._verified: dict[str, tuple[bytes, str]] = {}
        self._mac_key = secrets.token_bytes(32)
        self._last_used: dict[int, datetime] = {}

    def _mac(self, secret: str) -> bytes:
        return hmac.new(self._mac_key, secret.encode(), hashlib.sha256).digest()

    async def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("an API key is required (Authorization: Bearer, X-API-Key or api-key)")
        parsed = keys.parse(token)
        if parsed is None:
            raise Unauthorized("invalid API key")
        key_id, secret = parsed
        async with self._engine.connect() as conn:
            record = await repo.key_by_key_id(conn, key_id)
        if not await self._secret_ok(key_id, secret, record):
            log.info("auth.failed", reason="bad_credentials")
            raise Unauthorized("invalid API key")
        assert record is not None
        now = datetime.now(UTC)
        if record.revoked_at is not None or record.user_disabled_at is not None or (
            record.expires_at is not None and record.expires_at <= now
        ):
            log.info("auth.failed", reason="inactive_key")
            raise Unauthorized("invalid API key")
        await self._touch(record.id, now)
        return Principal(record.user_id, record.id, record.key_id, record.scopes)

    async def _secret_ok(self, key_id: str, secret: str, record: repo.KeyRecord | None) -> bool:
        mac = self._mac(secret)
        if record is not None:
            cached = self._verified.get(key_id)
            if cached is not None and cached[1] == record.secret_hash and hmac.compare_digest(cached[0], mac):
                return True
        stored = record.secret_hash if record is not None else keys.DUMMY_HASH
        ok = await asyncio.to_thread(keys.verify, stored, secret)
        if ok and record is not None:
            if len(self._verified) >= _VERIFIED_MAX:
                self._verified.clear()
            self._verified[key_id] = (mac, record.secret_hash)
        return ok and record is not None

    async def _touch(self, key_pk: int, now: datetime) -> None:
        last = self._last_used.get(key_pk)
        if last is not None and now - last < _LAST_USED_RESOLUTION:
            return
        self._last_used[key_pk] = now
        async with self._engine.begin() as conn:
            await repo.touch_last_used(conn, key_pk, now)


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
) -> tuple[ApiKey, str]:
    """A new key; the token is returned once and never stored."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    new = keys.generate()
    secret_hash = await asyncio.to_thread(keys.hash_secret, new.secret)
    key = ApiKey(
        key_id=new.key_id,
        user_id=user.id,
        name=label,
        secret_hash=secret_hash,
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
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
