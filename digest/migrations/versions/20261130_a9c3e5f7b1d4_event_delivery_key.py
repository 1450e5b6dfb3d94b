"""delivery_event: no foreign key on delivery_id (a trigger deletes a delivery's events), no index by edition

Revision ID: a9c3e5f7b1d4
Revises: f2a7c5e9b1d3
Create Date: 2026-11-30 22:10:00

The webhook writes delivery_id only from the delivery row it joins in the same INSERT, so the key's check
(a locking look-up of that row per event) proved nothing the statement had not; it was a third of
PostgreSQL's time per event. What the key did on deletion, a trigger on delivery does: a delivery's events go
with it (a reader's erasure, an edition's deletion). `digest stats` counts events through their deliveries,
so the (edition_id, event) index, one of four each event entered, goes too.

On SQLite a batch migration that rebuilds the delivery table drops this trigger with it: such a migration
must create it again.
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'a9c3e5f7b1d4'
down_revision: str | None = 'f2a7c5e9b1d3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRESQL_NAME = 'delivery_event_delivery_id_fkey'
SQLITE_CONVENTION = {'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s'}
SQLITE_NAME = 'fk_delivery_event_delivery_id_delivery'
TRIGGER = 'delivery_event_follows_delivery'

# PostgreSQL: once per DELETE statement on delivery (a cascade from an edition or a reader included), the
# deleted rows as one table. The function keeps the search_path it was made with: a DELETE run from a session
# with another path (psql, a maintenance script) still reaches this schema's events.
POSTGRESQL_TRIGGER = (
    f"""
    CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        DELETE FROM delivery_event WHERE delivery_id IN (SELECT id FROM deleted);
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE TRIGGER {TRIGGER} AFTER DELETE ON delivery REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}()
    """,
)
SQLITE_TRIGGER = (
    f"""
    CREATE TRIGGER {TRIGGER} AFTER DELETE ON delivery FOR EACH ROW
    BEGIN DELETE FROM delivery_event WHERE delivery_id = OLD.id; END
    """,
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade() -> None:
    with op.batch_alter_table('delivery_event', schema=None, naming_convention=SQLITE_CONVENTION) as batch_op:
        batch_op.drop_constraint(SQLITE_NAME if _sqlite() else POSTGRESQL_NAME, type_='foreignkey')
        batch_op.drop_index('ix_delivery_event_edition_event')
    for statement in SQLITE_TRIGGER if _sqlite() else POSTGRESQL_TRIGGER:
        op.execute(statement)


def downgrade() -> None:
    op.execute(f'DROP TRIGGER {TRIGGER}' if _sqlite() else f'DROP TRIGGER {TRIGGER} ON delivery')
    if not _sqlite():
        op.execute(f'DROP FUNCTION {TRIGGER}()')
    # Events whose delivery went while no key held them would stop the key from being made.
    op.execute('DELETE FROM delivery_event WHERE delivery_id IS NOT NULL AND delivery_id NOT IN (SELECT id FROM delivery)')
    with op.batch_alter_table('delivery_event', schema=None, naming_convention=SQLITE_CONVENTION) as batch_op:
        batch_op.create_index('ix_delivery_event_edition_event', ['edition_id', 'event'], unique=False)
        batch_op.create_foreign_key(
            SQLITE_NAME if _sqlite() else POSTGRESQL_NAME, 'delivery', ['delivery_id'], ['id'], ondelete='CASCADE'
        )
