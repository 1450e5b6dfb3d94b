"""`digest bounces`: bounce and complaint mail read back from a mailbox."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.common import errors_to_exit, state_of

app = typer.Typer(help="Bounces and complaints that come back by mail.", no_args_is_help=True, rich_markup_mode=None)


@app.command("read")
@errors_to_exit
def bounces_read(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="An mbox file, a Maildir folder or imaps://user:pass@host/FOLDER.")],
) -> None:
    """Read DSN bounces and ARF complaints from a mailbox: suppress hard bounces and complainers, count soft
    bounces. Reading the same mailbox again changes nothing; the mailbox itself is left as it is.

    Example: digest bounces read /var/mail/bounces
    """
    from digest.bounces import open_mailbox, read_reports, record_reports
    from digest.db import open_session
    from subscribers.models import utcnow

    state = state_of(ctx)
    with open_session(state.ready_engine()) as session:
        summary = record_reports(
            session,
            read_reports(open_mailbox(source)),
            bounce_address=state.settings.bounce_address,
            now=utcnow(),
        )
        session.commit()
    typer.echo(
        f"{source}: {summary.read} mails, {summary.hard} hard bounces, {summary.complaints} complaints, "
        f"{summary.soft} soft bounces ({summary.soft_suppressed} readers over the limit), "
        f"{summary.already} already recorded, {summary.unmatched} unmatched, {summary.ignored} not bounces"
    )
