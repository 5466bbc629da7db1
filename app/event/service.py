"""Event reads: pages of each section (filtered, cursor-paged), one ECG recording with a window
of its voltages, HRV points with their beat-to-beat series, and daily summaries.

No FastAPI here; the router hands over plain parameters and renders the JSON returned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import NotFound
from app.event import render, repository
from app.event.repository import CONDITIONS, EventQuery
from app.event.specs import ECG, HRV, EventSpec, Filter
from app.query import cursor
from app.query.cache import Json, JsonValue, QueryCache
from app.query.errors import InvalidQuery
from app.query.timerange import (
    MAX_OFFSET,
    Bound,
    in_zone,
    parse_bound,
    parse_range,
    parse_tz,
    zone,
)

MAX_LIMIT = 1000
MAX_VOLTAGES = 20_000
MAX_FILTER_LENGTH = 200

# A repository query of rows grouped by local day (``repository.state_of_mind_days``, ...).
DayRows = Callable[[AsyncConnection, EventSpec, EventQuery], Awaitable[list[RowMapping]]]


@dataclass(frozen=True, slots=True)
class EventRead:
    """What a read asks for, as the client sent it (checked here, not by the caller)."""

    user_id: int
    start: str | None = None
    end: str | None = None
    tz: str | None = None
    filters: Mapping[str, str | None] = field(default_factory=dict)
    conditions: tuple[str, ...] = ()
    page: str | None = None
    limit: int = 100


class EventService:
    def __init__(self, engine: AsyncEngine, cache: QueryCache) -> None:
        self._engine = engine
        self._cache = cache

    async def page(self, spec: EventSpec, req: EventRead) -> Json:
        """One page of a section's events, oldest first."""
        if not 1 <= req.limit <= MAX_LIMIT:
            raise InvalidQuery(f"`limit` must be 1-{MAX_LIMIT}", field="limit")
        q = build_query(spec, req)
        query_id = _fingerprint(spec, q)
        after = _typed_after(cursor.decode(req.page, spec.kind, query_id), spec)
        async with self._engine.connect() as conn:
            metric_id = None
            if spec.metric is not None:
                metric_id = await repository.metric_id(conn, spec.metric)
            rows: list[RowMapping] = []
            if spec.metric is None or metric_id is not None:
                q = replace(q, metric_id=metric_id, after=after, limit=req.limit)
                rows = await repository.page(conn, spec, q)
        more = len(rows) > req.limit
        rows = rows[: req.limit]
        items: list[JsonValue] = [
            render.hrv_item(r, q.tz) if spec is HRV else render.item(r, spec, q.tz) for r in rows
        ]
        next_page = cursor.encode(spec.kind, query_id, _key(rows[-1], spec)) if more else None
        return {"tz": q.tz, "items": items, "next_cursor": next_page}

    async def ecg(self, user_id: int, ecg_id: str, *, offset: int, limit: int) -> Json:
        """One ECG recording with ``limit`` voltage samples from ``offset``."""
        if offset < 0:
            raise InvalidQuery("`offset` must not be negative", field="offset")
        if not 1 <= limit <= MAX_VOLTAGES:
            raise InvalidQuery(f"`limit` must be 1-{MAX_VOLTAGES}", field="limit")
        key = render.parse_ecg_id(ecg_id)
        if key is None:
            raise NotFound("no such ECG recording")
        async with self._engine.connect() as conn:
            row = await repository.ecg_voltages(conn, user_id, key, offset, limit)
        if row is None:
            raise NotFound("no such ECG recording")
        total = row["voltage_count"] or 0
        voltages = row["voltages"] or []
        following = offset + len(voltages)
        return {
            **render.item(row, ECG, None),
            "offset": offset,
            "voltages": voltages,
            "voltage_times": row["voltage_times"] or [],
            "next_offset": following if following < total else None,
        }

    async def state_of_mind_daily(self, spec: EventSpec, req: EventRead) -> Json:
        """Per local day: entries and average valence, overall and per kind."""
        return await self._daily(spec, req, "mind", repository.state_of_mind_days, _mood_days)

    async def medications_daily(self, spec: EventSpec, req: EventRead) -> Json:
        """Per local day and medication: doses taken, skipped and otherwise logged."""
        return await self._daily(spec, req, "medications", repository.medication_days, _dose_days)

    async def _daily(
        self,
        spec: EventSpec,
        req: EventRead,
        summary: str,
        fetch: DayRows,
        summarise: Callable[[list[RowMapping], str | None], list[JsonValue]],
    ) -> Json:
        """A daily summary, cached per user under ``summary``: ``fetch`` groups the rows by local
        day in SQL, ``summarise`` shapes them into the items."""
        q = build_query(spec, req)

        async def compute() -> Json:
            async with self._engine.connect() as conn:
                rows = await fetch(conn, spec, q)
            return {"tz": q.tz, "items": summarise(rows, q.tz)}

        key = (summary, *_key_parts(q))
        return await self._cache.get_or_compute(req.user_id, "events", key, compute)


