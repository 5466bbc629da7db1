"""canonical labels: localised words stored canonical, the words as sent kept in originals

Revision ID: 7a3c51e2b9d4
Revises: 4d1e7a9c3b52
Create Date: 2026-12-05 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7a3c51e2b9d4"
down_revision: str | None = "4d1e7a9c3b52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Partitioned parents: a column added to one is added to every partition.
_LABELLED = ("sleep_segments", "symptoms", "state_of_mind", "medications", "cycle_tracking")


def upgrade() -> None:
    for table in _LABELLED:
        op.add_column(table, sa.Column("originals", postgresql.JSONB(), nullable=True))
    # A flagged word has no number.
    op.alter_column("quality_flags", "value", existing_type=sa.Double(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM quality_flags WHERE value IS NULL")
    op.alter_column("quality_flags", "value", existing_type=sa.Double(), nullable=False)
    for table in _LABELLED:
        op.drop_column(table, "originals")
