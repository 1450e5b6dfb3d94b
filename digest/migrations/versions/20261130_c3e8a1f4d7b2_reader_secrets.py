"""Readers' link secrets, public lists, and ids never reused on SQLite

Revision ID: c3e8a1f4d7b2
Revises: 4e8a1c2d9b07
Create Date: 2026-11-30 13:30:00.000000

A table counts rate-limit windows shared by several `digest serve` processes on PostgreSQL, another keeps the
random link-signing key `digest init` generates when DIGEST_SECRET_KEY is unset. Every
subscriber gets a random ``token_secret`` that signs their links (links made before this revision stop
verifying: they carried no secret and could act on a later reader who took over an erased one's id). Lists get
a ``public`` flag (all existing ones public). On SQLite the tables whose ids reach links, provider events or
file names are rebuilt with AUTOINCREMENT, so a deleted newest row's id is never handed out again; PostgreSQL's
sequences never reuse ids and are left alone.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c3e8a1f4d7b2'
down_revision: str | None = '4e8a1c2d9b07'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTOINCREMENT_TABLES = ('mailing_list', 'subscriber', 'delivery')
BATCH = 5000


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        'stored_secret',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.create_table(
        'rate_limit',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('slot', sa.BigInteger(), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key', 'slot'),
    )
    op.create_index('ix_rate_limit_expires_at', 'rate_limit', ['expires_at'])
    op.add_column('mailing_list', sa.Column('public', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column('subscriber', sa.Column('token_secret', sa.String(length=64), nullable=True))
    subscriber = sa.table('subscriber', sa.column('id', sa.Integer()), sa.column('token_secret', sa.String()))
    # Drawn here from the operating system's randomness, not by the database (SQLite's randomblob and
    # PostgreSQL's random() are not meant for secrets).
    ids = [row[0] for row in bind.execute(sa.select(subscriber.c.id))]
    for start in range(0, len(ids), BATCH):
        bind.execute(
            subscriber.update().where(subscriber.c.id == sa.bindparam('row_id')).values(token_secret=sa.bindparam('s')),
            [{'row_id': row_id, 's': secrets.token_urlsafe(16)} for row_id in ids[start : start + BATCH]],
        )
    if bind.dialect.name == 'sqlite':
        # The rebuild copies each table (its rows keep their ids) into one declared AUTOINCREMENT; digest's
        # Alembic environment turns foreign keys off meanwhile so dropping the old table cascades nothing.
        for table in AUTOINCREMENT_TABLES:
            with op.batch_alter_table(
                table, recreate='always', table_kwargs={'sqlite_autoincrement': True}
            ) as batch:
                if table == 'subscriber':
                    batch.alter_column('token_secret', existing_type=sa.String(length=64), nullable=False)
    else:
        op.alter_column('subscriber', 'token_secret', existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    op.drop_index('ix_rate_limit_expires_at', table_name='rate_limit')
    op.drop_table('rate_limit')
    op.drop_table('stored_secret')
    with op.batch_alter_table('subscriber') as batch:
        batch.drop_column('token_secret')
    with op.batch_alter_table('mailing_list') as batch:
        batch.drop_column('public')
