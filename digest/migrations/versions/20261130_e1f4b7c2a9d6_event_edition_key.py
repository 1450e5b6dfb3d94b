"""delivery_event: no foreign key on edition_id (its delivery's key already holds it)

Revision ID: e1f4b7c2a9d6
Revises: d8f2a6c4e0b3
Create Date: 2026-11-30 19:30:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'e1f4b7c2a9d6'
down_revision: str | None = 'd8f2a6c4e0b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The key has no name in the schema that made it: PostgreSQL named it so, SQLite not at all (batch mode names
# the reflected one by this convention so it can be dropped).
POSTGRESQL_NAME = 'delivery_event_edition_id_fkey'
SQLITE_CONVENTION = {'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s'}
SQLITE_NAME = 'fk_delivery_event_edition_id_edition'


def _name() -> str:
    return SQLITE_NAME if op.get_bind().dialect.name == 'sqlite' else POSTGRESQL_NAME


def upgrade() -> None:
    with op.batch_alter_table('delivery_event', schema=None, naming_convention=SQLITE_CONVENTION) as batch_op:
        batch_op.drop_constraint(_name(), type_='foreignkey')


def downgrade() -> None:
    with op.batch_alter_table('delivery_event', schema=None, naming_convention=SQLITE_CONVENTION) as batch_op:
        batch_op.create_foreign_key(_name(), 'edition', ['edition_id'], ['id'], ondelete='CASCADE')
