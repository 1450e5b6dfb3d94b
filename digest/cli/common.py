"""What every command shares: the lazily built settings and engine, the error-to-exit-code wrapper, the
shared options and date parsing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from digest.errors import DigestError, NothingToSend

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from digest.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """What commands share: settings and engine, built on first use so `--help` never needs them."""

    def __init__(self, now: datetime | None = None) -> None:
        self._settings: Settings | None = None
        self._engine: Engine | None = None
        self._now = now

    def now(self) -> datetime:
        """The time of this run: the clock, or the instant given with the hidden ``--now`` (tests)."""
        return self._now or datetime.now(UTC)

    def pretend_now(self, moment: datetime) -> None:
        """Run as if at ``moment`` (`send --dry-run --now`): "today" and every clock reading follow it."""
        self._now = moment

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from digest.settings import load_settings

            settings = load_settings()
            if not settings.secret_key:
                from digest.db import make_engine, with_stored_secret

                # Without DIGEST_SECRET_KEY the key is in the database the settings name.
                self._engine = self._engine or make_engine(settings.database_url)
                settings = with_stored_secret(settings, self._engine)
            self._settings = settings
        return self._settings

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from digest.db import make_engine

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
        from digest.db import check_initialised

        check_initialised(self.engine)
        return self.engine


def state_of(ctx: typer.Context) -> State:
    """The command's shared state (made on first use)."""
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


def parse_date(state: State, value: str | None) -> date | None:
    """``value`` (today, yesterday or YYYY-MM-DD) as a date, or a usage error naming it."""
    from digest.window import parse_day

    if value is None:
        return None
    try:
        return parse_day(value, state.now().astimezone(state.settings.tz).date())
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--date") from err


DateOption = Annotated[
    str | None,
    typer.Option(
        "--date",
        help="Edition date: today, yesterday or YYYY-MM-DD (default: today in DIGEST_TIMEZONE).",
        show_default=False,
    ),
]


class Kind(StrEnum):
    """The kinds of edition ``--kind`` names (digest.models.EditionKind, without importing the models)."""

    DAILY = "daily"
    WEEKLY = "weekly"


KindOption = Annotated[
    Kind,
    typer.Option(
        "--kind",
        help="Edition kind: daily, or weekly (the week's round-up, dated DIGEST_WEEKLY_DAY).",
        case_sensitive=False,
    ),
]
ListOption = Annotated[str | None, typer.Option("--list", help="List slug (default: DIGEST_LIST).", show_default=False)]


def warn_on_stderr(message: str) -> None:
    """Show a warning on stderr (a broken source, a thin edition)."""
    typer.echo(message, err=True)


def day_of(state: State, value: str | None) -> date:
    """The edition day ``--date`` names, default today in the publication's timezone."""
    return parse_date(state, value) or state.now().astimezone(state.settings.tz).date()


def edition_day_of(state: State, value: str | None, kind: Kind) -> date:
    """The date of the edition of ``kind`` that ``--date`` names (default today in the publication's timezone).

    A weekly edition is dated DIGEST_WEEKLY_DAY: without ``--date`` on another day there is nothing to do
    (NothingToSend, exit 3: a daily cron line may run `digest send --kind weekly`); an explicit other day is
    a usage error naming the setting.
    """
    day = day_of(state, value)
    settings = state.settings
    if kind != Kind.WEEKLY or day.weekday() == settings.weekly_weekday:
        return day
    if value is None:
        raise NothingToSend(
            f"nothing to do: today ({day:%A} {day}) is not DIGEST_WEEKLY_DAY={settings.weekly_day}, "
            "the day weekly editions are built and sent"
        )
    raise typer.BadParameter(
        f"{day} is a {day:%A}: weekly editions are dated DIGEST_WEEKLY_DAY={settings.weekly_day}", param_hint="--date"
    )
