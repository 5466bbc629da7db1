"""All ingest SQL: raw payload archive, metric types, and the set-based upsert.

The upsert stages rows with COPY into a temporary table and merges them with one statement per
target table. It reads the target once to classify every staged row (new / changed / unchanged),
inserts only new rows and updates only changed ones, so a re-sent payload (the common case for
this app) writes nothing at all and takes no row locks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import chain
from typing import Any

from sqlalchemy import Table, TextClause, UniqueConstraint, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import driver_connection
from app.erase.repository import LOCK_ORDER
from app.ingest import models
from app.ingest.normalise.common import OutOfHint, Rows

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_GEOMETRY_IN = "ST_GeomFromEWKB({})"
_GEOMETRY_OUT = "ST_AsEWKB({})"


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


@dataclass(slots=True)
class UpsertResult:
    received: int
    inserted: int
    updated: int
    inserted_keys: list[Any]
    updated_keys: list[Any]
    direct: bool = False  # COPYed straight into an empty range: the rows stored are these

    @property
    def unchanged(self) -> int:
        return self.received - self.inserted - self.updated


@cache
def _merge_sql(
    table_name: str, columns: tuple[str, ...], returning: str | None, dedupe: bool
) -> TextClause:
    s = spec(table_name)
    stage = f"_stage_{table_name}"
    key = s.key
    compare = [c for c in columns if c not in key and c != "ingestion_id"]

    def staged(col: str, alias: str = "cur") -> str:
        ref = f"{alias}.{col}"
        return _GEOMETRY_IN.format(ref) if col in s.geometry else ref

    def target(col: str) -> str:
        return _GEOMETRY_OUT.format(f"t.{col}") if col in s.geometry else f"t.{col}"

    join = " AND ".join(
        f"t.{c} IS NOT DISTINCT FROM src.{c}" if c in s.nullable_key else f"t.{c} = src.{c}"
        for c in key
    )
    # Constants that let the planner prune to this user's rows in the batch's months.
    prune = "t.user_id = :user_id"
    if s.time_column is not None:
        prune += f" AND t.{s.time_column} >= :first_at AND t.{s.time_column} <= :last_at"
    join = f"{join} AND {prune}"
    # The update finds its rows by the physical address the classification saw: one TID probe
    # per changed row, whatever the planner believes about table sizes (stale statistics after
    # a bulk insert once turned a key join into a quadratic nested loop). Exact because the
    # advisory lock keeps this user's other writers of this table out meanwhile.
    update_join = f"t.tableoid = cur.t_oid AND t.ctid = cur.t_ctid AND {prune}"
    changed = (
        f"ROW({', '.join(target(c) for c in compare)}) IS DISTINCT FROM "
        f"ROW({', '.join('src.' + c for c in compare)})"
        if compare
        else "false"
    )
    assignments = [f"{c} = {staged(c)}" for c in compare] + ["ingestion_id = cur.ingestion_id"]
    if s.has_updated_at:
        assignments.append("updated_at = now()")
    cols = ", ".join(columns)
    ret = returning or "1"
    ret_update = f"t.{returning}" if returning else "1"
    # Identifiers only, all from our own table metadata; values travel through COPY.
    if dedupe:  # the same key twice in one body: the later point wins
        source = f"SELECT DISTINCT ON ({', '.join(key)}) {cols} FROM {stage} ORDER BY {', '.join(key)}, ctid DESC"
    else:
        source = f"SELECT {cols} FROM {stage}"
    return text(f"""
WITH src AS ({source}
), cur AS MATERIALIZED (
    SELECT src.*, t.tableoid AS t_oid, t.ctid AS t_ctid, (t.user_id IS NOT NULL) AS found,
        {changed} AS changed
    FROM src LEFT JOIN {table_name} t ON {join}
), ins AS (
    INSERT INTO {table_name} ({cols})
    SELECT {", ".join(staged(c) for c in columns)} FROM cur WHERE NOT found
    ON CONFLICT DO NOTHING
    RETURNING {ret}
), upd AS (
    UPDATE {table_name} t SET {", ".join(assignments)}
    FROM cur WHERE cur.found AND cur.changed AND {update_join}
    RETURNING {ret_update}
)
SELECT ARRAY(SELECT * FROM ins) AS inserted, ARRAY(SELECT * FROM upd) AS updated
""")


_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")


def _writer_key(table: str, user_id: int) -> str:
    return f"{table}:{user_id}"


async def _lock_writers(
    conn: AsyncConnection, table: str, user_id: int, held: frozenset[str]
) -> None:
    """Serialise one user's writers per table: the classify-then-write merge is then exact."""
    key = _writer_key(table, user_id)
    if key not in held:
        await conn.execute(_LOCK, {"k": key})


