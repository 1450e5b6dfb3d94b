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
from itertools import islice
from typing import Any

from sqlalchemy import DateTime, Table, insert, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, SQLModel, col

from digest.errors import DigestError, SubscriberError
from subscribers.addresses import email_hash, email_key, normalize_email
from subscribers.export import HEADER as EXPORT_HEADER
from subscribers.export import unsafe_cell
from subscribers.models import (
    ConsentEvent,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    utcnow,
)
from subscribers.store import check_language, join_sections

COLUMNS = ("email", "name", "language", "sections")
# Columns `digest subscribers export` writes besides COLUMNS: accepted so an export imports back, but ignored
# (status and consent dates come from the readers' own actions, never from a file).
EXPORT_ONLY = tuple(name for name in EXPORT_HEADER if name not in COLUMNS)
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
            if name is not None and len(name) > 200:
                raise SubscriberError("name longer than 200 characters")
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


def import_csv(
    lines: Iterable[str],
    *,
    session: Session,
    mailing_list: MailingList,
    confirmed: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Subscribe every row of a CSV (header: email[,name,language,sections]) to ``mailing_list``.

    Sections inside one cell are separated by ``;``. Re-importing the same file changes nothing. Addresses
    that are suppressed (bounced, complained, erased) or that unsubscribed from the list are refused, with
    the reason. An empty cell leaves what is stored unchanged. The whole file is one transaction.
    """
    now = now or utcnow()
    reader = csv.DictReader(lines)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
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
    session.commit()
    report.rows.sort(key=lambda outcome: outcome.line)
    return report


def _insert_many(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) in one executemany, straight to the driver.

    SQLAlchemy's executemany converts every value of every row in Python, which halves the import speed;
    the values here are plain strings, numbers and one timestamp, so they are converted once by the caller
    (:func:`_stamp`) and handed to the driver as they are.
    """
    if not rows:
        return
    table = getattr(model, "__table__", None)
    assert isinstance(table, Table)
    connection = session.connection()
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=list(rows[0]))
    if compiled.positional:
        order = compiled.positiontup or []
        connection.exec_driver_sql(compiled.string, [tuple(row[key] for key in order) for row in rows])
    else:
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
    suppressed = dict(
        session.execute(
            sql_select(col(Suppression.email_hash), col(Suppression.reason)).where(
                col(Suppression.email_hash).in_(hashes)
            )
        ).all()
    )
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
    accepted: list[_Row] = []
    for digest_, row in hashes.items():
        found = existing.get(row.key)
        reason = suppressed.get(digest_) or (
            found.status if found and found.status != SubscriberStatus.ACTIVE else None
        )
        if reason:
            report.rows.append(RowOutcome(row.line, row.email, "refused", f"{row.email} is {reason}: not re-added"))
        else:
            accepted.append(row)

    new_rows = [row for row in accepted if row.key not in existing]
    ids: dict[str, int] = {row.key: existing[row.key].id for row in accepted if row.key in existing}
    if new_rows:
        _insert_many(
            session,
            Subscriber,
            [
                {
                    "email": row.email,
                    "email_key": row.key,
                    "name": row.name,
                    "language": row.language,
                    "status": SubscriberStatus.ACTIVE.value,
                    "created_at": stamp,
                }
                for row in new_rows
            ],
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

    subscriptions = {
        r.subscriber_id: r
        for r in session.execute(
            sql_select(
                col(Subscription.id),
                col(Subscription.subscriber_id),
                col(Subscription.status),
                col(Subscription.sections),
            ).where(col(Subscription.list_id) == list_id, col(Subscription.subscriber_id).in_(ids.values()))
        )
    }
    status = SubscriptionStatus.ACTIVE if confirmed else SubscriptionStatus.PENDING
    new_subscriptions: list[dict[str, Any]] = []
    subscription_updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row in accepted:
        subscriber_id = ids[row.key]
        current = subscriptions.get(subscriber_id)
        event = {"subscriber_id": subscriber_id, "list_id": list_id, "source": "import", "at": stamp}
        if current is None:
            new_subscriptions.append(
                {
                    "subscriber_id": subscriber_id,
                    "list_id": list_id,
                    "status": status.value,
                    "sections": row.sections,
                    "frequency": "daily",
                    "format": "html",
                    "confirmed_at": stamp if confirmed else None,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            events.append({**event, "kind": "subscribe"})
            if confirmed:
                events.append({**event, "kind": "confirm", "detail": "confirmed by the publisher"})
            report.rows.append(RowOutcome(row.line, row.email, "added"))
            continue
        if current.status == SubscriptionStatus.UNSUBSCRIBED:
            report.rows.append(
                RowOutcome(row.line, row.email, "refused", f"{row.email} unsubscribed from this list: not re-added")
            )
            continue
        values: dict[str, Any] = {}
        if row.sections is not None and row.sections != current.sections:
            values["sections"] = row.sections
        if confirmed and current.status == SubscriptionStatus.PENDING:
            values.update(status=SubscriptionStatus.ACTIVE.value, confirmed_at=now)
            events.append({**event, "kind": "confirm", "detail": "confirmed by the publisher"})
        if values:
            subscription_updates.append({"id": current.id, "updated_at": now, **values})
        outcome = "updated" if values or row.key in changed_people else "unchanged"
        report.rows.append(RowOutcome(row.line, row.email, outcome))
    if new_subscriptions:
        _insert_many(session, Subscription, new_subscriptions)
    if subscription_updates:
        session.execute(update(Subscription), subscription_updates)
    if events:
        _insert_many(session, ConsentEvent, [{"detail": None, "ip": None, "user_agent": None, **e} for e in events])
