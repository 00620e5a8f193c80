"""Runs record who proposed them: grid, random, sampler, agent, redirect or user.

Existing runs are backfilled from their sweep's type (a guided sweep's runs become `sampler`:
configurations agents added before this column cannot be told apart); runs without a sweep are `user`.

Revision ID: origin_0001
Revises: hooks_0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "origin_0001"
down_revision: str | None = "hooks_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=20), nullable=False, server_default="user"))
    op.execute(
        "UPDATE runs SET origin = (SELECT CASE WHEN sweeps.type = 'guided' THEN 'sampler' ELSE sweeps.type END"
        " FROM sweeps WHERE sweeps.id = runs.sweep_id) WHERE runs.sweep_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("origin")
