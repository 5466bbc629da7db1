"""user data generations: the read cache is keyed by a version bumped with the data

Revision ID: 4d1e7a9c3b52
Revises: 3d1f7a92c0e4
Create Date: 2026-12-05 06:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4d1e7a9c3b52"
down_revision: str | None = "3d1f7a92c0e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Bumped by triggers, inside the transaction that changes a user's data: every ingestion ends
# with raw_ingestions.processed_at set (in the transaction of its last write), every erasure of
# data is audited as "data.deleted" in its own. No caller has to remember it.
_BUMP = """
CREATE FUNCTION bump_user_data_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_data_generations AS g (user_id) VALUES (NEW.user_id)
    ON CONFLICT (user_id) DO UPDATE SET generation = g.generation + 1;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "user_data_generations",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.BigInteger(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_data_generations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_data_generations")),
    )
    op.execute(_BUMP)
    op.execute(
        "CREATE TRIGGER bump_user_data_generation AFTER UPDATE OF processed_at ON raw_ingestions"
        " FOR EACH ROW WHEN (NEW.processed_at IS DISTINCT FROM OLD.processed_at)"
        " EXECUTE FUNCTION bump_user_data_generation()"
    )
    op.execute(
        "CREATE TRIGGER bump_user_data_generation AFTER INSERT ON audit_log"
        " FOR EACH ROW WHEN (NEW.action = 'data.deleted' AND NEW.user_id IS NOT NULL)"
        " EXECUTE FUNCTION bump_user_data_generation()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER bump_user_data_generation ON audit_log")
    op.execute("DROP TRIGGER bump_user_data_generation ON raw_ingestions")
    op.execute("DROP FUNCTION bump_user_data_generation()")
    op.drop_table("user_data_generations")
