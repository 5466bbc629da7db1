"""Alembic environment: async engine from DATABASE_URL, models' metadata as the target."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

import app.audit.models
import app.auth.models
import app.ingest.models
import app.quality.models
import app.query.models  # noqa: F401 - registers the tables
from app.config import Settings
from app.db.base import Base
from app.db.partitions import is_partition_of
from app.ingest.models import PARTITIONED

config = context.config
target_metadata = Base.metadata
_POSTGIS_TABLES = {"spatial_ref_sys", "geometry_columns", "geography_columns"}


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Partitions are created on demand by the application, not by migrations.
    if (
        type_ == "table"
        and name is not None
        and (name in _POSTGIS_TABLES or is_partition_of(name, PARTITIONED))
    ):
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))


def _configure(connection: Connection | None = None, **kwargs: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=Settings().database_url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or Settings().database_url
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
    else:
        asyncio.run(run_migrations_online())
