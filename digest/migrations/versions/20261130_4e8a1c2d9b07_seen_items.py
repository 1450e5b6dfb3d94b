"""seen items: when an undated item was first read

Revision ID: 4e8a1c2d9b07
Revises: 5b7c9e1d3f20
Create Date: 2026-11-30 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '4e8a1c2d9b07'
down_revision: str | None = '5b7c9e1d3f20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('seen_item',
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('seen_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_item_url'), ['url'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('seen_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_item_url'))
    op.drop_table('seen_item')
