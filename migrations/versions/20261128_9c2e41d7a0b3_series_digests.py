"""series digests: large series applied before, answered without re-merging

Revision ID: 9c2e41d7a0b3
Revises: f3c9cd5aa961
Create Date: 2026-11-28 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c2e41d7a0b3"
down_revision: str | None = "f3c9cd5aa961"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "series_digests",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("series_id", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("stored", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_series_digests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "digest", name=op.f("pk_series_digests")),
    )
    op.create_index(
        op.f("ix_series_digests_series"),
        "series_digests",
        ["user_id", "table_name", "series_id", "first_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_series_digests_series"),
        table_name="series_digests",
    )
    op.drop_table("series_digests")
