"""`digest db copy --to URL`: a whole installation from SQLite into an empty PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, MetaData, select, text
from sqlalchemy.engine import make_url

from digest.db import make_engine, open_session
from subscribers.store import add_subscriber, get_list, remove_subscriber
from tests.conftest import POSTGRES_URL
from tests.seed import DAY, add_readers, seed_edition


@pytest.fixture
def empty_postgres_url(postgres_schema_url: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema (dropped at the end)."""
    admin = make_engine(POSTGRES_URL)
    schema = f"digest_copy_{uuid.uuid4().hex[:10]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield (
        make_url(POSTGRES_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _everything(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by its key, timestamps in UTC."""
    tables = MetaData()
    tables.reflect(engine)
    out: dict[str, list[tuple]] = {}
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = connection.execute(select(table).order_by(*order)).all()
            out[table.name] = [
                tuple(
                    (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC) if isinstance(v, datetime) else v
                    for v in row
                )
                for row in rows
            ]
    return out


@pytest.mark.postgres
def test_copy_keeps_every_row_and_id_and_refuses_a_non_empty_target(engine, run_cli, empty_postgres_url) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the copy goes from SQLite to PostgreSQL")
    add_readers(engine, 5)
    with open_session(engine) as session:
        remove_subscriber(session=session, email="reader1@example.com")  # consent events, a gap in nothing
        remove_subscriber(session=session, email="reader2@example.com", erase=True)  # a gap in the ids
        session.commit()
    seed_edition(engine)
    assert run_cli("send", "--date", DAY.isoformat()).exit_code == 0

    result = run_cli("db", "copy", "--to", empty_postgres_url)
    assert result.exit_code == 0, result.output
    assert "counts match" in result.output
    target = make_engine(empty_postgres_url)
    try:
        source_rows, target_rows = _everything(engine), _everything(target)
        assert source_rows == target_rows
        assert len(target_rows["delivery"]) == 3 and len(target_rows["subscriber"]) == 4
        # The sequences moved past the copied ids: a new reader gets a new id, never a reused one.
        with open_session(target) as session:
            added = add_subscriber(
                session=session, mailing_list=get_list(session=session, slug="quotidien"), email="new@example.com"
            )
            session.commit()
            assert added.subscriber.id == max(row[0] for row in source_rows["subscriber"]) + 1
    finally:
        target.dispose()

    again = run_cli("db", "copy", "--to", empty_postgres_url)
    assert again.exit_code == 1 and "not empty" in again.output
