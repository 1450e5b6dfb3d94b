"""The `digest` command line: parse options, build objects from the settings, call the library."""

from __future__ import annotations

import functools
import json
import sys
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import Engine
from sqlmodel import col, select

from digest.db import (
    check_initialised,
    ensure_stored_secret,
    init_database,
    make_engine,
    open_session,
    with_stored_secret,
)
from digest.edition import (
    approve_edition,
    blocked_message,
    build_edition,
    find_edition,
    lint_blockers,
    selection_summary,
)
from digest.errors import ConfigError, DigestError, EditionError, NothingToSend
from digest.links import Links
from digest.lint import load_issues
from digest.mail import RecipientResult, get_backend
from digest.models import Edition
from digest.progress import SendProgress
from digest.select import EditorChoices
from digest.send import (
    DryRunReport,
    Mailing,
    SendOptions,
    SendReport,
    StopFlag,
    delivery_counts,
    event_counts,
    send_edition,
    send_test,
)
from digest.send import dry_run as dry_run_send
from digest.settings import Settings, load_settings
from subscribers.addresses import normalize_email
from subscribers.confirmation import send_confirmation
from subscribers.export import write_export
from subscribers.importer import OUTCOMES, import_csv
from subscribers.models import MailingList
from subscribers.store import (
    add_subscriber,
    all_lists,
    create_list,
    get_list,
    list_subscribers,
    remove_subscriber,
)

