"""The edition commands: build, approve, send, stats, preview."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from digest.cli.common import (
    DateOption,
    Kind,
    KindOption,
    ListOption,
    edition_day_of,
    errors_to_exit,
    parse_date,
    state_of,
    warn_on_stderr,
)
from digest.errors import DigestError, EditionError

if TYPE_CHECKING:
    from rich.table import Table
    from sqlmodel import Session

    from digest.delivery import DryRunReport, SendReport
    from digest.mail import RecipientResult
    from digest.settings import Settings


@errors_to_exit
def build(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    kind: KindOption = Kind.DAILY,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Feed or page URL or file (repeatable; default: DIGEST_SOURCES)."),
    ] = None,
    featured: Annotated[str | None, typer.Option(help="Pin this article URL as the featured one.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Leave this article URL out (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the selection as JSON on stdout.")] = False,
) -> None:
    """Build (or rebuild) the day's edition as a draft from the sources.

    Sources are feeds (RSS, Atom), HTML article pages or news-page snapshots, as URLs or files. The edition
    covers its window (DIGEST_EDITION_WINDOW), fixed at its first build. A broken source is a warning; every
    source broken exits 1; no article in the window exits 3; a thin edition (DIGEST_MIN_ARTICLES) warns.

    A weekly edition (--kind weekly) is dated DIGEST_WEEKLY_DAY and covers the 7 days before its end.

    Example: digest build --date yesterday --json
    """
    from digest.db import open_session
    from digest.edition import (
        article_count,
        build_edition,
        edition_name,
        selection_summary,
        stored_window,
        thin_message,
    )
    from digest.lint import load_issues
    from digest.selection import EditorChoices

    state = state_of(ctx)
    settings = state.settings
    day = edition_day_of(state, date_, kind)
    with open_session(state.ready_engine()) as session:
        edition, selection = build_edition(
            session=session,
            settings=settings,
            day=day,
            list_slug=list_,
            sources=source or None,
            # Without --featured/--exclude a rebuild keeps what the editor chose in the preview.
            choices=EditorChoices(featured=featured, exclude=frozenset(exclude or ())) if featured or exclude else None,
            warn=warn_on_stderr,
            now=state.now(),
            kind=kind.value,
        )
        list_slug = list_ or settings.list_slug
        window = stored_window(edition)
        for issue in load_issues(edition.lint_json):
            typer.echo(f"lint {issue}", err=True)
        for note in selection.notes:
            typer.echo(f"warning: {note}", err=True)
        thin = thin_message(edition, article_count(selection), settings)
        if thin:
            typer.echo(f"warning: {thin}", err=True)
        if as_json:
            summary = selection_summary(
                selection,
                list_slug=list_slug,
                subject=edition.subject,
                kind=edition.kind,
                summary_chars=settings.summary_chars,
            )
            typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        else:
            typer.echo(
                f"built the {day} {edition_name(edition.kind)} of {list_slug} ({edition.status}): "
                f"{1 if selection.featured else 0} featured, {len(selection.headlines)} headlines, "
                f"{len(selection.skipped)} skipped"
            )
            if window:
                start, end = (moment.astimezone(settings.tz) for moment in window)
                typer.echo(f"window: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({settings.timezone})")
            typer.echo(f"subject: {edition.subject}")


@errors_to_exit
def approve(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    kind: KindOption = Kind.DAILY,
    ignore_lint: Annotated[
        bool, typer.Option("--ignore-lint", help="Approve even though the lint found errors (they are shown).")
    ] = False,
) -> None:
    """Approve the day's edition so `digest send` sends it. Lint errors refuse it unless --ignore-lint.

    Example: digest approve --date 2025-11-27
    """
    from digest.db import open_session
    from digest.edition import approve_edition, edition_name, find_edition, kind_option
    from subscribers.store import get_list

    state = state_of(ctx)
    day = edition_day_of(state, date_, kind)
    name = edition_name(kind.value)
    with open_session(state.ready_engine()) as session:
        mailing_list = get_list(session=session, slug=list_ or state.settings.list_slug)
        edition = find_edition(session, mailing_list, day, kind.value)
        if edition is None:
            raise EditionError(
                f"no {day} {name} of {mailing_list.slug}: "
                f"run `digest build --date {day}{kind_option(kind.value)}` first"
            )
        approve_edition(session=session, edition=edition, ignore_lint=ignore_lint)
        typer.echo(f"approved the {day} {name} of {mailing_list.slug}: {edition.subject}")


@errors_to_exit
def send(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    kind: KindOption = Kind.DAILY,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do everything but deliver; print who would get what.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="ISO-TIME",
            help="With --dry-run: who would be mailed at this instant (e.g. 2026-03-29T06:30+02:00).",
            show_default=False,
        ),
    ] = None,
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

    Builds the edition first when it does not exist; with DIGEST_AUTO_APPROVE=1 approves a waiting draft.
    Exit 0 when everyone due got it in this run; 1 when this run failed a reader, any reader is still
    uncertain or queued, or the edition waits for the editor (one line on stderr says how many and what to
    do); 3 when there was nothing to do. --dry-run writes nothing.

    --kind weekly sends the week's round-up on DIGEST_WEEKLY_DAY (another day: exit 3, nothing to do), so a
    daily cron line `digest send --kind weekly` is safe.

    With DIGEST_DELIVERY_HOUR (run it every 15 minutes) only readers whose local hour has come get their
    own day's edition, built at the earliest zone's hour; nobody due yet exits 3 saying when the next are.

    Example: digest send --date 2025-11-27 --workers 4
    """
    from digest.db import open_session
    from digest.delivery import Mailing, SendOptions, StopFlag, send_edition, send_test
    from digest.delivery import dry_run as dry_run_send
    from digest.edition import auto_approve, blocked_message, ensure_edition, lint_blockers
    from digest.mail import open_backend
    from digest.models import Edition
    from digest.progress import SendProgress
    from subscribers.store import get_list

    state = state_of(ctx)
    if at is not None:
        if not dry_run:
            raise typer.BadParameter("is accepted only with --dry-run", param_hint="--now")
        state.pretend_now(_instant(at))
    run_at = state.now()
    settings = state.settings
    # With DIGEST_DELIVERY_HOUR and no --date, the run serves each due reader's own date (digest.cli.local_hour).
    by_zone = settings.delivery_hour is not None and not test_to and date_ is None
    day = run_at.astimezone(settings.tz).date() if by_zone else edition_day_of(state, date_, kind)
    engine = state.ready_engine()
    list_slug = list_ or settings.list_slug
    # How reports name the edition: its date, and its kind when not daily.
    label = str(day) if kind == Kind.DAILY else f"{day} {kind.value}"

    def edition_to_send(session: Session, day: date = day, window_end: datetime | None = None) -> Edition:
        mailing_list = get_list(session=session, slug=list_slug)
        edition = ensure_edition(
            session=session,
            settings=settings,
            mailing_list=mailing_list,
            day=day,
            warn=warn_on_stderr,
            now=run_at,
            kind=kind.value,
            window_end=window_end,
        )
        if not (test_to or force):
            # A dry run approves too, inside its transaction that is rolled back: it shows what send would do.
            edition = auto_approve(session=session, settings=settings, edition=edition)
        blockers = lint_blockers(edition)
        if blockers and not ignore_lint and not test_to:
            raise EditionError(blocked_message(edition, blockers))
        assert edition.id is not None
        return edition

    settings.signing_keys()  # a missing key is named before the backend's own settings are checked
    if not dry_run and not test_to:
        # Confirmation requests the mail server could not take earlier go out with each cron run.
        from digest.mail.transactional import send_queued_mail

        send_queued_mail(engine, settings)
    with open_backend(settings) as backend:
        mailing = Mailing.from_settings(settings, engine, 0, backend)
        options = SendOptions(
            batch_size=batch_size,
            retry_uncertain=retry_uncertain,
            force=force,
            workers=workers,
            max_rate=settings.send_rate,
            retries=settings.send_retries,
            uncertain_settle=settings.uncertain_settle if backend.reports_events else None,
        )
        if settings.delivery_hour is not None and not test_to:
            from digest.cli.local_hour import send_at_local_hour

            send_at_local_hour(
                mailing,
                options,
                settings=settings,
                list_slug=list_slug,
                now=run_at,
                day=None if by_zone else day,
                kind=kind.value,
                weekday=settings.weekly_weekday if kind == Kind.WEEKLY else None,
                edition_for=edition_to_send,
                dry_run=dry_run,
            )
            return
        if dry_run:
            # The edition is found or built inside the dry run's transaction, which is rolled back.
            _report_dry_run(dry_run_send(mailing, options=options, edition_for=edition_to_send), label, list_slug)
            return
        with open_session(engine) as session:
            mailing = dataclasses.replace(mailing, edition_id=edition_to_send(session).id or 0)
        if test_to:
            _report_test(send_test(mailing, [_test_address(a) for a in test_to]))
            return
        with SendProgress(f"{label} {list_slug}") as progress, StopFlag.on_signals() as stop:
            report = send_edition(
                mailing,
                options=options,
                on_start=progress.start,
                on_progress=progress.advance,
                worker_settings=settings,
                should_stop=stop,
            )
    _print_report(report, label, day, list_slug, settings)
    attention = report.needs_attention
    if attention:
        # The last line: what cron mails and what a person reads first.
        typer.echo(attention, err=True)
        raise typer.Exit(1)


