"""Runs keep what was paid apart from what the answers contain (a cache hit costs nothing).

Revision ID: numbers_0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "numbers_0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("tokens_in_spent", "tokens_out_spent", "cost_spent", "llm_calls_paid")


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tokens_in_spent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("tokens_out_spent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("cost_spent", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("llm_calls_paid", sa.Integer(), nullable=False, server_default="0"))
    # Existing runs: what they paid is in their stage results (answered, not from the cache).
    fresh = "FROM stage_results s WHERE s.run_id = runs.id AND NOT s.cached AND s.error IS NULL"
    op.execute(
        "UPDATE runs SET "
        f"tokens_in_spent = (SELECT COALESCE(SUM(s.tokens_in), 0) {fresh}), "
        f"tokens_out_spent = (SELECT COALESCE(SUM(s.tokens_out), 0) {fresh}), "
        f"cost_spent = (SELECT COALESCE(SUM(s.cost), 0) {fresh}), "
        "llm_calls_paid = CASE WHEN llm_calls > cache_hits THEN llm_calls - cache_hits ELSE 0 END"
    )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