app = typer.Typer(
    help="Build the day's digest from your feeds and mail it to your lists.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
subscribers_app = typer.Typer(help="Manage subscribers.", no_args_is_help=True, rich_markup_mode=None)
lists_app = typer.Typer(help="Manage mailing lists.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(lists_app, name="lists")

F = TypeVar("F", bound=Callable[..., Any])
# `digest stats` columns counted from the provider's events, and the events each one counts.
STAT_EVENTS = {
    "delivered": ("delivered",),
    "bounced": ("bounce", "dropped"),
    "opened": ("open",),
    "clicked": ("click",),
    "unsubscribed": ("unsubscribe", "group_unsubscribe"),
}


class State:
    """What commands share: settings and engine, built on first use so `--help` never needs them."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            settings = load_settings()
            if not settings.secret_key:
                # Without DIGEST_SECRET_KEY the key is in the database the settings name.
                self._engine = self._engine or make_engine(settings.database_url)
                settings = with_stored_secret(settings, self._engine)
            self._settings = settings
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            url = self.settings.database_url  # may make the engine itself (to read the stored key)
            self._engine = self._engine or make_engine(url)
        return self._engine

    def close(self) -> None:
        """Close the database connections (called when the command ends)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def ready_engine(self) -> Engine:
        """The engine of a database `digest init` has set up."""
        check_initialised(self.engine)
        return self.engine


def _state(ctx: typer.Context) -> State:
    if not isinstance(ctx.obj, State):
        ctx.obj = State()
    return ctx.obj


def errors_to_exit(func: F) -> F:
    """Turn a DigestError into one line on stderr and its exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NothingToSend as err:
            typer.echo(str(err), err=True)
            raise typer.Exit(err.exit_code) from err
        except DigestError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from err

    return wrapper  # type: ignore[return-value]


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise typer.BadParameter(f"{value!r} is not a date like 2025-11-27") from err


DateOption = Annotated[
    str | None,
    typer.Option("--date", help="Edition date, YYYY-MM-DD (default: today in DIGEST_TIMEZONE).", show_default=False),
]
ListOption = Annotated[str | None, typer.Option("--list", help="List slug (default: DIGEST_LIST).", show_default=False)]


def _day(state: State, value: str | None) -> date:
    return _parse_date(value) or datetime.now(state.settings.tz).date()


@app.callback()
def root(ctx: typer.Context) -> None:
    """digest: read the day's articles, pick headlines and a featured story, mail the edition.

    Settings come from the environment and `.env` (see .env.example).
    """
    ctx.call_on_close(_state(ctx).close)


@app.command()
@errors_to_exit
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database and the default list. Safe to run again.

    Example: DATABASE_URL=sqlite:///./digest.db digest init
    """
    state = _state(ctx)
    mailing_list = init_database(state.engine, default_list=state.settings.list_slug)
    typer.echo(f"database ready: {state.engine.url.render_as_string()} (default list: {mailing_list.slug})")
    if not state.settings.secret_key and ensure_stored_secret(state.engine):
        typer.echo("generated a random link-signing key, stored in the database (DIGEST_SECRET_KEY overrides it)")


@app.command()
@errors_to_exit
def build(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Feed or page URL or file (repeatable; default: DIGEST_SOURCES)."),
    ] = None,
    featured: Annotated[str | None, typer.Option(help="Pin this article URL as the featured one.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Leave this article URL out (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the selection as JSON on stdout.")] = False,
) -> None:
    """Build (or rebuild) the day's edition as a draft from the sources.

    Sources are feeds (RSS, Atom), HTML article pages or news-page snapshots, as URLs or files. A broken
    source is a warning; every source broken exits 1; a day without articles exits 3.

    Example: digest build --date 2025-11-27 --json
    """
    state = _state(ctx)
    settings = state.settings
    day = _day(state, date_)
    with open_session(state.ready_engine()) as session:
        edition, selection = build_edition(
            session=session,
            settings=settings,
            day=day,
            list_slug=list_,
            sources=source or None,
            # Without --featured/--exclude a rebuild keeps what the editor chose in the preview.
            choices=EditorChoices(featured=featured, exclude=frozenset(exclude or ())) if featured or exclude else None,
            warn=lambda message: typer.echo(message, err=True),
        )
        list_slug = list_ or settings.list_slug
        for issue in load_issues(edition.lint_json):
            typer.echo(f"lint {issue}", err=True)
        for note in selection.notes:
            typer.echo(f"warning: {note}", err=True)
        if as_json:
            summary = selection_summary(selection, list_slug=list_slug, subject=edition.subject)
            typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        else:
            typer.echo(
                f"built the {day} edition of {list_slug} ({edition.status}): "
                f"{1 if selection.featured else 0} featured, {len(selection.headlines)} headlines, "
                f"{len(selection.skipped)} skipped"
            )
            typer.echo(f"subject: {edition.subject}")


@app.command()
@errors_to_exit
def approve(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    ignore_lint: Annotated[
        bool, typer.Option("--ignore-lint", help="Approve even though the lint found errors (they are shown).")
    ] = False,
) -> None:
    """Approve the day's edition so `digest send` sends it. Lint errors refuse it unless --ignore-lint.

    Example: digest approve --date 2025-11-27
    """
    state = _state(ctx)
    day = _day(state, date_)
    with open_session(state.ready_engine()) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        edition = find_edition(session, mailing_list, day)
        if edition is None:
            raise EditionError(f"no {day} edition of {mailing_list.slug}: run `digest build --date {day}` first")
        approve_edition(session=session, edition=edition, ignore_lint=ignore_lint)
        typer.echo(f"approved the {day} edition of {mailing_list.slug}: {edition.subject}")


@app.command()
@errors_to_exit
def send(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do everything but deliver; print who would get what.")
    ] = False,
    test_to: Annotated[
        list[str] | None,
        typer.Option("--test-to", help="Send only to this address, subject [TEST], nothing recorded (repeatable)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes sharing the edition (PostgreSQL).")] = 1,
    retry_uncertain: Annotated[
        bool, typer.Option("--retry-uncertain", help="Send again to readers whose delivery is uncertain.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Send even if the edition is still a draft.")] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Readers per provider request (SendGrid takes up to 1000).")
    ] = 1000,
    ignore_lint: Annotated[
        bool, typer.Option("--ignore-lint", help="Send even though the edition's lint found errors.")
    ] = False,
) -> None:
    """Send the day's edition to every eligible reader who does not have it yet (safe to repeat).

    Builds the edition first when it does not exist. Exit 0 when everyone got it, 1 when any delivery
    failed or is uncertain (or on error), 3 when everyone already had it.

    Example: digest send --date 2025-11-27 --workers 4
    """
    state = _state(ctx)
    settings = state.settings
    day = _day(state, date_)
    engine = state.ready_engine()
    links = Links(settings.base_url, settings.signing_keys())
    backend = get_backend(settings)
    with open_session(engine) as session:
        mailing_list = get_list(session=session, slug=list_ or settings.list_slug)
        edition = find_edition(session, mailing_list, day)
        if edition is None:
            edition, _ = build_edition(
                session=session,
                settings=settings,
                day=day,
                list_slug=mailing_list.slug,
                warn=lambda message: typer.echo(message, err=True),
            )
        assert edition.id is not None
        edition_id = edition.id
        blockers = lint_blockers(edition)
        if blockers and not ignore_lint and not test_to:
            raise EditionError(blocked_message(edition, blockers))
    mailing = Mailing(
        engine=engine,
        edition_id=edition_id,
        backend=backend,
        links=links,
        sender=settings.from_address,
        default_language=settings.language,
    )
    options = SendOptions(
        batch_size=batch_size,
        retry_uncertain=retry_uncertain,
        force=force,
        workers=workers,
        max_rate=settings.send_rate,
        retries=settings.send_retries,
    )
    try:
        if test_to:
            _report_test(send_test(mailing, [_test_address(a) for a in test_to]))
            return
        if dry_run:
            _report_dry_run(dry_run_send(mailing, options=options), day, mailing_list.slug)
            return
        with SendProgress(f"{day} {mailing_list.slug}") as progress, StopFlag.on_signals() as stop:
            report = send_edition(
                mailing,
                options=options,
                on_start=progress.start,
                on_progress=progress.advance,
                worker_settings=settings,
                should_stop=stop,
            )
    finally:
        backend.close()
    _print_report(report, day, mailing_list.slug, settings)
    # Anything short of "everyone got it" needs a person: failures, uncertain readers (this run's or an
    # interrupted run's found now), readers left queued.
    run = report.this_run
    if run["failed"] or run["uncertain"] or run["queued"] or report.made_uncertain:
        raise typer.Exit(1)


