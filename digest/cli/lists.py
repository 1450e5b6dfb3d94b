"""`digest lists`: create and show mailing lists."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import errors_to_exit, state_of

app = typer.Typer(help="Manage mailing lists.", no_args_is_help=True, rich_markup_mode=None)


@app.command("add")
@errors_to_exit
def lists_add(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Short name used in commands and headers, e.g. hebdo.")],
    name: Annotated[str | None, typer.Option(help="Name shown to readers.")] = None,
    public: Annotated[
        bool, typer.Option("--public/--private", help="Offered to readers (sign-up, preference centre) or not.")
    ] = True,
) -> None:
    """Create a mailing list.

    Example: digest lists add hebdo --name "L'hebdo"
    """
    from digest.db import open_session
    from subscribers.store import create_list

    state = state_of(ctx)
    with open_session(state.ready_engine()) as session:
        mailing_list = create_list(session=session, slug=slug, name=name, public=public)
        session.commit()
        typer.echo(f"created list {mailing_list.slug} ({mailing_list.name})")


@app.command("list")
@errors_to_exit
def lists_list(ctx: typer.Context) -> None:
    """Show every list with its number of active subscribers.

    Example: digest lists list
    """
    from digest.db import open_session
    from subscribers.store import all_lists

    state = state_of(ctx)
    with open_session(state.ready_engine()) as session:
        for mailing_list, active in all_lists(session=session):
            typer.echo(f"{mailing_list.slug}\t{active} active\t{mailing_list.name}")
