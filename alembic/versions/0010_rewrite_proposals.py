"""Prompt rewriting with approval: the optimizer's rounds and the prompt variants it proposed.

Revision ID: rewrite_0001
Revises: early_0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "rewrite_0001"
down_revision: str | None = "early_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "proposal_rounds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sweep_id", sa.Uuid(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("tokens_in_spent", sa.Integer(), nullable=False),
        sa.Column("tokens_out_spent", sa.Integer(), nullable=False),
        sa.Column("cost_spent", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweeps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sweep_id", "round", name="uq_proposal_rounds_sweep_round"),
    )
    op.create_table(
        "prompt_proposals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sweep_id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=True),
        sa.Column("stage", sa.String(length=200), nullable=False),
        sa.Column("stage_index", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("proposed_text", sa.Text(), nullable=False),
        sa.Column("diff_base", sa.Text(), nullable=True),
        sa.Column("base_run_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dropped", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("projected_tokens", sa.Integer(), nullable=False),
        sa.Column("projected_cost", sa.Float(), nullable=False),
        sa.Column("projected_calls", sa.Integer(), nullable=False),
        sa.Column("run_ids", JSON, nullable=False),
        sa.Column("decided_by", sa.String(length=150), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweeps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("prompt_proposals", schema=None) as batch_op:
        batch_op.create_index("ix_prompt_proposals_sweep_created", ["sweep_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prompt_proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_prompt_proposals_sweep_created")
    op.drop_table("prompt_proposals")
    op.drop_table("proposal_rounds")
