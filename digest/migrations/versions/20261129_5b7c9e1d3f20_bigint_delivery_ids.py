"""64-bit ids for deliveries and their events (PostgreSQL; SQLite's INTEGER rowid is already 64-bit)

Revision ID: 5b7c9e1d3f20
Revises: 8d2e4b6f1a93
Create Date: 2026-11-29 10:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5b7c9e1d3f20'
down_revision: str | None = '8d2e4b6f1a93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (('delivery', 'id'), ('delivery_event', 'id'), ('delivery_event', 'delivery_id'))


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    # A million readers a day would use up 32-bit delivery ids in under six years. Rewrites the tables once.
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())
    for table in ('delivery', 'delivery_event'):
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in ('delivery', 'delivery_event'):
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS integer")
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
