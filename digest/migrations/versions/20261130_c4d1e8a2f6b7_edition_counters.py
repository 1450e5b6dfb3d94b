"""Per-edition counters kept at record time (the dashboard reads them, never the deliveries)

Revision ID: c4d1e8a2f6b7
Revises: c3e8a1f4d7b2
Create Date: 2026-11-30 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c4d1e8a2f6b7'
down_revision: str | None = 'c3e8a1f4d7b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = ('recipients', 'sent', 'failed', 'uncertain', 'delivered', 'opened', 'clicked', 'bounced', 'unsubscribed')
EVENTS = {
    'delivered': "('delivered')",
    'opened': "('open')",
    'clicked': "('click')",
    'bounced': "('bounce', 'dropped')",
    'unsubscribed': "('unsubscribe', 'group_unsubscribe')",
}


def upgrade() -> None:
    op.create_table(
        'edition_counters',
        sa.Column('edition_id', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), server_default='0', nullable=False) for name in FIGURES),
        sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('edition_id'),
    )
    # The editions sent before the counters existed get theirs counted once, here.
    statuses = ', '.join(
        f"SUM(CASE WHEN status = '{status}' THEN 1 ELSE 0 END)" for status in ('sent', 'failed', 'uncertain')
    )
    events = ', '.join(
        f"(SELECT COUNT(DISTINCT delivery_id) FROM delivery_event v WHERE v.edition_id = d.edition_id "
        f"AND v.event IN {kinds})"
        for kinds in EVENTS.values()
    )
    op.execute(
        f"INSERT INTO edition_counters ({', '.join(('edition_id', *FIGURES))}) "
        f"SELECT d.edition_id, COUNT(*), {statuses}, {events} FROM delivery d GROUP BY d.edition_id"
    )


def downgrade() -> None:
    op.drop_table('edition_counters')
