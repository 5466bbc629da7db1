"""Verifiable deletion: rows in a range (``DELETE /v1/data``) and whole-account erasure.

Both run in one transaction that also writes the audit record, and both answer with a receipt:
an id, what was asked, and the rows deleted per table. The audit record carries the receipt id
and the counts, never a health value or the account's name, and it outlives the erasure.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.audit import repository as audit
from app.auth import service as auth_service
from app.config import Settings
from app.erase import repository
from app.erase.repository import EVENT_TABLES, METRIC_TABLES, Target
from app.errors import NotFound
from app.ingest import catalog
from app.ingest.repository import digests
from app.query.cache import Json, JsonValue, QueryCache
from app.query.errors import ConfirmationRequired, InvalidQuery
from app.query.specs import SLEEP, spec_for
from app.query.timerange import Bound, parse_range, parse_tz

log = structlog.get_logger(__name__)

SECTIONS = ("metrics", "workouts", *EVENT_TABLES)
RAW_NOTE = (
    "Archived request bodies (raw_ingestions) are kept until the account is erased;"
    " replaying one would store its points again."
)


def _check_selection(
    start: str | None, end: str | None, metric: str | None, section: str | None
) -> None:
    if metric is not None and section is not None:
        raise InvalidQuery("give `metric` or `section`, not both", field="section")
    if section is not None and section not in SECTIONS:
        raise InvalidQuery(f"`section` must be one of {', '.join(SECTIONS)}", field="section")
    if start is None and end is None and metric is None and section is None:
        raise InvalidQuery(
            "nothing selected: give a range, a metric or a section"
            " (to delete everything, erase the account)",
            field="from",
        )


def _now() -> str:
    return datetime.now(UTC).isoformat()


class EraseService:
    def __init__(self, engine: AsyncEngine, redis: Redis | None, settings: Settings) -> None:
        self._engine = engine
        self._redis = redis
        self._settings = settings
        self._cache = QueryCache(redis, settings.redis_prefix)

    # --- a range ---------------------------------------------------------------------------------

    async def delete_range(
        self,
        user_id: int,
        *,
        start: str | None,
        end: str | None,
        tz: str | None,
        metric: str | None,
        section: str | None,
    ) -> Json:
        """Delete the user's rows in [start, end) (all, one metric, or one section)."""
        _check_selection(start, end, metric, section)
        lo, hi = parse_range(start, end, parse_tz(tz))
        receipt_id = str(uuid.uuid4())
        span: dict[str, JsonValue] = {
            "from": lo.text() if lo else None,
            "to": hi.text() if hi else None,
        }
        async with self._engine.begin() as conn:
            deleted = await self._delete_selection(conn, user_id, lo, hi, metric, section)
            total = sum(deleted.values())
            details = {
                "receipt_id": receipt_id,
                **span,
                "selection": "metric" if metric else section or "all",
                "deleted": deleted,
                "total": total,
            }
            await audit.record(conn, action="data.deleted", user_id=user_id, details=details)
        log.info("data.deleted", total=total)
        return {
            "receipt_id": receipt_id,
            "action": "data.deleted",
            "at": _now(),
            "scope": {**span, "tz": tz, "metric": metric, "section": section},
            "deleted": deleted,
            "total": total,
            "notes": [RAW_NOTE],
        }

    async def _delete_selection(
        self,
        conn: AsyncConnection,
        user_id: int,
        lo: Bound | None,
        hi: Bound | None,
        metric: str | None,
        section: str | None,
    ) -> dict[str, int]:
        """Rows deleted per table, ``quality_flags`` included, under the writers' locks."""
        targets = await self._targets(conn, metric, section)
        workouts = section in (None, "workouts") and metric is None
        tables = [t.table for t in targets] + (list(repository.WORKOUT_TABLES) if workouts else [])
        await repository.lock(conn, user_id, tables)
        deleted: dict[str, int] = {}
        flags = 0
        for target in targets:
            rows, flagged = await repository.delete_rows(conn, user_id, target, lo, hi)
            # Digests vouching for rows of this table are void (a count would catch most
            # deletions, not one paired with an insert of another source's point).
            await digests.invalidate(conn, target.table, user_id)
            deleted[target.table] = deleted.get(target.table, 0) + rows
            flags += flagged
        if workouts:
            counts = await repository.delete_workouts(conn, user_id, lo, hi)
            flags += counts.pop("quality_flags")
            deleted.update(counts)
        deleted["quality_flags"] = flags
        return deleted

    async def _targets(
        self, conn: AsyncConnection, metric: str | None, section: str | None
    ) -> list[Target]:
        if section in EVENT_TABLES:
            return [Target(EVENT_TABLES[section], "start_at", flag_metric=section)]
        if section == "workouts":
            return []
        if metric is None:  # every metric table (and, without a section, the events too)
            targets = [Target(t, column, flag_metric=name) for t, column, name in METRIC_TABLES]
            if section is None:
                targets += [Target(t, "start_at", flag_metric=s) for s, t in EVENT_TABLES.items()]
            return targets
        if metric == SLEEP:
            return [Target(t, c, flag_metric=n) for t, c, n in METRIC_TABLES if n == SLEEP]
        metric_id = await repository.metric_type_id(conn, metric)
        spec = spec_for(metric, metric in catalog.KNOWN if metric_id is None else True)
        if spec is None:
            return []
        if spec.by_metric_id:
            if metric_id is None:
                return []  # never stored by anyone: nothing to delete
            return [Target(spec.table, "start_at", metric_id=metric_id)]
        name = next(n for t, _, n in METRIC_TABLES if t == spec.table)
        return [Target(spec.table, "start_at", flag_metric=name)]

    # --- an account ------------------------------------------------------------------------------

    async def erase_account(
        self, user_id: int, *, via: Literal["api", "cli"], confirm: str | None = None
    ) -> Json:
        """Every row of the account (health data, raw payloads, keys, the user), then its Redis
        entries (cache, verified keys, rate-limit counters). ``confirm``, when given, must be the
        account's name."""
        receipt_id = str(uuid.uuid4())
        async with self._engine.begin() as conn:
            name = await repository.user_name(conn, user_id)
            if name is None:
                raise NotFound("no such user")
            if confirm is not None and confirm != name:
                raise ConfirmationRequired("`confirm` must be this account's name", field="confirm")
            key_ids = await repository.key_ids(conn, user_id)
            tables = await repository.account_tables(conn)
            await repository.lock(conn, user_id, tables)
            deleted: dict[str, int] = {}
            for table in tables:
                deleted[table] = await repository.delete_all(conn, table, user_id)
            deleted["users"] = await repository.delete_user(conn, user_id)
            total = sum(deleted.values())
            await audit.record(
                conn,
                action="account.erased",
                user_id=user_id,
                details={"receipt_id": receipt_id, "via": via, "deleted": deleted, "total": total},
            )
        redis_keys = await self._forget(user_id, key_ids)
        log.info("account.erased", total=total)
        return {
            "receipt_id": receipt_id,
            "action": "account.erased",
            "at": _now(),
            "user": name,
            "user_id": user_id,
            "deleted": deleted,
            "total": total,
            "redis_keys_deleted": redis_keys,
            "notes": []
            if redis_keys is not None
            else ["Redis was unreachable: cached entries expire by themselves within minutes."],
        }

    async def _forget(self, user_id: int, key_ids: list[str]) -> int | None:
        """Query cache, verified-key cache and rate-limit counters of the account; the number
        of Redis keys deleted, or None when Redis is unreachable."""
        cached = await self._cache.purge(user_id)
        if cached is None or self._redis is None:
            return cached
        prefix = self._settings.redis_prefix
        try:
            keys = [auth_service.cache_key(self._settings, k).encode() for k in key_ids]
            for key_id in key_ids:
                keys += [k async for k in self._redis.scan_iter(match=f"{prefix}:rl:*:{key_id}:*")]
            removed = int(await self._redis.delete(*keys)) if keys else 0
        except (RedisError, OSError) as exc:
            log.warning("account.redis_unavailable", error_type=type(exc).__name__)
            return None
        return cached + removed
