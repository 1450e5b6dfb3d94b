"""`digest send` with DIGEST_DELIVERY_HOUR: each edition date a run serves, sent to the zones due only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

import typer
from sqlmodel import Session

from digest.cli.common import warn_on_stderr
from digest.cli.editions import _print_report
from digest.delivery import Mailing, SendOptions
from digest.errors import NothingToSend
from digest.models import Edition
from digest.settings import Settings

if TYPE_CHECKING:
    from digest.delivery import DryRunReport
    from digest.delivery.schedule import DaySchedule

EditionFor = Callable[[Session, date, datetime | None], Edition]


def send_at_local_hour(
    mailing: Mailing,
    options: SendOptions,
    *,
    settings: Settings,
    list_slug: str,
    now: datetime,
    day: date | None,
    kind: str,
    weekday: int | None,
    edition_for: EditionFor,
    dry_run: bool,
) -> None:
    """Serve every edition date of ``kind`` some reader is due for at ``now`` (only ``day`` when given; only
    dates of ``weekday`` when given: weekly editions); exit as DESIGN's table says, the worst of the dates
    served: 1, else 0, else 3 (nobody due: when the next readers are)."""
    from digest.db import open_session
    from digest.delivery import StopFlag, send_edition
    from digest.delivery import dry_run as dry_run_send
    from digest.delivery.local_hour import LocalHour, close_if_complete, plan, skip_late, zone_options
    from digest.delivery.schedule import ZoneState
    from digest.progress import SendProgress
    from subscribers.store import get_list

    assert settings.delivery_hour is not None
    local = LocalHour(settings.delivery_hour, settings.delivery_late, settings.timezone)
    hour = f"{settings.delivery_hour:%H:%M}"
    with open_session(mailing.engine) as session:
        mailing_list = get_list(session=session, slug=list_slug)
        assert mailing_list.id is not None
        wanted = plan(session, list_id=mailing_list.id, local=local, now=now, day=day, kind=kind, weekday=weekday)
    turn = wanted.next_turn
    nobody_due = NothingToSend(
        f"nobody is due yet: the next readers are due at {turn.due_at:%Y-%m-%d %H:%M} UTC ({turn.key}, {hour} "
        f"local, the {turn.day} edition of {list_slug})"
        if turn
        else f"nobody is due: no reader of {list_slug} is eligible for the editions of these days"
    )
    anyone_due = any(schedule.zones(ZoneState.DUE) for schedule in wanted.days)
    if not anyone_due and (dry_run or not wanted.days):
        raise nobody_due
    codes: list[int] = []
    for schedule in wanted.days:
        label = str(schedule.day) if kind == "daily" else f"{schedule.day} {kind}"
        due = schedule.zones(ZoneState.DUE)
        zone_names = ", ".join(sorted(zone or settings.timezone for zone in due))
        if dry_run:
            if due:

                def find(session: Session, schedule: DaySchedule = schedule) -> Edition:
                    return edition_for(session, schedule.day, schedule.first_due_at)

                trial = dry_run_send(mailing, options=zone_options(options, schedule), edition_for=find)
                typer.echo(
                    f"dry run at {now.astimezone(settings.tz):%Y-%m-%d %H:%M} {settings.timezone}: the "
                    f"{label} edition of {list_slug} would go to {trial.total} readers ({hour} local in "
                    f"{zone_names}); nothing was sent"
                )
                _print_zones(trial, settings.timezone)
                codes.append(0)
            continue
        with open_session(mailing.engine) as session:
            try:
                edition = edition_for(session, schedule.day, schedule.first_due_at)
            except NothingToSend as err:
                typer.echo(str(err), err=True)
                codes.append(err.exit_code)
                continue
            skipped = skip_late(session, edition, schedule)
            if not due:
                close_if_complete(session, edition, schedule, now)
        late = schedule.zones(ZoneState.LATE)
        if skipped:
            warn_on_stderr(
                f"warning: {skipped} readers skipped: their {hour} passed more than {settings.delivery_late} ago "
                f"(DIGEST_DELIVERY_LATE), in {', '.join(sorted(zone or settings.timezone for zone in late))}"
            )
        if not due:
            typer.echo(f"{label} {list_slug}: nobody due, {skipped} skipped (too late); edition {edition.status}")
            codes.append(3)
            continue
        typer.echo(f"{label} {list_slug}: {hour} local has come in {zone_names}; {skipped} skipped (too late)")
        try:
            with SendProgress(f"{label} {list_slug}") as progress, StopFlag.on_signals() as stop:
                report = send_edition(
                    dataclasses.replace(mailing, edition_id=edition.id or 0),
                    options=zone_options(options, schedule),
                    on_start=progress.start,
                    on_progress=progress.advance,
                    worker_settings=settings,
                    should_stop=stop,
                )
        except NothingToSend as err:
            typer.echo(str(err), err=True)
            codes.append(err.exit_code)
            continue
        _print_report(report, label, schedule.day, list_slug, settings)
        if report.needs_attention:
            typer.echo(report.needs_attention, err=True)
        codes.append(1 if report.needs_attention else 0)
    if 1 in codes:
        raise typer.Exit(1)
    if not anyone_due:
        raise nobody_due
    if 0 not in codes:
        raise typer.Exit(3)


def _print_zones(trial: DryRunReport, publication_zone: str) -> None:
    """A dry run's readers per time zone, and the first addresses."""
    for zone, count in sorted(trial.zones.items(), key=lambda item: item[0] or ""):
        shown = zone or f"{publication_zone} (the publication's)"
        typer.echo(f"  {count:>8}  {shown}")
    if trial.sample:
        more = trial.total - len(trial.sample)
        typer.echo("  first: " + ", ".join(trial.sample) + (f" and {more} more" if more > 0 else ""))
