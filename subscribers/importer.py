"""Import subscribers from CSV: one outcome per row; a bad row is reported, never fatal.

Set-based: rows are validated in Python, then each chunk costs a handful of SQL statements (look up, insert
many, update many), not one ORM object per row, so 100k rows import in seconds.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, islice
from typing import Any

from sqlalchemy import DateTime, Table, insert, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, SQLModel, col

from digest.errors import DigestError, SubscriberError
from subscribers.addresses import email_hash, email_key, legacy_email_hash, normalize_email
from subscribers.admission import Source, admit
from subscribers.export import HEADER as EXPORT_HEADER
from subscribers.export import unsafe_cell
from subscribers.inputs import check_text
from subscribers.models import (
    ConsentEvent,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    new_token_secret,
    utcnow,
)
from subscribers.store import check_language, join_sections

COLUMNS = ("email", "name", "language", "sections")
# Columns `digest subscribers export` writes besides COLUMNS: accepted so an export imports back, but ignored
# (status and consent dates come from the readers' own actions, never from a file).
EXPORT_ONLY = tuple(name for name in EXPORT_HEADER if name not in COLUMNS)
# Headers as French and Arabic spreadsheets name the columns, and common spellings of "email".
ALIASES = {
    "e-mail": "email",
    "mail": "email",
    "courriel": "email",
    "البريد الإلكتروني": "email",
    "nom": "name",
    "الاسم": "name",
    "langue": "language",
    "اللغة": "language",
    "rubriques": "sections",
}
OUTCOMES = ("added", "updated", "unchanged", "invalid", "refused", "duplicate")
CHUNK = 2000


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What happened to one CSV row (line numbers count the header as line 1)."""

    line: int
    email: str
    outcome: str
    reason: str = ""


@dataclass
class ImportReport:
    """Every row's outcome and the totals per outcome."""

    rows: list[RowOutcome] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        """How many rows were added, updated, unchanged, invalid, refused or duplicated."""
        return Counter(row.outcome for row in self.rows)


@dataclass(slots=True)
class _Row:
    line: int
    email: str
    key: str
    name: str | None
    language: str | None
    sections: str | None


def _parse(reader: csv.DictReader[str], report: ImportReport) -> Iterator[_Row]:
    """Valid rows, first occurrence of each address only; every other row gets its outcome in ``report``."""
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        raw_email = (row.get("email") or "").strip()
        try:
            if None in row:
                raise SubscriberError(f"{len(reader.fieldnames or []) + len(row[None])} fields, header has fewer")
            address = normalize_email(raw_email)
            name = unsafe_cell((row.get("name") or "").strip()) or None
            if name is not None:
                check_text(name, "name", max_length=200)
            language = check_language((row.get("language") or "").strip().lower() or None)
            sections = join_sections(unsafe_cell(row.get("sections") or "").split(";"))
        except SubscriberError as err:
            report.rows.append(RowOutcome(line, raw_email, "invalid", str(err)))
            continue
        key = email_key(address)
        if key in seen:
            report.rows.append(RowOutcome(line, address, "duplicate", f"same address as line {seen[key]}"))
            continue
        seen[key] = line
        yield _Row(line, address, key, name, language, sections)


def _column(name: str) -> str:
    name = name.strip().lower()
    return ALIASES.get(name, name)


def _delimiter(header: str) -> str:
    """The file's delimiter, found by its header: a comma, or the semicolon that Excel writes where the comma
    is the decimal mark (French, Arabic locales), or a tab."""
    for delimiter in (",", ";", "\t"):
        if "email" in (_column(name.strip('"\ufeff ')) for name in header.split(delimiter)):
            return delimiter
    return ","


