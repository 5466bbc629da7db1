"""All SQL of the metric and sleep read API. Every statement is scoped to one ``user_id``.

Raw pages follow the natural-key index order (start, end, source[, reason]) so each page is an
index range scan over the month partitions, however long the history. Buckets are computed in
SQL with ``date_trunc`` over the point's local time (see app.query.sql.bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.query import sql
from app.query.specs import METRIC_TABLES, MetricSpec
from app.query.timerange import MAX_OFFSET, Bound


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    user_id: int
    spec: MetricSpec
    metric_id: int | None
    lo: Bound | None
    hi: Bound | None
    source: str | None
    limit: int
    tz: str | None = None
    bucket: str | None = None
    after: list[Any] | None = None  # raw: natural key of the last point; buckets: its start


async def data_generation(conn: AsyncConnection, user_id: int) -> int:
    """The version of the user's data the read cache is keyed by (0 before any change)."""
    generation = (
        await conn.execute(
            text("SELECT generation FROM user_data_generations WHERE user_id = :u"),
            {"u": user_id},
        )
    ).scalar()
    return int(generation or 0)


async def metric_type(conn: AsyncConnection, name: str) -> tuple[int, bool] | None:
    row = (
        await conn.execute(
            text("SELECT id, known FROM metric_types WHERE name = :name"), {"name": name}
        )
    ).one_or_none()
    return None if row is None else (int(row.id), bool(row.known))


async def metric_names(conn: AsyncConnection) -> dict[int, tuple[str, bool]]:
    rows = await conn.execute(text("SELECT id, name, known FROM metric_types"))
    return {int(r.id): (str(r.name), bool(r.known)) for r in rows}


async def has_rows(conn: AsyncConnection, user_id: int, spec: MetricSpec, metric_id: int) -> bool:
    found = await conn.execute(
        text(f"SELECT EXISTS (SELECT 1 FROM {spec.table} WHERE user_id = :u AND metric_id = :m)"),
        {"u": user_id, "m": metric_id},
    )
    return bool(found.scalar_one())


async def metric_summary(conn: AsyncConnection, user_id: int) -> list[RowMapping]:
    """Per (table, metric, unit): point count, first and last time, distinct sources."""
    parts = []
    for table, name, column in METRIC_TABLES:
        metric = "metric_id" if name is None else "CAST(NULL AS smallint)"
        label = "CAST(NULL AS text)" if name is None else f"'{name}'"
        parts.append(
            f"SELECT {metric} AS metric_id, {label} AS name, unit, count(*) AS n,"
            f" min({column}) AS first_at, max({column}) AS last_at,"
            " array_agg(DISTINCT source) FILTER (WHERE source IS NOT NULL) AS sources"
            f" FROM {table} WHERE user_id = :u GROUP BY 1, 2, 3"
        )
    rows = await conn.execute(text(" UNION ALL ".join(parts)), {"u": user_id})
    return list(rows.mappings())


def _where(q: SeriesQuery, params: sql.Params) -> list[str]:
    where = [f"user_id = {params.add(q.user_id)}"]
    if q.spec.by_metric_id:
        where.append(f"metric_id = {params.add(q.metric_id)}")
    if q.source is not None:
        where.append(f"source = {params.add(q.source)}")
    where += sql.time_range("start_at", "utc_offset_min", q.lo, q.hi, params)
    return where


_KEY_TYPES = {
    "start_at": "timestamptz",
    "end_at": "timestamptz",
    "source": "text",
    "reason": "text",
}


async def raw_points(conn: AsyncConnection, q: SeriesQuery) -> list[RowMapping]:
    """One page of points, ``q.limit + 1`` at most (the extra one says there is a next page)."""
    params = sql.Params()
    where = _where(q, params)
    order = ("start_at", "end_at", "source", *q.spec.extra_key)
    if q.after is not None:
        keys = [(c, _KEY_TYPES[c], v) for c, v in zip(order, q.after, strict=True)]
        where.append(f"start_at >= {params.add(q.after[0], 'timestamptz')}")
        where.append(sql.after(keys, params))
    values = [c for c in q.spec.values if c not in order]
    columns = ["start_at", "end_at", "utc_offset_min", "source", *values, *q.spec.extra_key]
    if q.spec.canonical:
        columns.append("qty_canonical")
    statement = (
        f"SELECT {', '.join(columns)} FROM {q.spec.table}"
        f" WHERE {' AND '.join(where)} ORDER BY {', '.join(order)}"
        f" LIMIT {params.add(q.limit + 1)}"
    )
    return list((await conn.execute(text(statement), params)).mappings())


def _aggregates(spec: MetricSpec) -> list[str]:
    out = [
        "count(*) AS n",
        "min(utc_offset_min) AS off_lo",
        "max(utc_offset_min) AS off_hi",
        "min(unit) AS unit_lo",
        "max(unit) AS unit_hi",
        "count(unit) AS unit_n",
    ]
    for column in spec.aggregated:
        sources = [(column, column)]
        if spec.canonical and column == "qty":
            sources.append(("coalesce(qty_canonical, qty)", "qty_c"))
        for expr, name in sources:
            if spec.aggregation == "sum":
                out.append(f"sum({expr}) AS {name}_sum")
            else:
                out += [
                    f"min({expr}) AS {name}_min",
                    f"avg({expr}) AS {name}_avg",
                    f"max({expr}) AS {name}_max",
                ]
    return out


