"""The catalog of metric names the series tables refer to by id."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Identity, SmallInteger, Table, Text, func

from app.ingest.models.shapes import metadata

metric_types = Table(
    "metric_types",
    metadata,
    Column("id", SmallInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    # False for names the app sent that we have no typed mapping for: stored, and reported.
    Column("known", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
