"""edition.picked_sections: the sections of the stories picked, so the preference page reads no selection

Revision ID: b7d2f4a8c6e1
Revises: a9c3e5f7b1d4
Create Date: 2026-11-30 22:50:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b7d2f4a8c6e1'
down_revision: str | None = 'a9c3e5f7b1d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _picked_sections(raw: str) -> str:
    """What digest.edition.dump_picked_sections gives for a stored selection (kept here as it is today)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return '[]'
    if not isinstance(data, dict):
        return '[]'
    picks = [*(data.get('headlines') or []), *([data['featured']] if data.get('featured') else [])]
    found = {
        pick['article']['section']
        for pick in picks
        if isinstance(pick, dict)
        and isinstance(pick.get('article'), dict)
        and isinstance(pick['article'].get('section'), str)
        and pick['article']['section']
    }
    return json.dumps(sorted(found), ensure_ascii=False)


def upgrade() -> None:
    with op.batch_alter_table('edition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('picked_sections', sa.Text(), server_default='[]', nullable=False))
    connection = op.get_bind()
    edition = sa.table('edition', sa.column('id', sa.Integer), sa.column('selection_json', sa.Text),
                       sa.column('picked_sections', sa.Text))
    ids = [edition_id for (edition_id,) in connection.execute(sa.select(edition.c.id).order_by(edition.c.id))]
    # A hundred selections at a time: years of editions' selections need not be in memory at once.
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        rows = connection.execute(sa.select(edition.c.id, edition.c.selection_json).where(edition.c.id.in_(chunk)))
        updates = [{'key': edition_id, 'sections': _picked_sections(raw)} for edition_id, raw in rows]
        updates = [each for each in updates if each['sections'] != '[]']
        if updates:
            connection.execute(
                edition.update()
                .where(edition.c.id == sa.bindparam('key'))
                .values(picked_sections=sa.bindparam('sections')),
                updates,
            )


def downgrade() -> None:
    with op.batch_alter_table('edition', schema=None) as batch_op:
        batch_op.drop_column('picked_sections')
