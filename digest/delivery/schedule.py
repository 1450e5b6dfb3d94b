"""When each reader's edition is due, with ``DIGEST_DELIVERY_HOUR``: pure, ``now`` passed in, no database.

Every reader has a time zone (None: the publication's). The edition of date D is due in zone Z at the
delivery hour of D in Z, and stays due for ``late`` (``DIGEST_DELIVERY_LATE``); after that the zone's
readers are *late*: skipped and counted, never mailed a stale edition. A zone whose hour has not come is
*waiting*. `digest send`, run every 15 minutes, mails the readers of the zones due, so each gets the
edition between their hour and the next run.

The instant of a local hour, by zoneinfo's rules (PEP 495, ``fold=0``), in both directions of a clock change:

* an hour that does not exist that day (the spring-forward gap, e.g. 02:30 in Paris on the last Sunday of
  March) is read with the offset before the change, so it falls as long after the jump as the wall time is
  after the gap's start: 02:30 is delivered at 03:30 local;
* an hour that exists twice (the fall-back overlap, e.g. 02:30 in Paris on the last Sunday of October) is
  its first occurrence, the earlier instant.

A reader's edition is the one of their own local date: at one instant the readers due may need the
publication's yesterday, today or tomorrow edition (Pacific/Auckland's morning is the Casablanca evening
before). :func:`days_around` gives the dates to look at; those with a zone due are served.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Reader zones are at most 26 hours apart (UTC-12 to UTC+14): a reader's local date is within two days of
# the publication's, either side.
DAYS_AROUND = 2


class ZoneState(StrEnum):
    """Where a zone stands for one edition at one instant."""

    WAITING = "waiting"  # its hour has not come
    DUE = "due"  # its hour has come, at most ``late`` ago: mail its readers who have no delivery yet
    LATE = "late"  # its hour passed more than ``late`` ago: its readers without a delivery are skipped


@dataclass(frozen=True, slots=True)
class ZoneTurn:
    """One zone's turn for one edition: when it is due and where it stands at the schedule's ``now``."""

    #: The edition's date.
    day: date
    #: The readers' stored zone: an IANA key, or None for the publication's.
    zone: str | None
    #: The IANA key the readers' clock follows (``zone``, or the publication's).
    key: str
    due_at: datetime
    state: ZoneState


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """The turns of every zone for the edition of ``day`` at one instant."""

    day: date
    turns: tuple[ZoneTurn, ...]

    def zones(self, state: ZoneState) -> frozenset[str | None]:
        """The stored zones (None: the publication's) in ``state``."""
        return frozenset(turn.zone for turn in self.turns if turn.state is state)

    @property
    def first_due_at(self) -> datetime | None:
        """The earliest zone's hour: when the edition is built (its window ends then); None without zones."""
        return min((turn.due_at for turn in self.turns), default=None)

    @property
    def next_turn(self) -> ZoneTurn | None:
        """The next zone to become due, or None when every zone's hour has come."""
        waiting = [turn for turn in self.turns if turn.state is ZoneState.WAITING]
        return min(waiting, key=lambda turn: (turn.due_at, turn.key), default=None)

    @property
    def complete(self) -> bool:
        """True when every zone has had its turn (due or past it): the edition may be marked sent."""
        return all(turn.state is not ZoneState.WAITING for turn in self.turns)

    @property
    def started(self) -> bool:
        """True when at least one zone's hour has come."""
        return any(turn.state is not ZoneState.WAITING for turn in self.turns)


def _known(zone: str) -> bool:
    """True when zoneinfo has ``zone``. Inputs are checked when stored (subscribers.inputs.check_timezone); a
    zone written into the table some other way, or gone from a newer tz database, must not stop everyone's
    send: its readers follow the publication's clock."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_instant(day: date, hour: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``hour`` on ``day`` in ``zone``; a gap or an overlap as the module docstring says."""
    return datetime.combine(day, hour.replace(tzinfo=None, fold=0), tzinfo=zone).astimezone(UTC)


def zone_state(due_at: datetime, now: datetime, late: timedelta) -> ZoneState:
    """Where a zone due at ``due_at`` stands at ``now``: due from ``due_at`` to ``due_at + late`` included."""
    if now < due_at:
        return ZoneState.WAITING
    return ZoneState.DUE if now - due_at <= late else ZoneState.LATE


def day_schedule(
    *,
    day: date,
    hour: time,
    late: timedelta,
    now: datetime,
    zones: Iterable[str | None],
    publication_zone: str,
) -> DaySchedule:
    """The turn of each of ``zones`` (readers' stored zones; None is ``publication_zone``) for the edition of
    ``day`` delivered at ``hour`` local, at ``now`` (aware). A zone zoneinfo does not know follows the
    publication's clock (see :func:`_known`)."""
    turns = []
    for zone in sorted(set(zones), key=lambda each: each or ""):
        key = zone if zone and _known(zone) else publication_zone
        due_at = local_instant(day, hour, ZoneInfo(key))
        turns.append(ZoneTurn(day, zone, key, due_at, zone_state(due_at, now, late)))
    return DaySchedule(day, tuple(turns))


def days_around(now: datetime, publication_zone: str) -> list[date]:
    """The edition dates a reader somewhere may be on at ``now``: the publication's today, and
    ``DAYS_AROUND`` days either side, oldest first."""
    today = now.astimezone(ZoneInfo(publication_zone)).date()
    return [today + timedelta(days=offset) for offset in range(-DAYS_AROUND, DAYS_AROUND + 1)]


def next_turn(schedules: Iterable[DaySchedule]) -> ZoneTurn | None:
    """The first zone to become due among ``schedules`` (e.g. those of :func:`days_around`), or None."""
    waiting = (schedule.next_turn for schedule in schedules)
    return min((turn for turn in waiting if turn), key=lambda turn: (turn.due_at, turn.key), default=None)
