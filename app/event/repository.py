"""All SQL of the event read API; every statement is scoped to one ``user_id``.

Pages follow each table's natural-key order (``user_id, start_at, ...``: its unique index), so a
page is an index range scan whatever the history's length. Daily summaries group by the local
day (app.query.sql.bucket): in ``tz`` when given, else in the offset each event was recorded in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.event.specs import ECG, EventSpec, Filter
from app.query import sql
from app.query.timerange import Bound

# Conditions a route may add by name; SQL text from here only.
CONDITIONS = {"with_beats": "extra -> 'heartbeatSeries' IS NOT NULL"}


@dataclass(frozen=True, slots=True)
class EventQuery:
    user_id: int
    lo: Bound | None = None
    hi: Bound | None = None
    tz: str | None = None
    # (filter, value) pairs, values checked by the service.
    matches: tuple[tuple[Filter, str], ...] = ()
    conditions: tuple[str, ...] = ()  # keys of CONDITIONS
    metric_id: int | None = None
    after: list[Any] | None = None  # the natural key of the previous page's last item
    limit: int = 100


def _match(f: Filter, value: str, params: sql.Params) -> str:
    bound = params.add(value)
    if f.array:
        (column,) = f.columns
        return f"EXISTS (SELECT 1 FROM unnest({column}) AS e(v) WHERE lower(e.v) = lower({bound}))"
    return "(" + " OR ".join(f"lower({c}) = lower({bound})" for c in f.columns) + ")"


def _where(spec: EventSpec, q: EventQuery, params: sql.Params) -> list[str]:
    where = [f"user_id = {params.add(q.user_id)}"]
    if spec.metric is not None:
        where.append(f"metric_id = {params.add(q.metric_id)}")
    where += sql.time_range("start_at", "utc_offset_min", q.lo, q.hi, params)
    where += [_match(f, value, params) for f, value in q.matches]
    where += [CONDITIONS[name] for name in q.conditions]
    return where


async def metric_id(conn: AsyncConnection, name: str) -> int | None:
    found = await conn.execute(text("SELECT id FROM metric_types WHERE name = :n"), {"n": name})
    value = found.scalar_one_or_none()
    return None if value is None else int(value)


async def page(conn: AsyncConnection, spec: EventSpec, q: EventQuery) -> list[RowMapping]:
    """One page in natural-key order, ``q.limit + 1`` rows at most (the extra one says more)."""
    params = sql.Params()
    where = _where(spec, q, params)
    order = ("start_at", *(c for c, _ in spec.key))
    if q.after is not None:
        types = ("timestamptz", *(t for _, t in spec.key))
        keys = list(zip(order, types, q.after, strict=True))
        where.append(f"start_at >= {params.add(q.after[0], 'timestamptz')}")
        where.append(sql.after(keys, params))
    statement = (
        f"SELECT {', '.join(spec.select)} FROM {spec.table} WHERE {' AND '.join(where)}"
        f" ORDER BY {', '.join(order)} LIMIT {params.add(q.limit + 1)}"
    )
    return list((await conn.execute(text(statement), params)).mappings())


async def ecg_voltages(
    conn: AsyncConnection,
    user_id: int,
    key: tuple[datetime, str | None],
    offset: int,
    count: int,
) -> RowMapping | None:
    """One recording (by its natural key) with ``count`` samples from ``offset``: sliced in SQL,
    so a long recording is never shipped whole to read a window of it."""
    params = sql.Params()
    first, last = params.add(offset + 1, "int"), params.add(offset + count, "int")
    source = params.add(key[1], "text")
    statement = (
        f"SELECT {', '.join(ECG.select)}, voltages[{first} : {last}] AS voltages,"
        f" voltage_times[{first} : {last}] AS voltage_times FROM ecg_recordings"
        f" WHERE user_id = {params.add(user_id)}"
        f" AND start_at = {params.add(key[0], 'timestamptz')}"
        f" AND source IS NOT DISTINCT FROM {source}"
    )
    return (await conn.execute(text(statement), params)).mappings().one_or_none()


async def state_of_mind_days(
    conn: AsyncConnection, spec: EventSpec, q: EventQuery
) -> list[RowMapping]:
    """Per local day and kind: entries, and the count, sum, min and max of their valence."""
    aggregates = (
        "count(*) AS n, count(valence) AS valence_n, sum(valence) AS valence_sum,"
        " min(valence) AS valence_min, max(valence) AS valence_max"
    )
    return await _per_day(conn, spec, q, ("kind",), aggregates)


async def medication_days(
    conn: AsyncConnection, spec: EventSpec, q: EventQuery
) -> list[RowMapping]:
    """Per local day, medication and status as stored: the number of logged doses."""
    return await _per_day(conn, spec, q, ("display_text", "status"), "count(*) AS n")


async def _per_day(
    conn: AsyncConnection,
    spec: EventSpec,
    q: EventQuery,
    columns: tuple[str, ...],
    aggregates: str,
) -> list[RowMapping]:
    """``aggregates`` grouped and ordered by the local day (as ``day``), then by ``columns``."""
    params = sql.Params()
    day = sql.bucket("start_at", "utc_offset_min", "day", q.tz, params)
    where = _where(spec, q, params)
    groups = ", ".join(str(position) for position in range(1, len(columns) + 2))
    statement = (
        f"SELECT {day} AS day, {', '.join(columns)}, {aggregates}"
        f" FROM {spec.table} WHERE {' AND '.join(where)} GROUP BY {groups} ORDER BY {groups}"
    )
    return list((await conn.execute(text(statement), params)).mappings())