def _test_address(raw: str) -> str:
    try:
        return normalize_email(raw)
    except DigestError as err:
        raise typer.BadParameter(str(err), param_hint="--test-to") from err


def _report_test(results: list[RecipientResult]) -> None:
    for result in results:
        shown = "sent" if result.ok else f"{result.outcome}: {result.error}"
        typer.echo(f"test {result.recipient.email}: {shown}")
    if not all(result.ok for result in results):
        raise typer.Exit(1)


def _report_dry_run(report: DryRunReport, day: date, list_slug: str) -> None:
    typer.echo(f"dry run: the {day} edition of {list_slug} would go to {report.total} readers; nothing was sent")
    for variant, count in report.readers.most_common():
        typer.echo(f"  {count:>8}  {variant}")
    if report.sample:
        more = report.total - len(report.sample)
        typer.echo("  first: " + ", ".join(report.sample) + (f" and {more} more" if more > 0 else ""))
    if report.checked_by_provider:
        typer.echo("every request was accepted by the provider in sandbox mode (nothing delivered)")


def _print_report(report: SendReport, day: date, list_slug: str, settings: Settings) -> None:
    run = report.this_run
    typer.echo(
        f"{day} {list_slug}: sent {run['sent']}, failed {run['failed']}, uncertain {run['uncertain']}, "
        f"skipped {run['skipped']} (left the list), still queued {run['queued']} this run"
        + (f" ({report.made_uncertain} interrupted earlier now uncertain)" if report.made_uncertain else "")
    )
    typer.echo(f"sending took {report.seconds:.3f} s, {report.rate:,.0f} readers/s")
    totals = report.totals
    typer.echo(
        f"edition totals: {totals['sent']} sent, {totals['failed']} failed, {totals['uncertain']} uncertain, "
        f"{totals['queued']} queued"
        + (f", {totals['sending']} in flight in another worker" if totals["sending"] else "")
    )
    if totals["uncertain"]:
        typer.echo(
            "uncertain: the provider may or may not have these; check its activity log, then "
            "`digest send --retry-uncertain` to send them again",
            err=True,
        )
    if settings.mail_backend == "outbox":
        typer.echo(f"messages written under {settings.outbox_dir / day.isoformat() / list_slug}")
    for error in report.errors[:5]:
        typer.echo(f"error: {error}", err=True)
    if len(report.errors) > 5:
        typer.echo(f"... and {len(report.errors) - 5} more errors", err=True)


