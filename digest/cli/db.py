"""`digest db`: the installation's database as a whole."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import errors_to_exit, state_of

app = typer.Typer(help="The database as a whole.", no_args_is_help=True, rich_markup_mode=None)


@app.command("copy")
@errors_to_exit
def db_copy(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="SQLAlchemy URL of an empty database.")],
) -> None:
    """Copy the whole installation (DATABASE_URL) into another, empty database: ids and link secrets kept,
    so links in mail already sent keep working; every table's count is checked at the end.

    Example: digest db copy --to postgresql+psycopg://digest@localhost/digest
    """
    from alembic import command

    from digest.db import alembic_config, make_engine
    from digest.db_copy import copy_database

    state = state_of(ctx)
    target = make_engine(to)
    try:
        copied = copy_database(
            state.ready_engine(), target, upgrade=lambda engine: command.upgrade(alembic_config(engine), "head")
        )
    finally:
        target.dispose()
    total = sum(table.rows for table in copied)
    typer.echo(f"copied {total} rows in {len(copied)} tables to {target.url.render_as_string()}; counts match")
