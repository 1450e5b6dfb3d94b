"""`digest subscribers`: add, import, list, export and remove readers."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import ListOption, errors_to_exit, state_of
from digest.errors import DigestError

app = typer.Typer(help="Manage subscribers.", no_args_is_help=True, rich_markup_mode=None)


@app.command("add")
@errors_to_exit
def subscribers_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The address to subscribe.")],
    list_: ListOption = None,
    name: Annotated[str | None, typer.Option(help="The reader's name.")] = None,
    language: Annotated[str | None, typer.Option(help="fr, en or ar (default: DIGEST_LANGUAGE).")] = None,
    confirmed: Annotated[bool, typer.Option(help="The reader already confirmed: no confirmation email.")] = False,
) -> None:
    """Subscribe one address to a list.

    Example: digest subscribers add amina@example.com --name "Amina" --language fr --confirmed
    """
    from digest.db import open_session
    from digest.mail.transactional import enqueue_confirmation, send_due
    from subscribers.models import utcnow
    from subscribers.store import add_subscriber, get_list

    state = state_of(ctx)
    engine = state.ready_engine()
    with open_session(engine) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        result = add_subscriber(
            session=session,
            mailing_list=mailing_list,
            email=email,
            name=name,
            language=language,
            confirmed=confirmed,
        )
        if result.needs_confirmation:
            assert result.subscriber.id is not None and mailing_list.id is not None
            enqueue_confirmation(
                session=session, subscriber_id=result.subscriber.id, list_id=mailing_list.id, now=utcnow()
            )
        session.commit()
        status = result.subscription.status
        typer.echo(f"{result.outcome}: {result.subscriber.email} on {mailing_list.slug} ({status})")
    if result.needs_confirmation:
        run = send_due(engine, state.settings)
        if run.sent:
            typer.echo(f"sent a confirmation link to {result.subscriber.email}: nothing is mailed until it is followed")
        else:
            typer.echo(
                f"the confirmation to {result.subscriber.email} is queued: the mail server did not take it now; "
                "`digest send` and `digest serve` try again",
                err=True,
            )


@app.command("confirm-pending")
@errors_to_exit
def subscribers_confirm_pending(ctx: typer.Context, list_: ListOption = None) -> None:
    """Send a confirmation link to every pending reader of a list (again, for those asked over 7 days ago).

    Readers imported without --confirmed stay pending, and get nothing, until they follow it.

    Example: digest subscribers confirm-pending --list quotidien
    """
    from digest.db import open_session
    from digest.mail.transactional import enqueue_pending, send_due
    from subscribers.models import utcnow
    from subscribers.store import get_list

    state = state_of(ctx)
    engine = state.ready_engine()
    now = utcnow()
    with open_session(engine) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        queued = enqueue_pending(session=session, mailing_list=mailing_list, now=now)
        session.commit()
    run = send_due(engine, state.settings, now=now)
    typer.echo(
        f"{mailing_list.slug}: {queued} pending readers asked to confirm; {run.sent} sent, "
        f"{run.retrying} to try again later (the mail server did not take them)"
    )


@app.command("import")
@errors_to_exit
def subscribers_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with header email[,name,language,sections].")],
    list_: ListOption = None,
    confirmed: Annotated[
        bool, typer.Option(help="Addresses new to the list already confirmed elsewhere (not for an export).")
    ] = False,
) -> None:
    """Import subscribers from CSV; reports every row that is not added, and totals.

    Fields are separated by commas, semicolons (Excel in French) or tabs. Sections in one cell are separated
    by ';'. Importing the same file again changes nothing. A file written by `digest subscribers export` is
    restored exactly: status, consent dates and sources, frequency, format, pause.

    Example: digest subscribers import readers.csv --confirmed
    """
    from digest.db import open_session
    from subscribers.importer import OUTCOMES, import_csv
    from subscribers.store import get_list

    # What is loaded by now lives until the command ends: the garbage collector need not scan it again each
    # time the import's rows fill a generation (a twentieth of a 100k-row import).
    gc.freeze()
    state = state_of(ctx)
    try:
        handle = file.open(encoding="utf-8-sig", newline="")
    except OSError as err:
        raise typer.BadParameter(f"cannot read {file}: {err.strerror}") from err
    with handle, open_session(state.ready_engine()) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        try:
            report = import_csv(handle, session=session, mailing_list=mailing_list, confirmed=confirmed)
            session.commit()
        except UnicodeDecodeError as err:
            raise DigestError(
                f"{file} is not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8 "
                "(in Excel: 'CSV UTF-8') and import it again: nothing was imported"
            ) from err
    for row in report.rows:
        if row.reason:
            typer.echo(f"line {row.line}: {row.outcome}: {row.reason}", err=True)
    counts = report.counts
    typer.echo(f"{file}: " + ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES))
    if counts["added"] and not confirmed:
        typer.echo(
            "new readers are pending: they get nothing until confirmed (use --confirmed if they already agreed)",
            err=True,
        )


@app.command("list")
@errors_to_exit
def subscribers_list(
    ctx: typer.Context,
    list_: ListOption = None,
    status: Annotated[str | None, typer.Option(help="Only this status: pending, active, unsubscribed, ...")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """List a list's subscribers.

    Example: digest subscribers list --status active --json
    """
    from digest.db import open_session
    from subscribers.public import SubscriberPublic
    from subscribers.store import get_list, list_subscribers

    state = state_of(ctx)
    with open_session(state.ready_engine()) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        rows = list_subscribers(session=session, mailing_list=mailing_list, status=status)
        if as_json:
            payload = [SubscriberPublic.from_row(r).model_dump() for r in rows]
            typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        for r in rows:
            typer.echo(f"{r.email}\t{r.status}\t{r.language or '-'}\t{r.name or ''}")


@app.command("export")
@errors_to_exit
def subscribers_export(
    ctx: typer.Context,
    list_: ListOption = None,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Export a list's subscribers as CSV with preferences, status and consent dates.

    The file imports back exactly with `digest subscribers import`, here or in another installation.

    Example: digest subscribers export --output readers.csv
    """
    from digest.db import open_session
    from subscribers.export import write_export
    from subscribers.store import get_list, list_subscribers

    state = state_of(ctx)
    with open_session(state.ready_engine()) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        rows = list_subscribers(session=session, mailing_list=mailing_list)
        if output is None:
            count = write_export(sys.stdout, rows, list_slug=mailing_list.slug)
        else:
            try:
                with output.open("w", encoding="utf-8", newline="") as handle:
                    count = write_export(handle, rows, list_slug=mailing_list.slug)
            except OSError as err:
                raise DigestError(f"cannot write {output}: {err.strerror or err}") from err
    typer.echo(f"exported {count} subscribers of {mailing_list.slug}", err=True)


@app.command("remove")
@errors_to_exit
def subscribers_remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The address to remove.")],
    erase: Annotated[bool, typer.Option(help="GDPR erasure: delete personal data, keep a suppression hash.")] = False,
) -> None:
    """Unsubscribe an address from every list, or erase it.

    Erasure deletes the reader and their deliveries, anonymises their consent log and keeps only a hash
    of the address so no import re-adds it.

    Example: digest subscribers remove amina@example.com --erase
    """
    from digest.db import open_session
    from digest.delivery.queue import drop_queued
    from subscribers.addresses import normalize_email
    from subscribers.store import find_subscriber, remove_subscriber

    state = state_of(ctx)
    with open_session(state.ready_engine()) as session:
        count = remove_subscriber(session=session, email=email, erase=erase)
        left = None if erase else find_subscriber(session=session, email=normalize_email(email))
        if left is not None and left.id is not None:
            drop_queued(session.connection(), subscriber_id=left.id, list_id=None)
        session.commit()
    if erase:
        typer.echo(f"erased {email}: {count} subscriptions deleted, consent log anonymised, suppression hash kept")
    else:
        typer.echo(f"unsubscribed {email} from {count} lists" if count else f"{email} was already unsubscribed")
