"""The edition window: the span of time an edition covers, as two aware datetimes ``[start, end)``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

Window = tuple[datetime, datetime]


def calendar_window(day: date, tz: tzinfo) -> Window:
    """Midnight to midnight of ``day`` in ``tz`` (a day with a clock change lasts 23 or 25 hours)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def check_window(window: Window) -> Window:
    """``window`` itself, or ValueError when its ends are naive or out of order."""
    start, end = window
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the edition window needs timezone-aware datetimes")
    if not start.astimezone(UTC) < end.astimezone(UTC):
        raise ValueError(f"the edition window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return window


def in_window(moment: datetime, window: Window) -> bool:
    """True when ``moment`` falls in ``[start, end)``, compared as instants (in UTC: datetimes sharing a
    tzinfo would otherwise compare their wall-clock times, wrong across a clock change)."""
    return window[0].astimezone(UTC) <= moment.astimezone(UTC) < window[1].astimezone(UTC)
