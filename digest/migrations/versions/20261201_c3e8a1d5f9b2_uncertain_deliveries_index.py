"""index of uncertain deliveries only, for the webhook's look-up

Revision ID: c3e8a1d5f9b2
Revises: b7d2f4a8c6e1
Create Date: 2026-12-01 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c3e8a1d5f9b2'
down_revision: str | None = 'b7d2f4a8c6e1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNCERTAIN = sa.text("status = 'uncertain'")


def upgrade() -> None:
    # Each webhook request asks which of its thousand deliveries are uncertain (usually none): looked up in
    # this index of the few uncertain rows instead of a thousand rows of the table. Not a batch operation: on
    # SQLite a rebuilt delivery table would lose its trigger (a9c3e5f7b1d4).
    op.create_index('ix_delivery_uncertain', 'delivery', ['id'], sqlite_where=UNCERTAIN, postgresql_where=UNCERTAIN)


def downgrade() -> None:
    op.drop_index('ix_delivery_uncertain', table_name='delivery')
