"""edition kind (daily, weekly): editions unique on list, date and kind

Revision ID: b5d1e7a3c9f2
Revises: a4e2c7b91d05
Create Date: 2026-11-30 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b5d1e7a3c9f2'
down_revision: str | None = 'a4e2c7b91d05'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The initial schema's unique (list_id, date) has no name: PostgreSQL named it so, SQLite not at all (batch mode
# names the reflected one by this convention so it can be dropped).
POSTGRESQL_OLD_NAME = 'edition_list_id_date_key'
SQLITE_CONVENTION = {'uq': 'uq_%(table_name)s_%(column_0_N_name)s'}
SQLITE_OLD_NAME = 'uq_edition_list_id_date'


def _old_name() -> str:
    return SQLITE_OLD_NAME if op.get_bind().dialect.name == 'sqlite' else POSTGRESQL_OLD_NAME


def upgrade() -> None:
    with op.batch_alter_table('edition', schema=None, naming_convention=SQLITE_CONVENTION) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='daily'))
        batch_op.drop_constraint(_old_name(), type_='unique')
        batch_op.create_unique_constraint('uq_edition_list_date_kind', ['list_id', 'date', 'kind'])


def downgrade() -> None:
    weekly = op.get_bind().execute(sa.text("SELECT count(*) FROM edition WHERE kind <> 'daily'")).scalar_one()
    if weekly:
        # Two editions of one date cannot share the old unique (list_id, date): refuse rather than lose them.
        raise RuntimeError(f'{weekly} weekly edition(s) exist: delete them before downgrading below b5d1e7a3c9f2')
    with op.batch_alter_table('edition', schema=None, naming_convention=SQLITE_CONVENTION) as batch_op:
        batch_op.drop_constraint('uq_edition_list_date_kind', type_='unique')
        batch_op.create_unique_constraint(_old_name(), ['list_id', 'date'])
        batch_op.drop_column('kind')
