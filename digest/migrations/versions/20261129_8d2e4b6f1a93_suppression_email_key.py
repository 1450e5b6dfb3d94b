"""suppression.email_key: the matched address, indexed

Revision ID: 8d2e4b6f1a93
Revises: 3c1f9a7e2b64
Create Date: 2026-11-29 09:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '8d2e4b6f1a93'
down_revision: str | None = '3c1f9a7e2b64'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('suppression', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_key', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True))
        batch_op.create_index(batch_op.f('ix_suppression_email_key'), ['email_key'], unique=False)
    # Python's casefold, as subscribers.addresses.email_key makes it (SQL's lower() differs, e.g. for ß).
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, email FROM suppression WHERE email IS NOT NULL")).all()
    if rows:
        bind.execute(
            sa.text("UPDATE suppression SET email_key = :key WHERE id = :id"),
            [{"id": row_id, "key": email.casefold()} for row_id, email in rows],
        )


def downgrade() -> None:
    with op.batch_alter_table('suppression', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suppression_email_key'))
        batch_op.drop_column('email_key')