def import_csv(
    lines: Iterable[str],
    *,
    session: Session,
    mailing_list: MailingList,
    confirmed: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Subscribe every row of a CSV (header: email[,name,language,sections]) to ``mailing_list``.

    Fields are separated by commas, semicolons or tabs (whichever the header uses); French and Arabic column
    names (courriel, nom, langue, rubriques...) are read as their English ones. Sections inside one cell
    are separated by ``;`` (in a semicolon file, quote that cell). Re-importing the same file changes nothing.
    Addresses that are suppressed (bounced, complained, erased) or that unsubscribed from the list are refused,
    with the reason (:mod:`subscribers.admission`). An empty cell leaves what is stored unchanged. The whole
    file is one transaction, which the caller commits.
    """
    now = now or utcnow()
    lines = iter(lines)
    first = next(lines, "")
    reader = csv.DictReader(chain([first], lines), delimiter=_delimiter(first))
    header = [_column(name) for name in (reader.fieldnames or [])]
    if "email" not in header:
        raise DigestError(f"CSV header must have an 'email' column (found: {', '.join(header) or 'nothing'})")
    unknown = [name for name in header if name not in COLUMNS + EXPORT_ONLY]
    if unknown:
        raise DigestError(f"CSV header has unknown columns {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    reader.fieldnames = header
    report = ImportReport()
    assert mailing_list.id is not None
    rows = _parse(reader, report)
    while chunk := list(islice(rows, CHUNK)):
        _import_chunk(session, chunk, mailing_list.id, confirmed, now, report)
    session.flush()
    report.rows.sort(key=lambda outcome: outcome.line)
    return report


def _insert_many(
    session: Session, model: type[SQLModel], columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """INSERT ``rows`` (values in the order of ``columns``) in one executemany, straight to the driver.

    SQLAlchemy's executemany converts every value of every row in Python, which halves the import speed;
    the values here are plain strings, numbers and one timestamp, so they are converted once by the caller
    (:func:`_stamp`) and handed to the driver as they are.
    """
    if not rows:
        return
    table = getattr(model, "__table__", None)
    assert isinstance(table, Table)
    connection = session.connection()
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(columns))
    if not compiled.positional:
        connection.exec_driver_sql(compiled.string, [dict(zip(columns, row, strict=True)) for row in rows])
        return
    order = [columns.index(key) for key in compiled.positiontup or []]
    if order != list(range(len(columns))):
        rows = [tuple(row[i] for i in order) for row in rows]
    connection.exec_driver_sql(compiled.string, rows)


def _stamp(session: Session, value: datetime) -> Any:
    """``value`` as the driver stores it for a timezone-aware DateTime column (a string on SQLite)."""
    dialect = session.connection().dialect
    processor = dialect.type_descriptor(DateTime(timezone=True)).bind_processor(dialect)
    return processor(value) if processor else value


def _import_chunk(
    session: Session, chunk: list[_Row], list_id: int, confirmed: bool, now: datetime, report: ImportReport
) -> None:
    stamp = _stamp(session, now)
    hashes = {email_hash(row.email): row for row in chunk}
    # An erasure from before the upgrade of the keys is stored under its legacy hash (Suppression.legacy_key).
    legacy = {legacy_email_hash(row.email): primary for primary, row in hashes.items()}
    suppressed: dict[str, str] = {}
    for stored, reason, legacy_key in session.execute(
        sql_select(col(Suppression.email_hash), col(Suppression.reason), col(Suppression.legacy_key)).where(
            col(Suppression.email_hash).in_([*hashes, *legacy])
        )
    ):
        if stored in hashes:
            suppressed[stored] = reason
        elif legacy_key:
            suppressed.setdefault(legacy[stored], reason)
    existing = {
        r.email_key: r
        for r in session.execute(
            sql_select(
                col(Subscriber.id),
                col(Subscriber.email_key),
                col(Subscriber.name),
                col(Subscriber.language),
                col(Subscriber.status),
            ).where(col(Subscriber.email_key).in_([row.key for row in chunk]))
        )
    }
    # The known readers' subscriptions to the list, read before deciding: who may be added is the same
    # decision as for one reader (subscribers.admission), taken row by row on what was read in bulk.
    subscriptions = {
        r.subscriber_id: r
        for r in session.execute(
            sql_select(
                col(Subscription.id),
                col(Subscription.subscriber_id),
                col(Subscription.status),
                col(Subscription.sections),
            ).where(
                col(Subscription.list_id) == list_id,
                col(Subscription.subscriber_id).in_([found.id for found in existing.values()]),
            )
        )
    }
    accepted: list[_Row] = []
    for digest_, row in hashes.items():
        found = existing.get(row.key)
        current = subscriptions.get(found.id) if found else None
        decision = admit(
            source=Source.IMPORT,
            email=row.email,
            suppressed=suppressed.get(digest_),
            subscriber_status=found.status if found else None,
            subscription_status=current.status if current else None,
        )
        if decision.reason is not None:
            report.rows.append(RowOutcome(row.line, row.email, "refused", decision.reason))
        else:
            accepted.append(row)

    new_rows = [row for row in accepted if row.key not in existing]
    ids: dict[str, int] = {row.key: existing[row.key].id for row in accepted if row.key in existing}
    if new_rows:
        active = SubscriberStatus.ACTIVE.value
        _insert_many(
            session,
            Subscriber,
            ("email", "email_key", "name", "language", "status", "created_at", "token_secret"),
            [(row.email, row.key, row.name, row.language, active, stamp, new_token_secret()) for row in new_rows],
        )
        # Read the new ids back in one query: RETURNING with many rows goes row by row on SQLite.
        inserted = session.execute(
            sql_select(col(Subscriber.email_key), col(Subscriber.id)).where(
                col(Subscriber.email_key).in_([row.key for row in new_rows])
            )
        )
        ids.update({key: id_ for key, id_ in inserted})
    changed_people: set[str] = set()
    person_updates: list[dict[str, Any]] = []
    for row in accepted:
        found = existing.get(row.key)
        if found is None:
            continue
        person = {
            attr: getattr(row, attr)
            for attr in ("name", "language")
            if getattr(row, attr) is not None and getattr(row, attr) != getattr(found, attr)
        }
        if person:
            person_updates.append({"id": found.id, **person})
            changed_people.add(row.key)
    if person_updates:
        session.execute(update(Subscriber), person_updates)

    # Plain strings hoisted out of the loop: enum lookups per row are measurable at 100k rows.
    status = (SubscriptionStatus.ACTIVE if confirmed else SubscriptionStatus.PENDING).value
    pending = SubscriptionStatus.PENDING.value
    confirmed_at = stamp if confirmed else None
    by_publisher = "confirmed by the publisher"
    new_subscriptions: list[tuple[Any, ...]] = []
    subscription_updates: list[dict[str, Any]] = []
    events: list[tuple[Any, ...]] = []
    for row in accepted:
        subscriber_id = ids[row.key]
        current = subscriptions.get(subscriber_id)
        if current is None:
            new_subscriptions.append(
                (subscriber_id, list_id, status, row.sections, "daily", "html", confirmed_at, stamp, stamp)
            )
            events.append((subscriber_id, list_id, "subscribe", "import", None, stamp))
            if confirmed:
                events.append((subscriber_id, list_id, "confirm", "import", by_publisher, stamp))
            report.rows.append(RowOutcome(row.line, row.email, "added"))
            continue
        values: dict[str, Any] = {}
        if row.sections is not None and row.sections != current.sections:
            values["sections"] = row.sections
        if confirmed and current.status == pending:
            values.update(status=status, confirmed_at=now)
            events.append((subscriber_id, list_id, "confirm", "import", by_publisher, stamp))
        if values:
            subscription_updates.append({"id": current.id, "updated_at": now, **values})
        outcome = "updated" if values or row.key in changed_people else "unchanged"
        report.rows.append(RowOutcome(row.line, row.email, outcome))
    _insert_many(
        session,
        Subscription,
        (
            "subscriber_id",
            "list_id",
            "status",
            "sections",
            "frequency",
            "format",
            "confirmed_at",
            "created_at",
            "updated_at",
        ),
        new_subscriptions,
    )
    if subscription_updates:
        session.execute(update(Subscription), subscription_updates)
    _insert_many(session, ConsentEvent, ("subscriber_id", "list_id", "kind", "source", "detail", "at"), events)
