"""The `digest` command line: parse options, build objects from the settings, call the library.

One module per command group, each handler thin; heavy modules are imported inside the commands that use
them, so `digest --help` and every command start fast.

    editions     build, approve, send, stats, preview
    subscribers  subscribers add / import / list / export / remove
    lists        lists add / list
    serve        the web app
    bounces      bounces read
    db           db copy
"""

from __future__ import annotations

import gc
from datetime import datetime
from typing import Annotated

import typer

from digest.cli import bounces, db, editions, lists, serve, subscribers
from digest.cli.common import State, errors_to_exit, state_of

app = typer.Typer(
    help="Build the day's digest from your feeds and mail it to your lists.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    ctx: typer.Context,
    now: Annotated[
        datetime | None,
        typer.Option(
            "--now",
            hidden=True,
            formats=["%Y-%m-%dT%H:%M:%S%z"],
            help="Run as if the clock said this instant (tests replay days with it).",
        ),
    ] = None,
) -> None:
    """digest: read the day's articles, pick headlines and a featured story, mail the edition.

    Settings come from the environment and `.env` (see .env.example).
    """
    ctx.obj = State(now)
    ctx.call_on_close(ctx.obj.close)


@app.command()
@errors_to_exit
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database and the default list. Safe to run again.

    Example: DATABASE_URL=sqlite:///./digest.db digest init
    """
    from digest.db import ensure_stored_secret, init_database

    state = state_of(ctx)
    mailing_list = init_database(state.engine, default_list=state.settings.list_slug)
    typer.echo(f"database ready: {state.engine.url.render_as_string()} (default list: {mailing_list.slug})")
    if not state.settings.secret_key and ensure_stored_secret(state.engine):
        typer.echo("generated a random link-signing key, stored in the database (DIGEST_SECRET_KEY overrides it)")


for command in (editions.build, editions.approve, editions.send, editions.stats, editions.preview, serve.serve):
    app.command()(command)
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(lists.app, name="lists")
app.add_typer(bounces.app, name="bounces")
app.add_typer(db.app, name="db")


def main() -> None:
    """Console entry point."""
    try:
        app(prog_name="digest")
    finally:
        # The process ends here. Without this, the interpreter's shutdown runs the cyclic garbage collector over
        # everything a command loaded (SQLAlchemy, SQLModel's models, the edition): 0.15-0.2 s of a `digest send`
        # or `digest build`, for memory the exit frees anyway. Frozen objects are left out of those passes;
        # atexit handlers and stream flushes still run.
        gc.freeze()
