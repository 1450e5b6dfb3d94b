"""claim index of queued deliveries only

Revision ID: 3c1f9a7e2b64
Revises: 7fa566968306
Create Date: 2026-11-29 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3c1f9a7e2b64'
down_revision: str | None = '7fa566968306'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A partial index of queued rows: recording an outcome (sending -> sent) no longer moves an index entry.
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_claim')
        batch_op.create_index(
            'ix_delivery_queued',
            ['edition_id', 'id'],
            unique=False,
            sqlite_where=sa.text("status = 'queued'"),
            postgresql_where=sa.text("status = 'queued'"),
        )


def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_queued', sqlite_where=sa.text("status = 'queued'"))
        batch_op.create_index('ix_delivery_claim', ['edition_id', 'status', 'id'], unique=False)