_LOCK_IN_ORDER = (
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
    " FROM (SELECT k FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n) AS ordered"
)


def _lock_rank(table: str) -> tuple[int, str]:
    """Every writer that holds several of these locks takes them in this one order: erasure
    (all of them), a series-by-series workouts write (workouts, series, routes), a small body."""
    try:
        return (LOCK_ORDER.index(table), table)
    except ValueError:
        return (len(LOCK_ORDER), table)


async def lock_tables(conn: AsyncConnection, user_id: int, tables: Iterable[str]) -> frozenset[str]:
    """Take the writer locks of several tables in one statement, in the one order every writer
    uses (so transactions taking overlapping sets cannot deadlock); the keys now held."""
    keys = [_writer_key(table, user_id) for table in sorted(set(tables), key=_lock_rank)]
    if keys:
        await (await driver_connection(conn)).fetchval(_LOCK_IN_ORDER, keys)
    return frozenset(keys)


async def upsert(
    conn: AsyncConnection,
    rows: Rows,
    *,
    returning: str | None = None,
    held: frozenset[str] = frozenset(),
    empty: bool | None = None,
) -> UpsertResult:
    """Merge ``rows`` into their table inside the caller's transaction (``held``: writer locks
    this transaction already holds; ``empty``: whether nothing of the series is stored in its
    range, when already known from :func:`empty_ranges`)."""
    if rows.stream is not None:
        return await _upsert_stream(conn, rows, held)
    if not rows.rows:
        return UpsertResult(0, 0, 0, [], [])
    s = spec(rows.table)
    user_id = rows.rows[0][rows.columns.index("user_id")]
    await _lock_writers(conn, rows.table, user_id, held)
    first_at, last_at = time_range(rows)
    driver = await driver_connection(conn)
    if (
        rows.unique_keys
        and first_at is not None
        and (
            empty
            if empty is not None
            else not await _any_stored(conn, s, _prefix(rows, s), first_at, last_at)
        )
    ):
        # Nothing of this series stored in its time range, and no key repeats: every row is
        # new, so the rows go straight into the table (COPY speed, no staging, no merge).
        await driver.copy_records_to_table(
            rows.table, records=rows.rows, columns=list(rows.columns)
        )
        keys = [row[rows.columns.index(returning)] for row in rows.rows] if returning else []
        return UpsertResult(len(rows.rows), len(rows.rows), 0, keys, [], direct=True)
    stage = f"_stage_{rows.table}"
    column_defs = ", ".join(f"{c} {s.types[c]}" for c in rows.columns)
    await conn.execute(text(f"CREATE TEMP TABLE {stage} ({column_defs}) ON COMMIT DROP"))
    await driver.copy_records_to_table(stage, records=rows.rows, columns=list(rows.columns))
    if len(rows.rows) >= 1000:
        await conn.execute(text(f"ANALYZE {stage}"))  # so the merge plans for its real size
    sql = _merge_sql(rows.table, rows.columns, returning, not rows.unique_keys)
    params = {"user_id": user_id, "first_at": first_at, "last_at": last_at}
    result = (await conn.execute(sql, params)).one()
    await conn.execute(text(f"DROP TABLE {stage}"))
    inserted, updated = list(result.inserted), list(result.updated)
    return UpsertResult(len(rows.rows), len(inserted), len(updated), inserted, updated)


