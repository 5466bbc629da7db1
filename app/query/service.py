"""Metric reads: resolve the metric, page through points or buckets, cache aggregates.

No FastAPI here; the router hands over plain parameters and renders JSON or CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import NotFound
from app.ingest import catalog
from app.ingest.normalise.units import canonical
from app.query import cursor, repository
from app.query.cache import Json, JsonValue, QueryCache
from app.query.errors import InvalidQuery
from app.query.repository import SeriesQuery
from app.query.specs import SLEEP, MetricSpec, describe, spec_for
from app.query.timerange import BUCKETS, iso, local_label, parse_range, parse_tz, stamp

MAX_LIMIT = 10_000
CursorKey = list[datetime | str | None]


@dataclass(slots=True)
class _Summary:
    known: bool
    count: int = 0
    units: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None


class QueryService:
    def __init__(self, engine: AsyncEngine, cache: QueryCache) -> None:
        self._engine = engine
        self._cache = cache

    # --- the metric list ----------------------------------------------------------------------

    async def metric_list(self, user_id: int) -> Json:
        """Every metric the user has: units, point count, first and last time, sources."""
        return await self._cache.get_or_compute(
            user_id, "metrics", (), lambda: self._metric_list(user_id)
        )

    async def _metric_list(self, user_id: int) -> Json:
        async with self._engine.connect() as conn:
            rows = await repository.metric_summary(conn, user_id)
            names = await repository.metric_names(conn) if rows else {}
        merged: dict[str, _Summary] = {}
        for row in rows:
            if row["name"] is not None:
                name, known = str(row["name"]), True
            else:
                name, known = names[int(row["metric_id"])]
            entry = merged.setdefault(name, _Summary(known))
            entry.count += int(row["n"])
            if row["unit"] is not None:
                entry.units.add(row["unit"])
            entry.sources.update(row["sources"] or ())
            first, last = row["first_at"], row["last_at"]
            entry.first = first if entry.first is None else min(entry.first, first)
            entry.last = last if entry.last is None else max(entry.last, last)
        items: list[JsonValue] = []
        for name in sorted(merged):
            entry = merged[name]
            kind, aggregation = describe(name, entry.known)
            items.append(
                {
                    "name": name,
                    "kind": kind,
                    "aggregation": aggregation,
                    "known": entry.known,
                    "units": sorted(entry.units),
                    "count": entry.count,
                    "first_at": iso(entry.first),
                    "last_at": iso(entry.last),
                    "sources": sorted(entry.sources),
                }
            )
        return {"metrics": items}

    # --- one metric -----------------------------------------------------------------------------

    async def series(
        self,
        user_id: int,
        name: str,
        *,
        start: str | None,
        end: str | None,
        source: str | None,
        bucket: str | None,
        tz: str | None,
        page: str | None,
        limit: int,
    ) -> Json:
        """Raw points or buckets of one metric, one page of at most ``limit`` items."""
        if bucket is not None and bucket not in BUCKETS:
            raise InvalidQuery(f"`bucket` must be one of {', '.join(BUCKETS)}", field="bucket")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery(f"`limit` must be 1-{MAX_LIMIT}", field="limit")
        zone = parse_tz(tz)
        lo, hi = parse_range(start, end, zone)
        query_id = cursor.fingerprint(name, bucket, zone, source, start, end)
        after = cursor.decode(page, "bucket" if bucket else "raw", query_id)
        async with self._engine.connect() as conn:
            spec, metric_id = await self._resolve(conn, user_id, name)
        q = SeriesQuery(
            user_id=user_id,
            spec=spec,
            metric_id=metric_id,
            lo=lo,
            hi=hi,
            source=source,
            limit=limit,
            tz=zone,
            bucket=bucket,
            after=_typed_after(after, spec, bucket, zone),
        )
        head: dict[str, JsonValue] = {
            "metric": name,
            "kind": "cumulative" if spec.cumulative else "discrete",
            "bucket": bucket,
            "tz": zone,
        }
        if bucket is None:
            return {**head, **await self._raw(q, query_id, metric_id)}
        head["aggregation"] = "sum" if spec.aggregation == "sum" else "min/avg/max"
        return await self._cache.get_or_compute(
            user_id,
            "buckets",
            (name, bucket, zone, source, lo and lo.text(), hi and hi.text(), page, limit),
            lambda: self._buckets(q, query_id, head, metric_id),
        )

    async def _resolve(
        self, conn: AsyncConnection, user_id: int, name: str
    ) -> tuple[MetricSpec, int | None]:
        found = await repository.metric_type(conn, name)
        known = found[1] if found is not None else name in catalog.KNOWN
        spec = spec_for(name, known)
        if spec is None:
            raise InvalidQuery(f"`{SLEEP}` is read at /v1/sleep", field="name")
        if found is None:
            if not known:
                raise NotFound(f"no metric {name!r}")
            return spec, None  # a metric nobody has sent yet: no points
        if not known and not await repository.has_rows(conn, user_id, spec, found[0]):
            # Names of unknown metrics come from users: never confirm one another user sent.
            raise NotFound(f"no metric {name!r}")
        return spec, found[0]

    async def _raw(self, q: SeriesQuery, query_id: str, metric_id: int | None) -> Json:
        rows: list[RowMapping] = []
        if metric_id is not None or not q.spec.by_metric_id:
            async with self._engine.connect() as conn:
                rows = await repository.raw_points(conn, q)
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        items: list[JsonValue] = [_point(row, q.spec, q.tz) for row in rows]
        next_page = None
        if more:
            last = rows[-1]
            key = [last["start_at"].isoformat(), _iso_or_none(last["end_at"]), last["source"]]
            key += [last[c] for c in q.spec.extra_key]
            next_page = cursor.encode("raw", query_id, key)
        return {"columns": list(q.spec.raw_columns), "items": items, "next_cursor": next_page}

    async def _buckets(
        self, q: SeriesQuery, query_id: str, head: Mapping[str, JsonValue], metric_id: int | None
    ) -> Json:
        rows: list[RowMapping] = []
        if metric_id is not None or not q.spec.by_metric_id:
            async with self._engine.connect() as conn:
                rows = await repository.buckets(conn, q, q.bucket or "day")
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        items: list[JsonValue] = [_bucket(row, q.spec, q.tz) for row in rows]
        next_page = (
            cursor.encode("bucket", query_id, [rows[-1]["bucket"].isoformat()]) if more else None
        )
        return {
            **head,
            "columns": list(q.spec.bucket_columns),
            "items": items,
            "next_cursor": next_page,
        }


def _iso_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _typed_after(
    values: list[object] | None, spec: MetricSpec, bucket: str | None, tz: str | None
) -> CursorKey | None:
    """Cursor values back in their SQL types (checked: a cursor is client input)."""
    if values is None:
        return None
    try:
        if bucket is not None:
            (start,) = values
            parsed = stamp(_required(start))
            if (parsed.tzinfo is None) != (tz is None):
                raise ValueError("bucket cursor of another mode")
            return [parsed]
        start, end, source, *extra = values
        if len(extra) != len(spec.extra_key):
            raise ValueError("key length")
        end_text = _text(end)
        typed: CursorKey = [
            stamp(_required(start)),
            stamp(end_text) if end_text is not None else None,
            _text(source),
        ]
        return typed + [_text(v) for v in extra]
    except (TypeError, ValueError):
        raise InvalidQuery("`cursor` is not a cursor of this query", field="cursor") from None


def _required(value: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError("expected text")


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError("expected text")


def _point(row: RowMapping, spec: MetricSpec, tz: str | None) -> JsonValue:
    offset = row["utc_offset_min"]
    item: dict[str, JsonValue] = {
        "start": iso(row["start_at"], offset, tz),
        "end": iso(row["end_at"], offset, tz),
        "source": row["source"],
    }
    for column in spec.values:
        item[column] = row[column]
    if spec.canonical:
        item["qty_canonical"] = row["qty_canonical"]
    return item


def _bucket(row: RowMapping, spec: MetricSpec, tz: str | None) -> JsonValue:
    start = (
        iso(row["bucket"], tz=tz)
        if tz is not None
        else local_label(row["bucket"], (row["off_lo"], row["off_hi"]))
    )
    item: dict[str, JsonValue] = {"start": start, "count": row["n"]}
    single = row["unit_lo"] == row["unit_hi"] and row["unit_n"] in (0, row["n"])
    unit: str | None = row["unit_lo"] if single else None
    suffix = ""
    if spec.canonical and not single:
        # Several units in one bucket (kcal and kJ, say): aggregate the canonical copies.
        suffix = "_c"
        low, high = canonical(row["unit_lo"]), canonical(row["unit_hi"])
        unit = low[0] if low is not None and high is not None and low[0] == high[0] else None
    if spec.storage is not catalog.Storage.SEXUAL_ACTIVITY:
        item["unit"] = unit
    stats = ("sum",) if spec.aggregation == "sum" else ("min", "avg", "max")
    for column in spec.aggregated:
        source = column + (suffix if column == "qty" else "")
        for stat in stats:
            value = row[f"{source}_{stat}"]
            if spec.aggregated == ("qty",):
                item[stat] = value
            elif spec.storage is catalog.Storage.HEART_RATE:
                if column == stat:  # min of Min, avg of Avg, max of Max
                    item[stat] = value
            elif spec.aggregation == "sum":
                item[column] = value
            else:
                item[f"{column}_{stat}"] = value
    return item
