"""The span of time an edition covers, and the edition dates the command line accepts: pure, clock passed in.

``rolling`` (the morning edition): the edition of day D ends when it is built, if built on D, else at the
cutoff (06:00 local by default) on D; it starts where the list's previous edition ended, so no article falls
between two editions and none is in two. The first edition, or one after a gap of more than
``MAX_GAP``, starts ``FIRST_SPAN`` before its end. ``calendar``: midnight to midnight local (an evening
edition, or replaying a past day): :func:`digest.selection.calendar_window`.

A weekly edition covers the 7 days ending where a daily edition of its date would end (:func:`week_window`).

Once stored with an edition, a window is never computed again: a rebuild keeps it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

WindowMode = Literal["rolling", "calendar"]
#: (start, end), aware; as digest.selection takes it.
Window = tuple[datetime, datetime]
# A first edition, or one whose previous edition ended longer ago than MAX_GAP, covers this much.
FIRST_SPAN = timedelta(hours=24)
MAX_GAP = timedelta(hours=48)
WEEK = timedelta(days=7)


def rolling_window(
    *,
    day: date,
    now: datetime,
    tz: tzinfo,
    cutoff: time,
    previous_end: datetime | None,
    end: datetime | None = None,
) -> Window:
    """The rolling window of the edition of ``day`` built at ``now``, in ``tz`` (module docstring for the rules).

    ``previous_end`` is where the list's previous edition ended (None: there is none). A previous edition
    ending after this one's end (a past day rebuilt later) gives an empty window rather than repeat its
    articles. ``end``, when given, is the window's end whatever ``now`` (delivery at each reader's local hour:
    the earliest zone's hour, which may be on the publication's day before).
    """
    end = end.astimezone(tz) if end is not None else rolling_end(day=day, now=now, tz=tz, cutoff=cutoff)
    if previous_end is None or end - previous_end > MAX_GAP:
        return end - FIRST_SPAN, end
    return min(previous_end, end).astimezone(tz), end


def rolling_end(*, day: date, now: datetime, tz: tzinfo, cutoff: time) -> datetime:
    """Where a rolling window of ``day`` built at ``now`` ends: ``now`` on ``day`` itself, else its cutoff."""
    return now.astimezone(tz) if now.astimezone(tz).date() == day else datetime.combine(day, cutoff, tzinfo=tz)


def week_window(end: datetime) -> Window:
    """The week a weekly edition covers: the 7 days (local wall-clock days, in ``end``'s zone) up to ``end``."""
    return end - WEEK, end


def parse_day(value: str, today: date) -> date:
    """An edition date as the command line takes it: ``today``, ``yesterday`` or YYYY-MM-DD.

    ValueError says what is accepted.
    """
    word = value.strip().lower()
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(value.strip())
    except ValueError as err:
        raise ValueError(f"{value!r} is not a date: use today, yesterday or YYYY-MM-DD like 2025-11-27") from err


def parse_cutoff(value: str) -> time:
    """A local time of day written HH:MM (``DIGEST_EDITION_CUTOFF``); ValueError says what is wrong."""
    try:
        parsed = time.fromisoformat(value.strip())
    except ValueError as err:
        raise ValueError(f"not a time like 06:00 (got {value!r})") from err
    if parsed.tzinfo is not None:
        raise ValueError(f"a local time without offset, like 06:00 (got {value!r})")
    return parsed