async def _upsert_stream(conn: AsyncConnection, rows: Rows, held: frozenset[str]) -> UpsertResult:
    """A large series: rows are normalised while COPY sends them, so Python and PostgreSQL work
    at the same time and the rows are never all in memory."""
    s = spec(rows.table)
    assert s.time_column is not None  # noqa: S101 - only time-series tables stream
    user_id = rows.key_prefix["user_id"]
    await _lock_writers(conn, rows.table, user_id, held)
    driver = await driver_connection(conn)
    columns = list(rows.columns)
    assert rows.stream is not None  # noqa: S101
    stored_until = (
        await _newest_stored(conn, s, rows.key_prefix, *rows.hint)
        if rows.hint is not None
        else None
    )
    if rows.hint is not None and (stored_until is None or stored_until < rows.hint[1]):
        # Nothing stored in the claimed range after ``stored_until``: the rows up to it are
        # merged, the rest go straight into the table (its months' partitions exist). A backfill
        # into an empty range is all straight in; a re-sync that extends what is stored merges
        # only the part it shares. A row that breaks the claim (out of range, not after the one
        # before) undoes the attempt and the whole series goes the merge way.
        rows.strict = True
        try:
            async with conn.begin_nested():
                written = await _split_write(conn, driver, rows, stored_until)
        except OutOfHint:
            pass
        else:
            return written
        finally:
            rows.strict = False
    stage = f"_stage_{rows.table}"
    column_defs = ", ".join(f"{c} {s.types[c]}" for c in rows.columns)
    await conn.execute(text(f"CREATE TEMP TABLE {stage} ({column_defs}) ON COMMIT DROP"))
    await driver.copy_records_to_table(stage, records=rows.stream(), columns=columns)
    if not rows.count:
        await conn.execute(text(f"DROP TABLE {stage}"))
        return UpsertResult(0, 0, 0, [], [])
    # Months the claim did not cover: created here, in this transaction (a separate connection
    # would wait on the lock this one may hold from the undone attempt).
    for year, month in sorted(rows.months):
        await conn.execute(
            text("SELECT hae_ensure_month_partition(:table, :at)"),
            {"table": rows.table, "at": datetime(year, month, 15, tzinfo=UTC)},
        )
    await conn.execute(text(f"ANALYZE {stage}"))
    sql = _merge_sql(rows.table, rows.columns, None, not rows.unique_keys)
    params = {"user_id": user_id, "first_at": rows.first_at, "last_at": rows.last_at}
    result = (await conn.execute(sql, params)).one()
    await conn.execute(text(f"DROP TABLE {stage}"))
    return UpsertResult(rows.count, len(result.inserted), len(result.updated), [], [])


async def _split_write(
    conn: AsyncConnection, driver: Any, rows: Rows, stored_until: datetime | None
) -> UpsertResult:
    """Merge the (strictly ordered) rows up to ``stored_until``, COPY the rest into the table."""
    assert rows.stream is not None  # noqa: S101
    assert rows.hint is not None  # noqa: S101
    columns = list(rows.columns)
    s = spec(rows.table)
    stream = rows.stream()
    if stored_until is None:
        await driver.copy_records_to_table(rows.table, records=stream, columns=columns)
        return UpsertResult(rows.count, rows.count, 0, [], [], direct=True)
    position = rows.columns.index(str(s.time_column))
    first_new: list[tuple[Any, ...]] = []
    head = [0]

    def shared() -> Iterator[tuple[Any, ...]]:
        for row in stream:
            if row[position] > stored_until:
                first_new.append(row)  # strictly ordered: every row from here on is new
                return
            head[0] += 1
            yield row

    stage = f"_stage_{rows.table}"
    column_defs = ", ".join(f"{c} {s.types[c]}" for c in rows.columns)
    await conn.execute(text(f"CREATE TEMP TABLE {stage} ({column_defs}) ON COMMIT DROP"))
    await driver.copy_records_to_table(stage, records=shared(), columns=columns)
    inserted = updated = 0
    if head[0]:
        await conn.execute(text(f"ANALYZE {stage}"))
        sql = _merge_sql(rows.table, rows.columns, None, False)  # strictly ordered: keys unique
        params = {
            "user_id": rows.key_prefix["user_id"],
            "first_at": rows.hint[0],
            "last_at": stored_until,
        }
        merged = (await conn.execute(sql, params)).one()
        inserted, updated = len(merged.inserted), len(merged.updated)
    await conn.execute(text(f"DROP TABLE {stage}"))
    await driver.copy_records_to_table(
        rows.table, records=chain(first_new, stream), columns=columns
    )
    return UpsertResult(rows.count, inserted + rows.count - head[0], updated, [], [])


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


