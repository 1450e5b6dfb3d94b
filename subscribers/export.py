"""Export a list's subscribers as CSV: preferences, status and consent dates, one row per subscriber."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TextIO

from subscribers.store import SubscriberRow, split_sections

HEADER = (
    "email",
    "name",
    "language",
    "sections",
    "list",
    "status",
    "frequency",
    "format",
    "paused_until",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
)
# A cell starting with one of these runs as a formula in spreadsheets (CSV injection): it gets a leading
# apostrophe, which spreadsheets hide and `digest subscribers import` removes again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value`` made inert for spreadsheets."""
    return "'" + value if value.startswith(FORMULA_START) else value


def unsafe_cell(value: str) -> str:
    """The value :func:`safe_cell` protected, restored."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def _text(value: str | date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # SQLite hands timestamps back without their zone; the store writes them all in UTC.
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return safe_cell(value)


def write_export(handle: TextIO, rows: Iterable[SubscriberRow], *, list_slug: str) -> int:
    """Write the header and one line per row to ``handle``, streaming; returns the number of rows."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for row in rows:
        writer.writerow(
            [
                _text(row.email),
                _text(row.name),
                _text(row.language),
                _text(";".join(split_sections(row.sections))),
                list_slug,
                row.status,
                row.frequency,
                row.format,
                _text(row.paused_until),
                _text(row.subscribed_at),
                _text(row.confirmed_at),
                _text(row.unsubscribed_at),
            ]
        )
        count += 1
    return count
