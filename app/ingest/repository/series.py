"""SQL of the time-series tables: straight COPY, staging + merge, and the probes between them.

The merge stages rows with COPY into a temporary table and applies them with one statement per
target table. It reads the target once to classify every staged row (new / changed / unchanged),
inserts only new rows and updates only changed ones, so a re-sent payload (the common case for
this app) writes nothing at all and takes no row locks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import driver_connection
from app.ingest.repository.tables import TableSpec, key_prefix, spec, time_range, user_of
from app.ingest.types import Month, Rows

_GEOMETRY_IN = "ST_GeomFromEWKB({})"
_GEOMETRY_OUT = "ST_AsEWKB({})"


async def copy_into(
    conn: AsyncConnection, table: str, columns: Sequence[str], records: Iterable[tuple[Any, ...]]
) -> None:
    """COPY ``records`` straight into ``table`` (its partitions must exist)."""
    driver = await driver_connection(conn)
    await driver.copy_records_to_table(table, records=records, columns=list(columns))


async def stage(
    conn: AsyncConnection,
    table: str,
    columns: Sequence[str],
    records: Iterable[tuple[Any, ...]],
    *,
    analyze: bool,
) -> None:
    """A temporary staging table for ``table``, filled by COPY (dropped at commit at the latest)."""
    s = spec(table)
    column_defs = ", ".join(f"{c} {s.types[c]}" for c in columns)
    await conn.execute(text(f"CREATE TEMP TABLE _stage_{table} ({column_defs}) ON COMMIT DROP"))
    await copy_into(conn, f"_stage_{table}", columns, records)
    if analyze:
        await analyze_stage(conn, table)


async def analyze_stage(conn: AsyncConnection, table: str) -> None:
    """Statistics for the staged rows, so the merge plans for their real size."""
    await conn.execute(text(f"ANALYZE _stage_{table}"))


async def drop_stage(conn: AsyncConnection, table: str) -> None:
    await conn.execute(text(f"DROP TABLE _stage_{table}"))


async def merge(
    conn: AsyncConnection,
    rows: Rows,
    first_at: Any,
    last_at: Any,
    *,
    returning: str | None = None,
    dedupe: bool | None = None,
) -> tuple[list[Any], list[Any]]:
    """Apply the staged rows of ``rows``' table, then drop the stage: (keys inserted, keys
    updated) as ``returning`` names them (1 for each row when None). ``first_at``/``last_at``
    let the planner prune partitions; ``dedupe`` (default: unless the rows' keys are known to
    be unique) keeps the last of rows sharing a key."""
    if dedupe is None:
        dedupe = not rows.unique_keys
    sql = _merge_sql(rows.table, rows.columns, returning, dedupe)
    params = {"user_id": user_of(rows), "first_at": first_at, "last_at": last_at}
    result = (await conn.execute(sql, params)).one()
    await drop_stage(conn, rows.table)
    return list(result.inserted), list(result.updated)


def _staged(s: TableSpec, column: str, alias: str = "cur") -> str:
    ref = f"{alias}.{column}"
    return _GEOMETRY_IN.format(ref) if column in s.geometry else ref


def _stored(s: TableSpec, column: str) -> str:
    return _GEOMETRY_OUT.format(f"t.{column}") if column in s.geometry else f"t.{column}"


def _key_join(s: TableSpec) -> tuple[str, str]:
    """(the key join of staged to stored rows, the pruning predicate both merge parts share)."""
    join = " AND ".join(
        f"t.{c} IS NOT DISTINCT FROM src.{c}" if c in s.nullable_key else f"t.{c} = src.{c}"
        for c in s.key
    )
    # Constants that let the planner prune to this user's rows in the batch's months.
    prune = "t.user_id = :user_id"
    if s.time_column is not None:
        prune += f" AND t.{s.time_column} >= :first_at AND t.{s.time_column} <= :last_at"
    return f"{join} AND {prune}", prune


def _source(s: TableSpec, columns: tuple[str, ...], dedupe: bool) -> str:
    cols = ", ".join(columns)
    if dedupe:  # the same key twice in one body: the later point wins
        key = ", ".join(s.key)
        return f"SELECT DISTINCT ON ({key}) {cols} FROM _stage_{s.name} ORDER BY {key}, ctid DESC"
    return f"SELECT {cols} FROM _stage_{s.name}"


@cache
def _merge_sql(
    table_name: str, columns: tuple[str, ...], returning: str | None, dedupe: bool
) -> TextClause:
    s = spec(table_name)
    compare = [c for c in columns if c not in s.key and c != "ingestion_id"]
    join, prune = _key_join(s)
    # The update finds its rows by the physical address the classification saw: one TID probe
    # per changed row, whatever the planner believes about table sizes (stale statistics after
    # a bulk insert once turned a key join into a quadratic nested loop). Exact because the
    # writer lock keeps this user's other writers of this table out meanwhile.
    update_join = f"t.tableoid = cur.t_oid AND t.ctid = cur.t_ctid AND {prune}"
    changed = (
        f"ROW({', '.join(_stored(s, c) for c in compare)}) IS DISTINCT FROM "
        f"ROW({', '.join('src.' + c for c in compare)})"
        if compare
        else "false"
    )
    assignments = [f"{c} = {_staged(s, c)}" for c in compare] + ["ingestion_id = cur.ingestion_id"]
    if s.has_updated_at:
        assignments.append("updated_at = now()")
    ret = returning or "1"
    ret_update = f"t.{returning}" if returning else "1"
    # Identifiers only, all from our own table metadata; values travel through COPY.
    return text(f"""
