"""delivery events (what SendGrid reported, unique per provider event id) and the claim index

Revision ID: 7fa566968306
Revises: 896890e8fa90
Create Date: 2026-11-29 06:42:42.532831
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '7fa566968306'
down_revision: str | None = '896890e8fa90'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delivery_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('edition_id', sa.Integer(), nullable=True),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('delivery_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_event_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index('ix_delivery_event_edition_event', ['edition_id', 'event'], unique=False)

    # Claims take the lowest queued ids of an edition: (edition_id, status, id) makes that a range scan.
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_edition_status')
        batch_op.create_index('ix_delivery_claim', ['edition_id', 'status', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_claim')
        batch_op.create_index('ix_delivery_edition_status', ['edition_id', 'status'], unique=False)

    with op.batch_alter_table('delivery_event', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_event_edition_event')
        batch_op.drop_index(batch_op.f('ix_delivery_event_delivery_id'))

    op.drop_table('delivery_event')
