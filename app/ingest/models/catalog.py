"""The catalog of metric names the series tables refer to by id."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)

from app.ingest.models.shapes import metadata

metric_types = Table(
    "metric_types",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    # False for names the app sent that we have no typed mapping for: stored, and reported.
    Column("known", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The names without a typed mapping each account has stored: what bounds how much one account
# can add to the shared catalogue (HAE_MAX_UNKNOWN_METRICS_PER_USER).
user_unknown_metrics = Table(
    "user_unknown_metrics",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("user_id", "name"),
)