def _instant(raw: str) -> datetime:
    """``--now``'s ISO 8601 instant, with its offset (or Z); a usage error naming what is wrong."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError as err:
        raise typer.BadParameter(
            f"{raw[:60]!r} is not an ISO 8601 time like 2026-03-29T06:30+02:00", param_hint="--now"
        ) from err
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"{raw[:60]!r} needs its offset, like 2026-03-29T06:30+02:00 or ...Z", param_hint="--now"
        )
    return moment


def _test_address(raw: str) -> str:
    from subscribers.addresses import normalize_email

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


def _report_dry_run(report: DryRunReport, day: str, list_slug: str) -> None:
    typer.echo(f"dry run: the {day} edition of {list_slug} would go to {report.total} readers; nothing was sent")
    for variant, count in report.readers.most_common():
        typer.echo(f"  {count:>8}  {variant}")
    if report.sample:
        more = report.total - len(report.sample)
        typer.echo("  first: " + ", ".join(report.sample) + (f" and {more} more" if more > 0 else ""))
    if report.checked_by_provider:
        typer.echo("every request was accepted by the provider in sandbox mode (nothing delivered)")


def _print_report(report: SendReport, label: str, day: date, list_slug: str, settings: Settings) -> None:
    run = report.this_run
    typer.echo(
        f"{label} {list_slug}: sent {run['sent']}, failed {run['failed']}, uncertain {run['uncertain']}, "
        f"skipped {run['skipped']} (left the list), still queued {run['queued']} this run"
        + (f" ({report.made_uncertain} interrupted earlier now uncertain)" if report.made_uncertain else "")
    )
    if report.settled_by_events:
        typer.echo(f"{report.settled_by_events} uncertain settled by the provider's events")
    if report.requeued_uncertain or report.uncertain_waiting:
        typer.echo(
            f"retry-uncertain: {report.requeued_uncertain} sent again; {report.uncertain_waiting} skipped, left "
            f"less than {settings.uncertain_settle} ago (DIGEST_UNCERTAIN_SETTLE) with no event from the provider yet"
        )
    if report.seconds:
        typer.echo(f"sending took {report.seconds:.3f} s, {report.rate:,.0f} readers/s")
    totals = report.totals
    # The same figures as `digest stats` (which counts those in flight as queued).
    typer.echo(
        f"edition totals: {totals['sent']} sent, {totals['failed']} failed, {totals['uncertain']} uncertain, "
        f"{totals['queued'] + totals['sending']} queued"
        + (f" ({totals['sending']} of them in flight with another sender)" if totals["sending"] else "")
    )
    if settings.mail_backend == "outbox":
        typer.echo(f"messages written under {settings.outbox_dir / day.isoformat() / list_slug}")
    for error in report.errors[:5]:
        typer.echo(f"error: {error}", err=True)
    if len(report.errors) > 5:
        typer.echo(f"... and {len(report.errors) - 5} more errors", err=True)


@errors_to_exit
def stats(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    kind: Annotated[
        Kind | None, typer.Option("--kind", help="Only editions of this kind (default: both).", case_sensitive=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (DESIGN shape).")] = False,
) -> None:
    """Show each edition's deliveries by status, newest first, daily and weekly editions apart.

    Example: digest stats --json
    """
    from digest.db import open_session
    from digest.stats import edition_stats

    state = state_of(ctx)
    with open_session(state.ready_engine()) as session:
        editions = edition_stats(
            session,
            list_slug=list_,
            day=parse_date(state, date_) if date_ else None,
            kind=kind.value if kind else None,
        )
    if as_json:
        typer.echo(json.dumps({"editions": editions}, ensure_ascii=False, indent=2))
        return
    if not editions:
        typer.echo("no editions yet")
    for row in editions:
        typer.echo(
            f"{row['date']} {row['list']:<12} {row['kind']:<6} {row['status']:<9} recipients {row['recipients']}: "
            f"sent {row['sent']}, failed {row['failed']}, uncertain {row['uncertain']}, queued {row['queued']}; "
            f"delivered {row['delivered']}, bounced {row['bounced']}, opened {row['opened']}, "
            f"clicked {row['clicked']}, unsubscribed {row['unsubscribed']}"
        )
    if editions:
        from rich.console import Console

        Console().print(rates_chart(editions))


# The rates `digest stats` draws for the last editions, and how many editions.
CHART_RATES = ("delivered", "opened", "clicked", "bounced", "unsubscribed")
CHART_EDITIONS = 10


def rates_chart(editions: list[dict[str, Any]]) -> Table:
    """A terminal chart (rich) of the last editions' rates: one bar per rate, an edition per row."""
    from rich.bar import Bar
    from rich.table import Table

    from digest.stats import rates

    table = Table(title="Rates of the last editions", title_justify="left", box=None, pad_edge=False)
    table.add_column("edition")
    for name in CHART_RATES:
        table.add_column(name, min_width=14)
    colours = {"delivered": "green", "opened": "cyan", "clicked": "blue", "bounced": "red", "unsubscribed": "yellow"}
    for row in [row for row in editions if row["recipients"]][:CHART_EDITIONS]:
        shares = rates(row)
        cells = []
        for name in CHART_RATES:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=8)
            grid.add_column(justify="right", width=6)
            grid.add_row(Bar(1.0, 0, shares[name], color=colours[name]), f"{shares[name]:.1%}")
            cells.append(grid)
        table.add_row(f"{row['date']} {row['list']} {row['kind']}", *cells)
    return table


