"""The catalog of metric names the series tables refer to by id."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Identity, SmallInteger, Table, Text

from app.ingest.models.shapes import metadata, now_column

metric_types = Table(
    "metric_types",
    metadata,
    Column("id", SmallInteger, Identity(), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    # False for names the app sent that we have no typed mapping for: stored, and reported.
    Column("known", Boolean, nullable=False),
    now_column("created_at"),
)
