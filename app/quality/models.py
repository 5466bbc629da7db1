"""Flagged (improbable but stored) values and per-user data freshness."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from app.db.base import Base

quality_flags = Table(
    "quality_flags",
    Base.metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("metric", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("value", Double),  # NULL for a word no label table knows
    Column("unit", Text),
    Column("reason", Text, nullable=False),
    Column("ingestion_id", BigInteger, nullable=False),
    Column("flagged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A re-sent payload flags nothing twice.
    UniqueConstraint("user_id", "metric", "start_at", "reason"),
    Index(None, "flagged_at"),
)

# The newest point per (user, metric or section, automation): what GET /v1/status and the
# silent-user gauge read, instead of scanning the partitioned tables.
data_freshness = Table(
    "data_freshness",
    Base.metadata,
    Column("user_id", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),  # metric | section
    Column("name", Text, nullable=False),
    Column("automation_id", Text, nullable=False, server_default=text("''")),
    Column("automation_name", Text),
    Column("last_point_at", DateTime(timezone=True)),
    Column("last_ingested_at", DateTime(timezone=True), nullable=False),
    Column("ingestion_id", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "kind", "name", "automation_id"),
)
