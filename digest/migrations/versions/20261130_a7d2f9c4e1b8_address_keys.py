"""Address keys: IDNA domain and lower-cased NFC local part, no case folding

Revision ID: a7d2f9c4e1b8
Revises: a4f2d8c6e1b9
Create Date: 2026-11-30 15:00:00.000000

``subscriber.email_key``, ``suppression.email_key`` and ``suppression.email_hash`` are recomputed with
``subscribers.addresses.email_key``, which keeps ``news@straße.de`` and ``news@strasse.de`` apart (case folding
merged them). An erased address's hash cannot be recomputed (the address is gone): such rows keep their hash and
are marked ``legacy_key``, and are matched by the case-folded form too.

Case folding also let a bounce or complaint of one address mark the other's reader: a reader marked bounced or
complained whom no suppression names any more is reported (not changed: the publisher decides).

When two rows would now share a key (only rows written around the store could), nothing is lost: the oldest row
takes the new key, the others keep theirs (or it with ``#<id>`` when even that is taken) and a warning names
them, for the publisher to merge or remove.
"""

import hashlib
import logging
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from subscribers.addresses import email_key

revision: str = 'a7d2f9c4e1b8'
down_revision: str | None = 'a4f2d8c6e1b9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger('alembic.runtime.migration')
BATCH = 5000


def _casefolded(email: str) -> str:
    return email.casefold()


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode('utf-8')).hexdigest()


def _settle(table_name: str, column: str, wanted: list[tuple[int, str, str]]) -> dict[int, str]:
    """The values of a unique ``column`` that change, given ``(id, old, new)`` per row in id order: the new value
    unless an older row takes it (then the old one, or it with ``#<id>``), each such row reported."""
    final: dict[int, str] = {}
    taken_by: dict[str, int] = {}
    clashing: list[tuple[int, str, str]] = []
    for row_id, old, new in wanted:
        if new in taken_by:
            clashing.append((row_id, old, new))
        else:
            taken_by[new] = row_id
            final[row_id] = new
    for row_id, old, new in clashing:
        kept = old if old not in taken_by else f'{old}#{row_id}'
        taken_by[kept] = row_id
        final[row_id] = kept
        log.warning(
            '%s %d would share its %s with %s %d: it keeps %r; merge or remove one of them',
            table_name, row_id, column, table_name, taken_by[new], kept,
        )
    old_of = {row_id: old for row_id, old, _ in wanted}
    return {row_id: value for row_id, value in final.items() if value != old_of[row_id]}


def _write(table: sa.Table, column: str, changes: dict[int, str]) -> None:
    """Set ``column`` to ``changes[id]`` in two steps (unique placeholders first), so that no row briefly takes a
    value another row still holds."""
    bind = op.get_bind()
    statement = table.update().where(table.c.id == sa.bindparam('row_id')).values({column: sa.bindparam('value')})
    ids = sorted(changes)
    for step in (lambda row_id: f'#rekey{row_id}', lambda row_id: changes[row_id]):
        for start in range(0, len(ids), BATCH):
            bind.execute(statement, [{'row_id': i, 'value': step(i)} for i in ids[start : start + BATCH]])


def _rekey(key_of: Callable[[str], str]) -> None:
    bind = op.get_bind()
    subscriber = sa.table('subscriber', sa.column('id', sa.Integer()), sa.column('email', sa.String()),
                          sa.column('email_key', sa.String()))
    rows = bind.execute(sa.select(subscriber.c.id, subscriber.c.email, subscriber.c.email_key).order_by(subscriber.c.id))
    keys = _settle('subscriber', 'email_key', [(i, old, key_of(email)) for i, email, old in rows])
    _write(subscriber, 'email_key', keys)

    suppression = sa.table('suppression', sa.column('id', sa.Integer()), sa.column('email', sa.String()),
                           sa.column('email_key', sa.String()), sa.column('email_hash', sa.String()))
    rows = bind.execute(
        sa.select(suppression.c.id, suppression.c.email, suppression.c.email_hash)
        .where(suppression.c.email.is_not(None))
        .order_by(suppression.c.id)
    ).all()
    hashes = _settle('suppression', 'email_hash', [(i, old, _hash(key_of(email))) for i, email, old in rows])
    _write(suppression, 'email_hash', hashes)
    statement = suppression.update().where(suppression.c.id == sa.bindparam('row_id')).values(
        email_key=sa.bindparam('key')
    )
    for start in range(0, len(rows), BATCH):
        bind.execute(statement, [{'row_id': i, 'key': key_of(email)} for i, email, _ in rows[start : start + BATCH]])


def _report_unsuppressed() -> None:
    orphans = op.get_bind().execute(
        sa.text(
            "SELECT id, status FROM subscriber WHERE status IN ('bounced', 'complained') AND NOT EXISTS "
            "(SELECT 1 FROM suppression WHERE suppression.email_key = subscriber.email_key) ORDER BY id"
        )
    )
    for row_id, status in orphans:
        log.warning(
            'subscriber %d is %s but no suppression names its address any more (another address, equal once case '
            'folded, was suppressed): check it before making it active again', row_id, status,
        )


def upgrade() -> None:
    with op.batch_alter_table('suppression') as batch_op:
        batch_op.add_column(sa.Column('legacy_key', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(sa.text('UPDATE suppression SET legacy_key = TRUE WHERE email IS NULL'))
    _rekey(email_key)
    _report_unsuppressed()


def downgrade() -> None:
    _rekey(_casefolded)
    with op.batch_alter_table('suppression') as batch_op:
        batch_op.drop_column('legacy_key')
