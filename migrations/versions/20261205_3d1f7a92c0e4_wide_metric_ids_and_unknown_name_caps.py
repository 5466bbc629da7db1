"""wide metric type ids, and each account's admitted unknown metric names

The catalogue of metric names is shared by every account. Its smallint id ran out after ~33,000
names, which one account could post in a single body; every account's new names then failed.
Ids become integers, and the names without a typed mapping that an account may add are counted
per account (user_unknown_metrics) so that one account can add only a bounded number.

Widening rewrites the tables that carry metric_id (a one-time cost proportional to their size).

Revision ID: 3d1f7a92c0e4
Revises: 9c2e41d7a0b3
Create Date: 2026-12-05 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d1f7a92c0e4"
down_revision: str | None = "9c2e41d7a0b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METRIC_ID_TABLES = ("quantity_metrics", "activity_metrics", "hygiene_events")


def upgrade() -> None:
    op.alter_column("metric_types", "id", type_=sa.Integer(), existing_nullable=False)
    op.execute("ALTER SEQUENCE metric_types_id_seq AS integer MAXVALUE 2147483647")
    for table in METRIC_ID_TABLES:
        op.alter_column(table, "metric_id", type_=sa.Integer(), existing_nullable=False)
    op.create_table(
        "user_unknown_metrics",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_unknown_metrics_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "name", name=op.f("pk_user_unknown_metrics")),
    )
    # Accounts that stored unknown names before the cap: those names stay theirs.
    op.execute(
        "INSERT INTO user_unknown_metrics (user_id, name)"
        " SELECT DISTINCT q.user_id, m.name FROM ("
        "  SELECT user_id, metric_id FROM quantity_metrics"
        "  UNION SELECT user_id, metric_id FROM activity_metrics"
        "  UNION SELECT user_id, metric_id FROM hygiene_events) q"
        " JOIN metric_types m ON m.id = q.metric_id WHERE NOT m.known"
    )


def downgrade() -> None:
    op.drop_table("user_unknown_metrics")
    for table in METRIC_ID_TABLES:
        op.alter_column(table, "metric_id", type_=sa.SmallInteger(), existing_nullable=False)
    op.execute("ALTER SEQUENCE metric_types_id_seq AS smallint MAXVALUE 32767")
    op.alter_column("metric_types", "id", type_=sa.SmallInteger(), existing_nullable=False)
