"""What the app sent, kept as received, and the digests that let a repeated series skip work."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Identity,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from app.ingest.models.shapes import metadata, now_column, tz, user_id_column

raw_ingestions = Table(
    "raw_ingestions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    user_id_column(),
    Column("api_key_id", BigInteger),
    now_column("received_at"),
    Column("sha256", LargeBinary, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    # The body exactly as received (after transfer decoding), zstd-compressed.
    Column("body", LargeBinary, nullable=False),
    Column("compression", Text, nullable=False),
    Column("content_type", Text),
    Column("content_encoding", Text),
    Column("headers", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # The raw row is the job: a processor holds it until locked_until (renewed while it works);
    # a crashed one simply lets the lease run out and another takes it over.
    tz("locked_until"),
    tz("next_attempt_at"),
    Column("worker", Text),
    Column("report", JSONB),
    Column("error", Text),
    tz("processed_at"),
    UniqueConstraint("user_id", "sha256"),
    CheckConstraint(
        "status IN ('pending', 'processing', 'processed', 'failed', 'rejected')", name="status"
    ),
    Index(
        None, "status", "received_at", postgresql_where=text("status IN ('pending', 'processing')")
    ),
)

# A large metric series applied before, by the digest of its exact JSON: when the same bytes
# arrive again (the app re-sends whole series on every sync and retry) and every row they stand
# for is still stored as written, the series is answered "unchanged" without being decoded,
# normalised or merged. A row here asserts: each row this series normalises to is stored with
# these values. Writers that update or delete rows of (user, table, series) in a time range
# delete the overlapping digests in the same transaction; ``stored`` (rows of the series' key
# prefix in [first_at, last_at] just after the write) is re-counted before a digest is trusted,
# so a deletion by any other means (an operator's DELETE, a dropped partition) also voids it.
series_digests = Table(
    "series_digests",
    metadata,
    user_id_column(),
    Column("digest", LargeBinary, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("series_id", BigInteger, nullable=False),  # metric_id, 0 for single-metric tables
    tz("first_at", nullable=False),
    tz("last_at", nullable=False),
    Column("received", Integer, nullable=False),
    Column("stored", BigInteger, nullable=False),
    now_column("created_at"),
    PrimaryKeyConstraint("user_id", "digest"),
    Index("ix_series_digests_series", "user_id", "table_name", "series_id", "first_at"),
)
