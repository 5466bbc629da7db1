"""Append-only audit trail, partitioned by month like the time series."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.db.base import Base

audit_log = Table(
    "audit_log",
    Base.metadata,
    Column("id", BigInteger, Identity(), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("user_id", BigInteger),
    Column("api_key_id", BigInteger),
    Column("action", Text, nullable=False),
    Column("details", JSONB, nullable=False, server_default="{}"),
    PrimaryKeyConstraint("occurred_at", "id"),
    Index(None, "occurred_at", postgresql_using="brin"),
    Index(None, "user_id", "occurred_at"),
    postgresql_partition_by="RANGE (occurred_at)",
)