def _prefix(rows: Rows, s: TableSpec) -> dict[str, Any]:
    return {c: rows.rows[0][rows.columns.index(c)] for c in s.prefix}


async def _newest_stored(
    conn: AsyncConnection, s: TableSpec, prefix: dict[str, Any], first_at: Any, last_at: Any
) -> datetime | None:
    """The latest time of a row with this key prefix in the range (an index probe), if any."""
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


async def _any_stored(
    conn: AsyncConnection, s: TableSpec, prefix: dict[str, Any], first_at: Any, last_at: Any
) -> bool:
    """Whether any row with this series' key prefix exists in its time range (an index probe)."""
    found = await conn.execute(
        _any_stored_sql(s.name), {**prefix, "first_at": first_at, "last_at": last_at}
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
        s = spec(part.table)
        if not part.rows or not s.time_column:
            continue
        key = (part.table, *_prefix(part, s).values())
        shared[key] += 1
        if part.stream is None and part.unique_keys:
            candidates.append((part, key))
    probed = [part for part, key in candidates if shared[key] == 1]
    if not probed:
        return {}
    args: list[Any] = []
    for part in probed:
        args += _prefix(part, spec(part.table)).values()
        args += time_range(part)
    sql = _empty_ranges_sql(tuple(part.table for part in probed))
    found = await (await driver_connection(conn)).fetchval(sql, *args)
    return {id(part): bool(is_empty) for part, is_empty in zip(probed, found, strict=True)}


async def metric_type_ids(
    conn: AsyncConnection, names: Sequence[tuple[str, bool]]
) -> dict[str, int]:
    """Ids for metric names, registering the ones never seen before."""
    if not names:
        return {}
    await conn.execute(
        text(
            "INSERT INTO metric_types (name, known) "
            "SELECT * FROM unnest(CAST(:names AS text[]), CAST(:known AS boolean[])) "
            "ON CONFLICT (name) DO UPDATE SET known = excluded.known "
            "WHERE metric_types.known IS DISTINCT FROM excluded.known"
        ),
        {"names": [n for n, _ in names], "known": [k for _, k in names]},
    )
    found = await conn.execute(
        text("SELECT name, id FROM metric_types WHERE name = ANY(CAST(:names AS text[]))"),
        {"names": [n for n, _ in names]},
    )
    return {name: id_ for name, id_ in found}


async def workout_ids(
    conn: AsyncConnection, user_id: int, natural_keys: list[str]
) -> dict[str, Any]:
    found = await conn.execute(
        text(
            "SELECT natural_key, id FROM workouts "
            "WHERE user_id = :user_id AND natural_key = ANY(CAST(:keys AS text[]))"
        ),
        {"user_id": user_id, "keys": natural_keys},
    )
    return {key: id_ for key, id_ in found}


async def remove_stale_workout_series(
    conn: AsyncConnection, user_id: int, series: Rows
) -> list[Any]:
    """Delete points of the (workout, series) pairs in ``series`` that it no longer contains.

    A series the new version does not carry at all is kept: the app omits series when "include
    workout metrics" is off, which is no reason to forget them.
    """
    if not series.rows:
        return []
    pick = [series.columns.index(c) for c in ("workout_id", "series", "start_at", "source")]
    w, s, at, src = ([row[i] for row in series.rows] for i in pick)
    removed = await conn.execute(
        text(
            "WITH k AS (SELECT * FROM unnest(CAST(:w AS uuid[]), CAST(:s AS text[]),"
            " CAST(:at AS timestamptz[]), CAST(:src AS text[])) AS k(workout_id, series, start_at, source))"
            " DELETE FROM workout_series t"
            " WHERE t.user_id = :user_id AND t.workout_id = ANY(CAST(:workout_ids AS uuid[]))"
            " AND (t.workout_id, t.series) IN (SELECT DISTINCT workout_id, series FROM k)"
            " AND NOT EXISTS (SELECT 1 FROM k WHERE k.workout_id = t.workout_id"
            " AND k.series = t.series AND k.start_at = t.start_at AND k.source IS NOT DISTINCT FROM t.source)"
            " RETURNING t.workout_id"
        ),
        {"user_id": user_id, "workout_ids": sorted(set(w)), "w": w, "s": s, "at": at, "src": src},
    )
    return sorted(set(removed.scalars()))