@app.command()
@errors_to_exit
def stats(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (DESIGN shape).")] = False,
) -> None:
    """Show each edition's deliveries by status, newest first.

    Example: digest stats --json
    """
    state = _state(ctx)
    with open_session(state.ready_engine()) as session:
        query = select(Edition, MailingList).join(MailingList, col(MailingList.id) == col(Edition.list_id))
        if list_:
            query = query.where(MailingList.slug == list_)
        if date_:
            query = query.where(Edition.date == _parse_date(date_))
        found = session.exec(query.order_by(col(Edition.date).desc(), col(MailingList.slug))).all()
        ids = [edition.id for edition, _ in found if edition.id is not None]
        statuses = delivery_counts(session, ids)
        events = event_counts(session, ids)
        editions = []
        for edition, mailing_list in found:
            assert edition.id is not None
            counts, seen = statuses.get(edition.id, Counter()), events.get(edition.id, Counter())
            row: dict[str, Any] = {
                "date": edition.date.isoformat(),
                "list": mailing_list.slug,
                "status": edition.status,
                "recipients": sum(counts.values()),
            }
            for status in ("queued", "sent", "failed", "uncertain"):
                row[status] = counts[status] + (counts["sending"] if status == "queued" else 0)
            for name, kinds in STAT_EVENTS.items():
                row[name] = sum(seen[kind] for kind in kinds)
            editions.append(row)
    if as_json:
        typer.echo(json.dumps({"editions": editions}, ensure_ascii=False, indent=2))
        return
    if not editions:
        typer.echo("no editions yet")
    for row in editions:
        typer.echo(
            f"{row['date']} {row['list']:<12} {row['status']:<9} recipients {row['recipients']}: "
            f"sent {row['sent']}, failed {row['failed']}, uncertain {row['uncertain']}, queued {row['queued']}; "
            f"delivered {row['delivered']}, bounced {row['bounced']}, opened {row['opened']}, "
            f"clicked {row['clicked']}, unsubscribed {row['unsubscribed']}"
        )


@app.command()
@errors_to_exit
def preview(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on (127.0.0.1 only).")] = 8001,
    output: Annotated[Path | None, typer.Option(help="Write the preview as static files here instead.")] = None,
) -> None:
    """Preview the day's edition (desktop, phone, dark, text, lint) and adjust or approve it in the browser.

    Builds the edition first when it does not exist. Serves on this machine only, without a password.

    Example: digest preview --date 2025-11-27 --output preview/
    """
    from digest.web.editor import serve_preview, write_static

    state = _state(ctx)
    settings = state.settings
    day = _day(state, date_)
    engine = state.ready_engine()
    with open_session(engine) as session:
        mailing_list = get_list(session=session, slug=list_ or settings.list_slug)
        if find_edition(session, mailing_list, day) is None:
            build_edition(
                session=session,
                settings=settings,
                day=day,
                list_slug=mailing_list.slug,
                warn=lambda message: typer.echo(message, err=True),
            )
        if output is not None:
            written = write_static(
                session=session, settings=settings, mailing_list=mailing_list, day=day, folder=output
            )
            typer.echo(f"wrote {len(written)} files: open {output / 'index.html'}")
            return
    typer.echo(f"preview of the {day} edition: http://127.0.0.1:{port}/editor/{mailing_list.slug}/{day} (Ctrl-C stops)")
    serve_preview(settings, engine=engine, port=port)


