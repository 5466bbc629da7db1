"""The bench databases, and the physical limit: raw COPY of the rows the app stored.

Two databases on the server of ``DATABASE_URL`` (or ``TEST_DATABASE_URL``):
``hae_bench_<pid>_ingest`` (migrated with alembic, served by the app) and
``hae_bench_<pid>_copy`` (a clone of the freshly migrated one). After the fresh ingest, the exact
rows it stored are read back from every data table and COPYed into the empty twin tables of the
copy database (partitions created beforehand, as the app would find them on a warm system).
"""

from __future__ import annotations

import functools
import io
import os
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from tests.bench.procs import BenchFailure

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/hae"
_PREFIX = "hae_bench_"


def server_url() -> str:
    return os.environ.get("DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL


def url_for(database: str) -> str:
    """SQLAlchemy URL (asyncpg driver) of ``database`` on the bench's server."""
    url = make_url(server_url()).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


def dsn(database: str) -> str:
    url = make_url(server_url()).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


@functools.cache
def data_tables() -> list[str]:
    """Every table the ingest path writes points to, parents before children (foreign keys)."""
    # Imported here: the app's models take seconds to import, the migration need not wait.
    from sqlalchemy import Table

    import app.audit.models
    import app.auth.models
    import app.quality.models  # noqa: F401 - the whole metadata, for foreign-key order
    from app.ingest import models

    ours = {
        value.name
        for value in vars(models).values()
        if isinstance(value, Table)
        and value.name not in ("metric_types", "raw_ingestions")
        and "ingestion_id" in value.columns  # point rows; not bookkeeping such as digests
    }
    return [t.name for t in models.metadata.sorted_tables if t.name in ours]


@dataclass
class Databases:
    ingest: str
    copy: str

    @classmethod
    def for_pid(cls, pid: int) -> Databases:
        return cls(f"{_PREFIX}{pid}_ingest", f"{_PREFIX}{pid}_copy")

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(dsn("postgres"))

    async def create_ingest(self) -> None:
        admin = await self.admin()
        try:
            await _drop_stale(admin)
            for name in (self.ingest, self.copy):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{self.ingest}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(dsn(self.ingest))
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        finally:
            await conn.close()

    async def clone_copy(self) -> None:
        """The copy database: the freshly migrated ingest database, before any data."""
        admin = await self.admin()
        try:
            await admin.execute(f'CREATE DATABASE "{self.copy}" TEMPLATE "{self.ingest}"')
        finally:
            await admin.close()

    async def drop(self) -> None:
        admin = await self.admin()
        try:
            for name in (self.ingest, self.copy):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _drop_stale(admin: asyncpg.Connection) -> None:
    """Bench databases of killed runs: their pid is gone and nobody is connected."""
    rows = await admin.fetch(
        "SELECT d.datname, (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname)"
        " AS conns FROM pg_database d WHERE d.datname ~ $1",
        f"^{_PREFIX}[0-9]+_(ingest|copy)$",
    )
    for row in rows:
        pid = int(row["datname"][len(_PREFIX) :].split("_")[0])
        if row["conns"] or pid == os.getpid() or _alive(pid):
            continue
        await admin.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def server_info() -> dict[str, Any]:
    conn = await asyncpg.connect(dsn("postgres"))
    try:
        info: dict[str, Any] = {"version": conn.get_server_version().major}
        for setting in (
            "server_version",
            "shared_buffers",
            "work_mem",
            "maintenance_work_mem",
            "synchronous_commit",
            "fsync",
            "wal_level",
            "max_wal_size",
        ):
            info[setting] = await conn.fetchval(f"SHOW {setting}")
        return info
    finally:
        await conn.close()


async def _connect(database: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn(database), command_timeout=3600)
    # Geometry travels as its binary form (EWKB) untouched, both ways.
    await conn.set_type_codec(
        "geometry", schema="public", encoder=bytes, decoder=bytes, format="binary"
    )
    return conn


async def checkpoint(database: str) -> None:
    """Flush dirty buffers before a timed phase, so one phase does not pay for the previous."""
    conn = await asyncpg.connect(dsn(database))
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def stored_rows(database: str, ingestion_ids: list[int]) -> dict[str, int]:
    """Rows per data table written by these ingestions (the point rows, not the bookkeeping)."""
    conn = await _connect(database)
    try:
        return {
            table: await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE ingestion_id = ANY($1::bigint[])",  # noqa: S608
                ingestion_ids,
            )
            for table in data_tables()
        }
    finally:
        await conn.close()