async def buckets(conn: AsyncConnection, q: SeriesQuery, unit: str) -> list[RowMapping]:
    """One page of ``unit`` buckets (``q.limit + 1`` at most), in bucket order."""
    params = sql.Params()
    where = _where(q, params)
    if q.after is not None:
        last = q.after[0]
        later = sql.bucket("start_at", "utc_offset_min", unit, q.tz, params)
        if q.tz is not None:
            where.append(f"start_at > {params.add(last, 'timestamptz')}")
            where.append(f"{later} > {params.add(last, 'timestamptz')}")
        else:
            wide = last.replace(tzinfo=UTC) - MAX_OFFSET
            where.append(f"start_at > {params.add(wide, 'timestamptz')}")
            where.append(f"{later} > {params.add(last, 'timestamp')}")
    expr = sql.bucket("start_at", "utc_offset_min", unit, q.tz, params)
    statement = (
        f"SELECT {expr} AS bucket, {', '.join(_aggregates(q.spec))}"
        f" FROM {q.spec.table} WHERE {' AND '.join(where)}"
        f" GROUP BY 1 ORDER BY 1 LIMIT {params.add(q.limit + 1)}"
    )
    return list((await conn.execute(text(statement), params)).mappings())


# --- sleep ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SleepQuery:
    user_id: int
    lo: date | None
    hi: date | None
    tz: str | None
    limit: int
    after: date | None = None


def _night_label(column: str, offset_column: str, tz: str | None, params: sql.Params) -> str:
    """A sleep's night: the local date twelve hours after it (noon-to-noon sleep days, named for
    the day they end on, as the app names aggregated nights)."""
    local = (
        f"({column} AT TIME ZONE {params.add(tz, 'text')})"
        if tz is not None
        else sql.local_time(column, offset_column)
    )
    return f"CAST({local} + interval '12 hours' AS date)"


def _sleep_where(
    column: str, q: SleepQuery, lo: date | None, hi: date | None, params: sql.Params
) -> tuple[str, str]:
    label = _night_label(column, "utc_offset_min", q.tz, params)
    where = [f"user_id = {params.add(q.user_id)}"]
    if lo is not None:
        wide = datetime(lo.year, lo.month, lo.day, tzinfo=UTC) - timedelta(days=1) - MAX_OFFSET
        where.append(f"{column} >= {params.add(wide, 'timestamptz')}")
        where.append(f"{label} >= {params.add(lo, 'date')}")
    if hi is not None:
        wide = datetime(hi.year, hi.month, hi.day, tzinfo=UTC) + MAX_OFFSET
        where.append(f"{column} < {params.add(wide, 'timestamptz')}")
        where.append(f"{label} < {params.add(hi, 'date')}")
    return label, " AND ".join(where)


@dataclass(frozen=True, slots=True)
class _SleepTable:
    """A table of sleep rows: the column that places a row in its night, what a read returns."""

    name: str
    night_column: str
    columns: str
    order: str


_SLEEP_METRICS = _SleepTable(
    "sleep_metrics",
    "night_at",
    "night_at, utc_offset_min, night_is_date_only, sleep_start_at, sleep_end_at, in_bed_start_at,"
    " in_bed_end_at, bound_offsets_min, source, sleep_source, in_bed_source, asleep, core, deep,"
    " rem, awake, in_bed, total_sleep, unit",
    "night_at, sleep_start_at, sleep_end_at, source",
)
_SLEEP_SEGMENTS = _SleepTable(
    "sleep_segments",
    "start_at",
    "start_at, end_at, utc_offset_min, end_offset_min, stage, qty, unit, source",
    "start_at, end_at, stage, source",
)


async def sleep_nights(conn: AsyncConnection, q: SleepQuery) -> list[date]:
    """The nights in range that have any sleep record, ``q.limit + 1`` at most."""
    lo = q.lo
    if q.after is not None:
        lo = max(lo, q.after + timedelta(days=1)) if lo is not None else q.after + timedelta(days=1)
    params = sql.Params()
    parts = []
    for table in (_SLEEP_METRICS, _SLEEP_SEGMENTS):
        label, where = _sleep_where(table.night_column, q, lo, q.hi, params)
        parts.append(f"SELECT {label} AS night FROM {table.name} WHERE {where}")
    statement = (
        f"SELECT night FROM ({' UNION '.join(parts)}) n"
        f" ORDER BY night LIMIT {params.add(q.limit + 1)}"
    )
    return list((await conn.execute(text(statement), params)).scalars())


async def sleep_records(
    conn: AsyncConnection, q: SleepQuery, first: date, last: date
) -> list[RowMapping]:
    return await _sleep_rows(conn, _SLEEP_METRICS, q, first, last)


async def sleep_segments(
    conn: AsyncConnection, q: SleepQuery, first: date, last: date
) -> list[RowMapping]:
    return await _sleep_rows(conn, _SLEEP_SEGMENTS, q, first, last)


async def _sleep_rows(
    conn: AsyncConnection, table: _SleepTable, q: SleepQuery, first: date, last: date
) -> list[RowMapping]:
    """The rows of ``table`` on the nights ``first`` to ``last``, each with its ``night``."""
    params = sql.Params()
    label, where = _sleep_where(table.night_column, q, first, last + timedelta(days=1), params)
    statement = (
        f"SELECT {label} AS night, {table.columns} FROM {table.name} WHERE {where}"
        f" ORDER BY {table.order}"
    )
    return list((await conn.execute(text(statement), params)).mappings())
