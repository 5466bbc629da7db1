"""What the writers need to know of a target table, read once from the table metadata."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Table, UniqueConstraint
from sqlalchemy.dialects import postgresql

from app.ingest import models
from app.ingest.types import Rows

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    key: tuple[str, ...]
    nullable_key: frozenset[str]
    types: dict[str, str]
    geometry: frozenset[str]
    has_updated_at: bool
    time_column: str | None  # the partition key, when the table is partitioned by time
    prefix: tuple[str, ...]  # key columns before the time column (user_id[, metric_id])


@cache
def spec(table_name: str) -> TableSpec:
    table: Table = models.metadata.tables[table_name]
    if table_name == "workout_routes":
        key: tuple[str, ...] = ("workout_id",)
    else:
        unique = next(c for c in table.constraints if isinstance(c, UniqueConstraint))
        key = tuple(c.name for c in unique.columns)
    types: dict[str, str] = {}
    geometry: set[str] = set()
    for column in table.columns:
        compiled = column.type.compile(dialect=_DIALECT)
        if compiled.lower().startswith("geometry"):
            geometry.add(column.name)
            compiled = "bytea"  # staged as EWKB
        types[column.name] = compiled
    time_column = models.PARTITIONED.get(table_name)
    prefix = key[: key.index(time_column)] if time_column in key else ()
    return TableSpec(
        name=table_name,
        key=key,
        nullable_key=frozenset(c for c in key if table.columns[c].nullable),
        types=types,
        geometry=frozenset(geometry),
        has_updated_at="updated_at" in table.columns,
        time_column=time_column,
        prefix=prefix,
    )


def time_range(rows: Rows) -> tuple[Any, Any]:
    """(first, last) of the rows' partition time, (None, None) when not time-partitioned."""
    s = spec(rows.table)
    if s.time_column is None or not (rows.rows or rows.first_at):
        return None, None
    if rows.first_at is not None and rows.last_at is not None:
        return rows.first_at, rows.last_at
    position = rows.columns.index(s.time_column)
    stamps = [row[position] for row in rows.rows]
    return min(stamps), max(stamps)


def key_prefix(rows: Rows) -> dict[str, Any]:
    """The key columns every row of a series shares (user_id[, metric_id]), by name."""
    if rows.stream is not None:
        return rows.key_prefix
    return {c: rows.rows[0][rows.columns.index(c)] for c in spec(rows.table).prefix}


def user_of(rows: Rows) -> int:
    """The user every row of ``rows`` belongs to."""
    if rows.stream is not None:
        user_id: int = rows.key_prefix["user_id"]
        return user_id
    return int(rows.rows[0][rows.columns.index("user_id")])
