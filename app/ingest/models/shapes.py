"""The shapes the storage tables share: the monthly-partitioned series table and its column runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.db.base import Base

metadata = Base.metadata

# table name -> partition column; the partition helpers and the migrations read this.
PARTITIONED: dict[str, str] = {"audit_log": "occurred_at"}


def tz(name: str, *, nullable: bool = True) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def now_column(name: str) -> Column[Any]:
    """A required timestamp the database fills in with the time of the insert."""
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


def originals() -> Column[Any]:
    """Localised words as sent, by wire field, where the columns hold their canonical values
    (``normalise.labels``); NULL when every word came in its canonical form."""
    return Column("originals", JSONB)


def user_id_column() -> Column[int]:
    """``user_id`` of a table that is not partitioned: the user's rows go when the user does."""
    return Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def doubles(*names: str) -> list[Column[Any]]:
    """Nullable float8 columns: the measured values most tables carry."""
    return [Column(name, Double) for name in names]


def series_table(
    name: str, time_column: str, key: tuple[str, ...], *columns: Any, user_index: bool = False
) -> Table:
    """A monthly-partitioned time-series table with the columns every one of them has."""
    PARTITIONED[name] = time_column
    indexes: list[Any] = [Index(None, time_column, postgresql_using="brin")]
    if user_index:
        indexes.append(Index(None, "user_id", time_column))
    return Table(
        name,
        metadata,
        Column("user_id", BigInteger, nullable=False),
        *columns,
        Column("ingestion_id", BigInteger, nullable=False),
        UniqueConstraint(*key, postgresql_nulls_not_distinct=True),
        *indexes,
        postgresql_partition_by=f"RANGE ({time_column})",
    )


def point_table(
    name: str, *columns: Any, per_metric: bool = False, key_extra: tuple[str, ...] = ()
) -> Table:
    """A metric series table: one row per point, keyed by its bounds and source (and by metric
    when several metrics share the table)."""
    metric = ("metric_id",) if per_metric else ()
    key = ("user_id", *metric, "start_at", "end_at", "source", *key_extra)
    metric_column = [Column("metric_id", Integer, nullable=False)] if per_metric else []
    return series_table(
        name,
        "start_at",
        key,
        *metric_column,
        tz("start_at", nullable=False),
        tz("end_at"),
        Column("utc_offset_min", SmallInteger, nullable=False),
        Column("source", Text),
        *columns,
    )


def event_table(name: str, key_tail: tuple[str, ...], *columns: Any) -> Table:
    """An event section's table: one row per record, its fields beyond ours kept in ``extra``."""
    return series_table(
        name,
        "start_at",
        ("user_id", "start_at", *key_tail),
        tz("start_at", nullable=False),
        tz("end_at"),
        Column("utc_offset_min", SmallInteger, nullable=False),
        Column("end_offset_min", SmallInteger),
        *columns,
        Column("extra", JSONB),
        user_index=True,
    )
