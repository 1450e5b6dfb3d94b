"""subscription: no index of its own on subscriber_id (the unique (subscriber_id, list_id) index leads with it)

Revision ID: f2a7c5e9b1d3
Revises: e1f4b7c2a9d6
Create Date: 2026-11-30 20:40:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'f2a7c5e9b1d3'
down_revision: str | None = 'e1f4b7c2a9d6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_subscription_subscriber_id', table_name='subscription')


def downgrade() -> None:
    op.create_index('ix_subscription_subscriber_id', 'subscription', ['subscriber_id'], unique=False)
