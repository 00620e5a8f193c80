"""Early stopping: a run may be evaluated on a subset of the samples (successive halving).

`sample_ids` is the set a run is to be evaluated on (NULL: every sample); `samples_evaluated`
counts the samples it has been scored on.

Revision ID: early_0001
Revises: origin_0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "early_0001"
down_revision: str | None = "origin_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sample_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
        batch_op.add_column(sa.Column("samples_evaluated", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("samples_evaluated")
        batch_op.drop_column("sample_ids")