@app.command()
@errors_to_exit
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web pages: subscribe, preferences, unsubscribe, editor, archive.

    Behind a reverse proxy, list it in DIGEST_TRUSTED_PROXIES so rate limits see readers' addresses.

    Example: digest serve --port 8000
    """
    import uvicorn

    from digest.web.app import create_app, uvicorn_log_config

    state = _state(ctx)
    weak = state.settings.weak_keys()  # also refuses a missing key now, not on the first request
    if weak:
        raise ConfigError(f"DIGEST_SECRET_KEY is guessable ({'; '.join(weak)}): set a long random one")
    app_ = create_app(state.settings, engine=state.ready_engine())
    # X-Forwarded-For is read by the app from DIGEST_TRUSTED_PROXIES only; uvicorn's own reading would believe
    # any local process (its default trusts 127.0.0.1).
    uvicorn.run(app_, host=host, port=port, log_level="info", log_config=uvicorn_log_config(), proxy_headers=False)


@subscribers_app.command("add")
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
    state = _state(ctx)
    with open_session(state.ready_engine()) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        result = add_subscriber(
            session=session,
            mailing_list=mailing_list,
            email=email,
            name=name,
            language=language,
            confirmed=confirmed,
        )
        status = result.subscription.status
        typer.echo(f"{result.outcome}: {result.subscriber.email} on {mailing_list.slug} ({status})")
        if result.needs_confirmation:
            backend = get_backend(state.settings)
            try:
                send_confirmation(
                    settings=state.settings,
                    backend=backend,
                    subscriber=result.subscriber,
                    mailing_list=mailing_list,
                )
            finally:
                backend.close()
            typer.echo(f"sent a confirmation link to {result.subscriber.email}: nothing is mailed until it is followed")


@subscribers_app.command("import")
@errors_to_exit
def subscribers_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV with header email[,name,language,sections].")],
    list_: ListOption = None,
    confirmed: Annotated[bool, typer.Option(help="The readers already confirmed elsewhere.")] = False,
) -> None:
    """Import subscribers from CSV; reports every row that is not added, and totals.

    Fields are separated by commas, semicolons (Excel in French) or tabs. Sections in one cell are separated
    by ';'. Importing the same file again changes nothing.

    Example: digest subscribers import readers.csv --confirmed
    """
    state = _state(ctx)
    try:
        handle = file.open(encoding="utf-8-sig", newline="")
    except OSError as err:
        raise typer.BadParameter(f"cannot read {file}: {err.strerror}") from err
    with handle, open_session(state.ready_engine()) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        try:
            report = import_csv(handle, session=session, mailing_list=mailing_list, confirmed=confirmed)
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


@subscribers_app.command("list")
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
    state = _state(ctx)
    with open_session(state.ready_engine()) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        rows = list_subscribers(session=session, mailing_list=mailing_list, status=status)
        if as_json:
            payload = [
                {
                    "email": r.email,
                    "name": r.name,
                    "language": r.language,
                    "status": r.status,
                    "sections": r.sections.split(",") if r.sections else None,
                    "frequency": r.frequency,
                    "format": r.format,
                    "paused_until": r.paused_until.isoformat() if r.paused_until else None,
                    "subscribed_at": r.subscribed_at.isoformat(),
                    "confirmed_at": r.confirmed_at.isoformat() if r.confirmed_at else None,
                }
                for r in rows
            ]
            typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        for r in rows:
            typer.echo(f"{r.email}\t{r.status}\t{r.language or '-'}\t{r.name or ''}")


@subscribers_app.command("export")
@errors_to_exit
def subscribers_export(
    ctx: typer.Context,
    list_: ListOption = None,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Export a list's subscribers as CSV with preferences, status and consent dates.

    The file imports back with `digest subscribers import` (extra columns are ignored there).

    Example: digest subscribers export --output readers.csv
    """
    state = _state(ctx)
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


@subscribers_app.command("remove")
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
    state = _state(ctx)
    with open_session(state.ready_engine()) as session:
        count = remove_subscriber(session=session, email=email, erase=erase)
    if erase:
        typer.echo(f"erased {email}: {count} subscriptions deleted, consent log anonymised, suppression hash kept")
    else:
        typer.echo(f"unsubscribed {email} from {count} lists" if count else f"{email} was already unsubscribed")


@lists_app.command("add")
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
    state = _state(ctx)
    with open_session(state.ready_engine()) as session:
        mailing_list = create_list(session=session, slug=slug, name=name, public=public)
        typer.echo(f"created list {mailing_list.slug} ({mailing_list.name})")


@lists_app.command("list")
@errors_to_exit
def lists_list(ctx: typer.Context) -> None:
    """Show every list with its number of active subscribers.

    Example: digest lists list
    """
    state = _state(ctx)
    with open_session(state.ready_engine()) as session:
        for mailing_list, active in all_lists(session=session):
            typer.echo(f"{mailing_list.slug}\t{active} active\t{mailing_list.name}")


def main() -> None:
    """Console entry point."""
    app(prog_name="digest")


if __name__ == "__main__":
    main()
    sys.exit(0)