async def copy_baseline(dbs: Databases, ingestion_id: int) -> dict[str, Any]:
    """Time COPY of exactly the rows ``ingestion_id`` stored into the empty copy database.

    ``records``: asyncpg ``copy_records_to_table`` from Python records, what the app's staging
    does (the denominator of R). ``binary``: the same rows as server-produced binary COPY data,
    no Python encoding at all (for reference).
    """
    src = await _connect(dbs.ingest)
    dst = await _connect(dbs.copy)
    try:
        await _mirror_partitions(src, dst)
        users = await src.fetch("SELECT * FROM users")  # foreign keys of workouts, routes
        await dst.copy_records_to_table("users", records=users, columns=list(users[0].keys()))
        tables = [
            t
            for t in data_tables()
            if await src.fetchval(
                f"SELECT EXISTS (SELECT 1 FROM {t} WHERE ingestion_id = $1)",  # noqa: S608
                ingestion_id,
            )
        ]
        await dst.execute("CHECKPOINT")
        records = await _timed_copies(src, dst, tables, ingestion_id, binary=False)
        await dst.execute(f"TRUNCATE {', '.join(tables)}")
        await dst.execute("CHECKPOINT")
        binary = await _timed_copies(src, dst, tables, ingestion_id, binary=True)
    finally:
        await src.close()
        await dst.close()
    return {**records, "binary": binary}


async def _timed_copies(
    src: asyncpg.Connection,
    dst: asyncpg.Connection,
    tables: list[str],
    ingestion_id: int,
    *,
    binary: bool,
) -> dict[str, Any]:
    per_table: dict[str, dict[str, Any]] = {}
    for table in tables:
        query = f"SELECT * FROM {table} WHERE ingestion_id = {int(ingestion_id)}"  # noqa: S608
        if binary:
            buffer = io.BytesIO()
            await src.copy_from_query(query, output=buffer, format="binary")
            columns = [a.name for a in (await src.prepare(query)).get_attributes()]
            count = await src.fetchval(f"SELECT count(*) FROM ({query}) q")  # noqa: S608
            buffer.seek(0)
            started = time.perf_counter()
            await dst.copy_to_table(table, source=buffer, columns=columns, format="binary")
        else:
            rows = await src.fetch(query)
            columns, count = list(rows[0].keys()), len(rows)
            started = time.perf_counter()
            await dst.copy_records_to_table(table, records=rows, columns=columns)
        elapsed = time.perf_counter() - started
        per_table[table] = {"rows": count, "seconds": round(elapsed, 4)}
    rows_total = sum(t["rows"] for t in per_table.values())
    seconds = sum(t["seconds"] for t in per_table.values())
    if not rows_total or seconds <= 0:
        raise BenchFailure("the COPY baseline copied no rows")
    return {
        "rows": rows_total,
        "seconds": round(seconds, 4),
        "rows_per_s": round(rows_total / seconds),
        "tables": per_table,
    }


async def _mirror_partitions(src: asyncpg.Connection, dst: asyncpg.Connection) -> None:
    """Create in ``dst`` every partition the ingest created in ``src`` (same bounds)."""
    query = (
        "SELECT c.relname AS name, p.relname AS parent, pg_get_expr(c.relpartbound, c.oid) AS bound"
        " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_class p ON p.oid = i.inhparent"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND p.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p')"
        " ORDER BY 1"
    )
    present = {r["name"] for r in await dst.fetch(query, data_tables())}
    for row in await src.fetch(query, data_tables()):
        if row["name"] not in present:
            await dst.execute(
                f'CREATE TABLE "{row["name"]}" PARTITION OF "{row["parent"]}" {row["bound"]}'
            )
