"""SQL fragments shared by the read repositories: time ranges, local-time buckets, keyset pages.

Only identifiers from our own constants are ever put into SQL text; every value is a bind
parameter, collected in a ``Params`` under a fresh name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from app.query.timerange import MAX_OFFSET, Bound


class Params(dict[str, Any]):
    """Bind parameters under generated names: ``params.add(value)`` -> ``:p3``."""

    def add(self, value: Any, cast: str | None = None) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"CAST(:{name} AS {cast})" if cast else f":{name}"


def local_time(column: str, offset_column: str) -> str:
    """The wall-clock time a point was recorded at (timestamp without time zone)."""
    return f"(({column} AT TIME ZONE 'UTC') + {offset_column} * interval '1 minute')"


def time_range(
    column: str,
    offset_column: str | None,
    lo: Bound | None,
    hi: Bound | None,
    params: Params,
) -> list[str]:
    """Predicates for ``lo <= column < hi``; wall-clock bounds are read in each row's offset,
    with a widened instant range beside them so the time index still does the work."""
    where: list[str] = []
    for bound, op, widen in ((lo, ">=", -MAX_OFFSET), (hi, "<", MAX_OFFSET)):
        if bound is None:
            continue
        if bound.at is not None:
            where.append(f"{column} {op} {params.add(bound.at, 'timestamptz')}")
            continue
        local = bound.local
        if local is None:
            continue
        if offset_column is None:
            where.append(f"{column} {op} {params.add(local.replace(tzinfo=UTC), 'timestamptz')}")
            continue
        wide = local.replace(tzinfo=UTC) + widen
        where.append(f"{column} {op} {params.add(wide, 'timestamptz')}")
        where.append(f"{local_time(column, offset_column)} {op} {params.add(local, 'timestamp')}")
    return where


def bucket(column: str, offset_column: str, unit: str, tz: str | None, params: Params) -> str:
    """The start of a point's bucket: in ``tz`` (DST-aware, timestamptz) or, without one, in the
    offset the point was recorded in (wall clock, timestamp)."""
    if tz is not None:
        return f"date_trunc({params.add(unit, 'text')}, {column}, {params.add(tz, 'text')})"
    return f"date_trunc({params.add(unit, 'text')}, {local_time(column, offset_column)})"


def after(keys: Sequence[tuple[str, str, Any]], params: Params) -> str:
    """Rows strictly after ``keys`` [(column, sql type, value)] in ``ORDER BY`` those columns
    ascending (NULLs last), the order of the natural-key indexes."""
    alternatives: list[str] = []
    equal: list[str] = []
    for column, sql_type, value in keys:
        if value is not None:
            alternatives.append(
                " AND ".join(
                    [*equal, f"({column} > {params.add(value, sql_type)} OR {column} IS NULL)"]
                )
            )
            equal.append(f"{column} = {params.add(value, sql_type)}")
        else:
            equal.append(f"{column} IS NULL")  # nothing sorts after NULL in this column
    return "(" + " OR ".join(f"({a})" for a in alternatives) + ")" if alternatives else "false"
