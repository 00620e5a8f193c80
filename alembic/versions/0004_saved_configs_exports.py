"""Steering: fork provenance on experiments, saved (approved) configurations, export history.

Revision ID: steer_0001
Revises: numbers_0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "steer_0001"
down_revision: str | None = "numbers_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forked_from_experiment_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("forked_from_run_id", sa.Uuid(), nullable=True))
    op.create_table(
        "saved_configs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("approved_by", sa.String(length=150), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_saved_configs_project_approved", "saved_configs", ["project_id", "approved_at"])
    op.create_index("ix_saved_configs_experiment_approved", "saved_configs", ["experiment_id", "approved_at"])
    op.create_table(
        "export_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("saved_config_id", sa.Uuid(), nullable=True),
        sa.Column("format", sa.String(length=20), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=150), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_export_records_project_created", "export_records", ["project_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_export_records_project_created", table_name="export_records")
    op.drop_table("export_records")
    op.drop_index("ix_saved_configs_experiment_approved", table_name="saved_configs")
    op.drop_index("ix_saved_configs_project_approved", table_name="saved_configs")
    op.drop_table("saved_configs")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("forked_from_run_id")
        batch_op.drop_column("forked_from_experiment_id")
