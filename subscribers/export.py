"""Export a list's subscribers as CSV: preferences, status, consent dates and sources, one row per subscriber.

The header is the file's marker: :mod:`subscribers.importer` recognises an export by its ``status`` and
``subscribed_at`` columns and restores every reader as they were (status, consent dates and sources,
preferences), instead of reading the file as a plain list of addresses.
"""

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
    "timezone",
    "list",
    "status",
    "frequency",
    "format",
    "paused_until",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
    # The subscription's own status (``status`` above shows a bounced or complained reader as such), and how
    # each consent act was made (web, cli, import, webhook): restored by the import, as evidence.
    "list_status",
    "subscribed_source",
    "confirmed_source",
    "unsubscribed_source",
)
#: The columns that make a CSV one of our exports (see :func:`subscribers.importer.import_csv`).
#: Exports written before ``list_status`` existed carry them too, and are restored (list status from the dates).
MARKER = ("status", "subscribed_at")
# A cell starting with one of these runs as a formula in spreadsheets (CSV injection): it gets a leading
# apostrophe, which spreadsheets hide and `digest subscribers import` removes again. A value that itself
# starts with an apostrophe gets one too, so that removing it gives the value back exactly.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED = (*FORMULA_START, "'")


def safe_cell(value: str) -> str:
    """``value`` made inert for spreadsheets."""
    return "'" + value if value.startswith(_ESCAPED) else value


def unsafe_cell(value: str) -> str:
    """The value :func:`safe_cell` protected, restored."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_ESCAPED) else value


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
                _text(row.timezone),
                list_slug,
                row.status,
                row.frequency,
                row.format,
                _text(row.paused_until),
                _text(row.subscribed_at),
                _text(row.confirmed_at),
                _text(row.unsubscribed_at),
                row.list_status,
                _text(row.subscribed_source),
                _text(row.confirmed_source),
                _text(row.unsubscribed_source),
            ]
        )
        count += 1
    return count