@errors_to_exit
def preview(
    ctx: typer.Context,
    date_: DateOption = None,
    list_: ListOption = None,
    kind: KindOption = Kind.DAILY,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on (127.0.0.1 only).")] = 8001,
    output: Annotated[Path | None, typer.Option(help="Write the preview as static files here instead.")] = None,
) -> None:
    """Preview the day's edition (desktop, phone, dark, text, lint) and adjust or approve it in the browser.

    Builds the edition first when it does not exist. Serves on this machine only, without a password.

    Example: digest preview --date 2025-11-27 --output preview/
    """
    from digest.db import open_session
    from digest.edition import ensure_edition
    from digest.web.editor import serve_preview, write_static
    from digest.web.editor.desk import desk_url
    from subscribers.store import get_list

    state = state_of(ctx)
    settings = state.settings
    day = edition_day_of(state, date_, kind)
    engine = state.ready_engine()
    with open_session(engine) as session:
        mailing_list = get_list(session=session, slug=list_ or settings.list_slug)
        ensure_edition(
            session=session,
            settings=settings,
            mailing_list=mailing_list,
            day=day,
            warn=warn_on_stderr,
            now=state.now(),
            kind=kind.value,
        )
        if output is not None:
            written = write_static(
                session=session, settings=settings, mailing_list=mailing_list, day=day, folder=output, kind=kind.value
            )
            typer.echo(f"wrote {len(written)} files: open {output / 'index.html'}")
            return
    url = f"http://127.0.0.1:{port}{desk_url(mailing_list.slug, day, kind.value)}"
    typer.echo(f"preview of the {day} {kind.value} edition: {url} (Ctrl-C stops)")
    serve_preview(settings, engine=engine, port=port)
