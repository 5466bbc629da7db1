"""Per-user data generation: the version the read cache is keyed by."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Table, text

from app.db.base import Base

# One row per user whose data ever changed; ``generation`` goes up in the very transaction that
# changes it (triggers, see the migration): when an ingestion is finished (raw_ingestions.
# processed_at set) and when data is erased (the audit row "data.deleted"). A cached read keyed
# by it can therefore never outlive a change whose response was sent, whatever Redis did.
user_data_generations = Table(
    "user_data_generations",
    Base.metadata,
    Column(
        "user_id",
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("generation", BigInteger, nullable=False, server_default=text("1")),
)
