"""Named prompt variants (`experiments.variant_names`) and ratings per output (`output_ratings`).

Revision ID: dash_0003
Revises: steer_0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "dash_0003"
down_revision: str | None = "steer_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "variant_names",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )
    op.create_table(
        "output_ratings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("sample_id", sa.String(length=200), nullable=False),
        sa.Column("rater", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "sample_id", "rater", name="uq_output_ratings_run_sample_rater"),
    )
    op.create_index("ix_output_ratings_run_id", "output_ratings", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_output_ratings_run_id", table_name="output_ratings")
    op.drop_table("output_ratings")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("variant_names")