WITH src AS ({_source(s, columns, dedupe)}
), cur AS MATERIALIZED (
    SELECT src.*, t.tableoid AS t_oid, t.ctid AS t_ctid, (t.user_id IS NOT NULL) AS found,
        {changed} AS changed
    FROM src LEFT JOIN {table_name} t ON {join}
), ins AS (
    INSERT INTO {table_name} ({", ".join(columns)})
    SELECT {", ".join(_staged(s, c) for c in columns)} FROM cur WHERE NOT found
    ON CONFLICT DO NOTHING
    RETURNING {ret}
), upd AS (
    UPDATE {table_name} t SET {", ".join(assignments)}
    FROM cur WHERE cur.found AND cur.changed AND {update_join}
    RETURNING {ret_update}
)
SELECT ARRAY(SELECT * FROM ins) AS inserted, ARRAY(SELECT * FROM upd) AS updated
""")


async def ensure_months(conn: AsyncConnection, table: str, months: Iterable[Month]) -> None:
    """Create missing month partitions inside the caller's transaction (for months a streamed
    series revealed only while it was written: a separate connection would wait on locks this
    transaction may hold)."""
    for year, month in sorted(months):
        await conn.execute(
            text("SELECT hae_ensure_month_partition(:table, :at)"),
            {"table": table, "at": datetime(year, month, 15, tzinfo=UTC)},
        )


async def newest_stored(
    conn: AsyncConnection, table: str, prefix: dict[str, Any], first_at: Any, last_at: Any
) -> datetime | None:
    """The latest time of a row with this key prefix in the range (an index probe), if any."""
    s = spec(table)
    where = " AND ".join(f"{c} = :{c}" for c in s.prefix)
    found = await conn.execute(
        text(
            f"SELECT max({s.time_column}) FROM {s.name} WHERE {where}"
            f" AND {s.time_column} >= :first_at AND {s.time_column} <= :last_at"
        ),
        {**{c: prefix[c] for c in s.prefix}, "first_at": first_at, "last_at": last_at},
    )
    newest: datetime | None = found.scalar()
    return newest


async def any_stored(conn: AsyncConnection, rows: Rows, first_at: Any, last_at: Any) -> bool:
    """Whether any row with this series' key prefix exists in its time range (an index probe)."""
    found = await conn.execute(
        _any_stored_sql(rows.table), {**key_prefix(rows), "first_at": first_at, "last_at": last_at}
    )
    return bool(found.scalar())


@cache
def _any_stored_sql(table_name: str) -> TextClause:
    s = spec(table_name)
    where = " AND ".join(f"{c} = :{c}" for c in s.prefix)
    return text(
        f"SELECT EXISTS (SELECT 1 FROM {s.name} WHERE {where}"
        f" AND {s.time_column} >= :first_at AND {s.time_column} <= :last_at)"
    )


@cache
def _empty_ranges_sql(tables: tuple[str, ...]) -> str:
    """One probe per table, with positional parameters: prefix columns, first, last, in turn."""
    probes = []
    n = 0
    for table in tables:
        s = spec(table)
        where = []
        for c in s.prefix:
            n += 1
            where.append(f"{c} = ${n}::{s.types[c]}")
        at, kind = s.time_column, s.types[str(s.time_column)]
        probes.append(
            f"NOT EXISTS (SELECT 1 FROM {table} WHERE {' AND '.join(where)}"
            f" AND {at} >= ${n + 1}::{kind} AND {at} <= ${n + 2}::{kind})"
        )
        n += 2
    return f"SELECT ARRAY[{', '.join(probes)}]"


async def empty_ranges(conn: AsyncConnection, parts: Sequence[Rows]) -> dict[int, bool]:
    """For the series that may go straight into their table: whether nothing of each is stored
    in its time range, all probed in one statement (by ``id`` of the part). Call it with the
    writer locks held, before any of the parts is written. A series sharing its table and key
    prefix with another in ``parts`` is left out: it must see what the other one wrote."""
    candidates = []
    shared: Counter[tuple[Any, ...]] = Counter()
    for part in parts:
        if not part.rows or not spec(part.table).time_column:
            continue
        key = (part.table, *key_prefix(part).values())
        shared[key] += 1
        if part.stream is None and part.unique_keys:
            candidates.append((part, key))
    probed = [part for part, key in candidates if shared[key] == 1]
    if not probed:
        return {}
    args: list[Any] = []
    for part in probed:
        args += key_prefix(part).values()
        args += time_range(part)
    sql = _empty_ranges_sql(tuple(part.table for part in probed))
    found = await (await driver_connection(conn)).fetchval(sql, *args)
    return {id(part): bool(is_empty) for part, is_empty in zip(probed, found, strict=True)}
