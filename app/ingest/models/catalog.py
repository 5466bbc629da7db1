"""The catalog of metric names the series tables refer to by id."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Identity, Integer, PrimaryKeyConstraint, Table, Text

from app.ingest.models.shapes import metadata, now_column, user_id_column

metric_types = Table(
    "metric_types",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    # False for names the app sent that we have no typed mapping for: stored, and reported.
    Column("known", Boolean, nullable=False),
    now_column("created_at"),
)

# The names without a typed mapping each account has stored: what bounds how much one account
# can add to the shared catalogue (HAE_MAX_UNKNOWN_METRICS_PER_USER).
user_unknown_metrics = Table(
    "user_unknown_metrics",
    metadata,
    user_id_column(),
    Column("name", Text, nullable=False),
    now_column("created_at"),
    PrimaryKeyConstraint("user_id", "name"),
)