def build_query(spec: EventSpec, req: EventRead) -> EventQuery:
    """The checked query: time zone, range and filters (every problem names its parameter)."""
    tz = parse_tz(req.tz)
    _check_bound(req.start, "from", tz)
    _check_bound(req.end, "to", tz)
    lo, hi = parse_range(req.start, req.end, tz)
    matches: list[tuple[Filter, str]] = []
    for f in spec.filters:
        value = req.filters.get(f.param)
        if value is None:
            continue
        if not value.strip() or len(value) > MAX_FILTER_LENGTH or "\x00" in value:
            raise InvalidQuery(
                f"`{f.param}` must be 1-{MAX_FILTER_LENGTH} characters, without NUL",
                field=f.param,
            )
        matches.append((f, value))
    unknown = [c for c in req.conditions if c not in CONDITIONS]
    if unknown:
        raise InvalidQuery(f"unknown condition {unknown[0]!r}", field="conditions")
    return EventQuery(
        user_id=req.user_id, lo=lo, hi=hi, tz=tz, matches=tuple(matches),
        conditions=req.conditions,
    )  # fmt: skip


def _check_bound(value: str | None, name: str, tz: str | None) -> None:
    """Refuses a bound too near the ends of the calendar to be compared with (an instant out of
    Python's range, or a wall-clock time that cannot be widened by the widest UTC offset)."""
    try:
        bound = parse_bound(value, name)
        if tz is not None:
            bound = in_zone(bound, tz)
        if bound is not None and bound.local is not None:
            _ = bound.local.replace(tzinfo=UTC) - MAX_OFFSET, bound.local + MAX_OFFSET
    except OverflowError:
        raise InvalidQuery(f"`{name}` is out of range", field=name) from None


def _bound_text(bound: Bound | None) -> str | None:
    return bound.text() if bound is not None else None


def _key_parts(q: EventQuery) -> tuple[object, ...]:
    filters = tuple(sorted((f.param, v) for f, v in q.matches))
    return (q.tz, _bound_text(q.lo), _bound_text(q.hi), filters, q.conditions)


def _fingerprint(spec: EventSpec, q: EventQuery) -> str:
    return cursor.fingerprint(spec.kind, *_key_parts(q))


def _key(row: RowMapping, spec: EventSpec) -> list[JsonValue]:
    values: list[JsonValue] = [row["start_at"].isoformat()]
    for column, sql_type in spec.key:
        value = row[column]
        values.append(value.isoformat() if sql_type == "timestamptz" and value else value)
    return values


def _typed_after(values: list[object] | None, spec: EventSpec) -> list[object] | None:
    """Cursor values back in their SQL types (checked: a cursor is client input)."""
    if values is None:
        return None
    types = ("timestamptz", *(t for _, t in spec.key))
    try:
        if len(values) != len(types) or values[0] is None:
            raise ValueError("key length")
        return [_typed(value, sql_type) for value, sql_type in zip(values, types, strict=True)]
    except (TypeError, ValueError, OverflowError):
        raise InvalidQuery("`cursor` is not a cursor of this query", field="cursor") from None


def _typed(value: object, sql_type: str) -> object:
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise TypeError("expected text")
    if sql_type != "timestamptz":
        return value
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("naive instant")
    return at.astimezone(UTC)


def _day_label(day: datetime, tz: str | None) -> str:
    return (day.astimezone(zone(tz)) if tz is not None else day).date().isoformat()


@dataclass(slots=True)
class _MoodDay:
    count: int = 0
    valence_n: int = 0
    valence_sum: float = 0.0
    kinds: list[JsonValue] = field(default_factory=list)


def _mood_days(rows: list[RowMapping], tz: str | None) -> list[JsonValue]:
    days: dict[str, _MoodDay] = {}
    for r in rows:
        day = days.setdefault(_day_label(r["day"], tz), _MoodDay())
        n, valence_n, valence_sum = int(r["n"]), int(r["valence_n"]), r["valence_sum"]
        day.count += n
        day.valence_n += valence_n
        day.valence_sum += valence_sum or 0.0
        day.kinds.append(
            {
                "kind": r["kind"],
                "count": n,
                "valence_avg": valence_sum / valence_n if valence_n else None,
                "valence_min": r["valence_min"],
                "valence_max": r["valence_max"],
            }
        )
    return [
        {
            "date": label,
            "count": day.count,
            "valence_avg": day.valence_sum / day.valence_n if day.valence_n else None,
            "kinds": day.kinds,
        }
        for label, day in days.items()
    ]


# Statuses as stored (localised): only these spellings count as taken or skipped until the
# canonical mapping of localised labels exists; every status is also listed as stored.
TAKEN = frozenset({"taken"})
SKIPPED = frozenset({"skipped"})


def _dose_days(rows: list[RowMapping], tz: str | None) -> list[JsonValue]:
    out: dict[tuple[str, str], dict[str, int]] = {}
    statuses: dict[tuple[str, str], list[JsonValue]] = {}
    for r in rows:
        key = (_day_label(r["day"], tz), str(r["display_text"]))
        counts = out.setdefault(key, {"taken": 0, "skipped": 0, "other": 0, "total": 0})
        status = r["status"]
        folded = status.lower() if isinstance(status, str) else None
        bucket = "taken" if folded in TAKEN else "skipped" if folded in SKIPPED else "other"
        counts[bucket] += int(r["n"])
        counts["total"] += int(r["n"])
        statuses.setdefault(key, []).append({"status": status, "count": int(r["n"])})
    return [
        {"date": day, "medication": name, **counts, "statuses": statuses[(day, name)]}
        for (day, name), counts in out.items()
    ]
