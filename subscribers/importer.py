"""Import subscribers from CSV: one outcome per row; a bad row is reported, never fatal.

Set-based: rows are validated in Python, then each chunk costs a handful of SQL statements (look up, insert
many, update many), not one ORM object per row, so 100k rows import in seconds.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import chain, islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from sqlalchemy import ARRAY, Date, Table, any_, bindparam, func, insert, literal_column, update
from sqlalchemy import select as sql_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, col

from digest.errors import DigestError, SubscriberError
from subscribers.addresses import key_hash, legacy_email_hash, normalize_email_and_key
from subscribers.admission import Source, admit
from subscribers.export import HEADER as EXPORT_HEADER
from subscribers.export import MARKER as EXPORT_MARKER
from subscribers.export import unsafe_cell
from subscribers.inputs import check_text, check_timezone
from subscribers.models import (
    ConsentEvent,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    new_token_secrets,
    utcnow,
)
from subscribers.prepared import timestamp_to_driver
from subscribers.store import FORMATS, FREQUENCIES, check_language, join_sections, suppress

if TYPE_CHECKING:
    from _csv import Reader

COLUMNS = ("email", "name", "language", "sections", "timezone")
# Columns `digest subscribers export` writes besides COLUMNS. A file carrying the export's marker columns is
# restored exactly (status, consent dates and sources, preferences); in any other file they are ignored.
EXPORT_ONLY = tuple(name for name in EXPORT_HEADER if name not in COLUMNS)
# Statuses an export's `status` column may show: the subscription's, or the reader's when not active.
LIST_STATUSES = tuple(status.value for status in SubscriptionStatus)
EXPORTED_STATUSES = (*LIST_STATUSES, SubscriberStatus.BOUNCED.value, SubscriberStatus.COMPLAINED.value)
# A consent source as the log writes it (web, cli, import, webhook...): a short lower-case word.
SOURCE_PATTERN = re.compile(r"[a-z]{1,16}")
RESTORED = "restored from an export"
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
    "time zone": "timezone",
    "fuseau horaire": "timezone",
    "المنطقة الزمنية": "timezone",
}
OUTCOMES = ("added", "updated", "unchanged", "invalid", "refused", "duplicate")
CHUNK = 2000


class RowOutcome(NamedTuple):
    """What happened to one CSV row (line numbers count the header as line 1). A named tuple: made for every
    row, it costs half a frozen dataclass."""

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


@dataclass(frozen=True, slots=True)
class _Restored:
    """What an export says of one reader beyond the plain columns: restored as it was."""

    reader_status: str
    list_status: str
    frequency: str
    format: str
    paused_until: date | None
    subscribed_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    subscribed_source: str
    confirmed_source: str
    unsubscribed_source: str


@dataclass(slots=True)
class _Row:
    line: int
    email: str
    key: str
    name: str | None
    language: str | None
    sections: str | None
    timezone: str | None = None
    restored: _Restored | None = None


def _choice(row: dict[str, str], column: str, allowed: Iterable[str], default: str) -> str:
    value = (row.get(column) or "").strip() or default
    if value not in allowed:
        raise SubscriberError(f"{column} {value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def _moment(row: dict[str, str], column: str) -> datetime | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise SubscriberError(f"{column} {value[:40]!r} is not an ISO 8601 time") from err
    # An export writes every time with its offset; one without is read as UTC, the store's clock.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _source(row: dict[str, str], column: str) -> str:
    value = (row.get(column) or "").strip() or Source.IMPORT.value
    if not SOURCE_PATTERN.fullmatch(value):
        raise SubscriberError(f"{column} {value[:40]!r} is not a consent source (web, cli, import...)")
    return value


def _restored(row: dict[str, str], now: datetime) -> _Restored:
    """The export's columns of one row, checked (a bad value makes the row invalid, never the file)."""
    shown = _choice(row, "status", EXPORTED_STATUSES, SubscriptionStatus.PENDING)
    confirmed_at = _moment(row, "confirmed_at")
    unsubscribed_at = _moment(row, "unsubscribed_at")
    if shown in LIST_STATUSES:
        guess = shown
    else:  # an export older than the list_status column: a bounced reader's list status, from the dates
        guess = SubscriptionStatus.UNSUBSCRIBED if unsubscribed_at else SubscriptionStatus.ACTIVE
    list_status = _choice(row, "list_status", LIST_STATUSES, guess)
    paused = (row.get("paused_until") or "").strip()
    try:
        paused_until = date.fromisoformat(paused) if paused else None
    except ValueError as err:
        raise SubscriberError(f"paused_until {paused[:40]!r} is not a date (YYYY-MM-DD)") from err
    return _Restored(
        reader_status=shown if shown not in LIST_STATUSES else SubscriberStatus.ACTIVE.value,
        list_status=list_status,
        frequency=_choice(row, "frequency", FREQUENCIES, "daily"),
        format=_choice(row, "format", FORMATS, "html"),
        paused_until=paused_until,
        subscribed_at=_moment(row, "subscribed_at") or now,
        confirmed_at=confirmed_at,
        unsubscribed_at=unsubscribed_at,
        subscribed_source=_source(row, "subscribed_source"),
        confirmed_source=_source(row, "confirmed_source"),
        unsubscribed_source=_source(row, "unsubscribed_source"),
    )


def _parse(rows: Reader, header: list[str], report: ImportReport, *, export: bool, now: datetime) -> Iterator[_Row]:
    """Valid rows, first occurrence of each address only; every other row gets its outcome in ``report``.

    ``rows`` come from csv.reader and are read as csv.DictReader reads them (blank lines skipped, a missing
    cell None, a column named twice its last cell), without DictReader's dict per row, which cost three times
    the parsing itself.
    """
    width = len(header)
    position = {name: index for index, name in enumerate(header)}
    at_email = position["email"]
    # A column the header lacks sits past every row: its cell is always missing.
    at_name, at_language, at_sections, at_timezone = (position.get(name, sys.maxsize) for name in COLUMNS[1:])
    seen: dict[str, int] = {}
    for fields in rows:
        while not fields:
            following = next(rows, None)
            if following is None:
                return
            fields = following
        line = rows.line_num
        count = len(fields)
        raw_email = fields[at_email].strip() if at_email < count else ""
        try:
            if count > width:
                raise SubscriberError(f"{count} fields, header has fewer")
            address, key = normalize_email_and_key(raw_email)
            name = unsafe_cell(fields[at_name].strip()) if at_name < count else ""
            if name:
                check_text(name, "name", max_length=200)
            language = fields[at_language].strip().lower() if at_language < count else ""
            if language:
                check_language(language)
            cell = fields[at_sections] if at_sections < count else ""
            sections = join_sections(unsafe_cell(cell).split(";")) if cell.strip() else None
            timezone = check_timezone(fields[at_timezone] if at_timezone < count else None)
            restored = _restored(_as_dict(header, fields), now) if export else None
        except SubscriberError as err:
            report.rows.append(RowOutcome(line, raw_email, "invalid", str(err)))
            continue
        if key in seen:
            report.rows.append(RowOutcome(line, address, "duplicate", f"same address as line {seen[key]}"))
            continue
        seen[key] = line
        yield _Row(line, address, key, name or None, language or None, sections, timezone, restored)


def _as_dict(header: list[str], fields: list[str]) -> dict[str, str]:
    """One row as csv.DictReader gives it (no more fields than ``header``): missing cells are None."""
    row: dict[str, Any] = dict(zip(header, fields, strict=False))
    for name in header[len(fields) :]:
        row[name] = None
    return row


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
    """Subscribe every row of a CSV (header: email[,name,language,sections,timezone]) to ``mailing_list``.

    Fields are separated by commas, semicolons or tabs (whichever the header uses); French and Arabic column
    names (courriel, nom, langue, rubriques...) are read as their English ones. Sections inside one cell
    are separated by ``;`` (in a semicolon file, quote that cell). Re-importing the same file changes nothing.
    Addresses that are suppressed (bounced, complained, erased) or that unsubscribed from the list are refused,
    with the reason (:mod:`subscribers.admission`). An empty cell leaves what is stored unchanged. The whole
    file is one transaction, which the caller commits.

    ``confirmed`` makes addresses new to the list active; it never changes a reader already stored. A file
    written by `digest subscribers export` (its header has the export's marker columns) is restored as it
    was: each reader's status, consent dates and sources, frequency, format and pause; ``confirmed`` does not
    apply to it (a reader the export shows pending stays pending), and nobody the export shows unsubscribed,
    bounced or complained becomes active.
    """
    now = now or utcnow()
    lines = iter(lines)
    first = next(lines, "")
    rows = csv.reader(chain([first], lines), delimiter=_delimiter(first))
    header = [_column(name) for name in next(rows, [])]
    if "email" not in header:
        raise DigestError(f"CSV header must have an 'email' column (found: {', '.join(header) or 'nothing'})")
    export = all(name in header for name in EXPORT_MARKER)
    unknown = [name for name in header if name not in COLUMNS + EXPORT_ONLY]
    if unknown:
        raise DigestError(f"CSV header has unknown columns {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    report = ImportReport()
    assert mailing_list.id is not None
    valid = _parse(rows, header, report, export=export, now=now)
    while chunk := list(islice(valid, CHUNK)):
        if export:
            _restore_chunk(session, chunk, mailing_list.id, now, report)
        else:
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
        reordered = itemgetter(*order)
        rows = [reordered(row) for row in rows]
    connection.exec_driver_sql(compiled.string, rows)


def _stamp(session: Session, value: datetime) -> Any:
    """``value`` as the driver stores it for a timezone-aware DateTime column (a string on SQLite)."""
    return timestamp_to_driver(session.connection().dialect)(value)


@dataclass(frozen=True, slots=True)
class _Stored:
    """What a chunk's addresses already have in the store, read in a few queries."""

    #: The reason a row's address is suppressed, by its email key.
    suppressed: dict[str, str]
    existing: dict[str, Any]
    subscriptions: dict[int, Any]


def _among(session: Session, column: Any, values: list[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``values``, sent as one parameter (a JSON array read by ``json_each`` on SQLite, an
    array on PostgreSQL): an expanding IN has SQLAlchemy name, render and bind each of a chunk's thousands of
    values in Python, a sixth of an import's time."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    listed: Any = sql_select(literal_column("value")).select_from(func.json_each(bindparam(None, json.dumps(values))))
    return column.in_(listed.scalar_subquery())


def _suppressions(session: Session, chunk: list[_Row]) -> dict[str, str]:
    """The reason each suppressed address of ``chunk`` is suppressed, by its email key."""
    connection = session.connection()
    # A store without suppressions (a new installation's first import) needs no address hashed.
    if connection.execute(sql_select(col(Suppression.email_hash)).limit(1)).first() is None:
        return {}
    hashes = {key_hash(row.key): row.key for row in chunk}
    # An erasure from before the upgrade of the keys is stored under its legacy hash (Suppression.legacy_key).
    # It differs from the key's hash only where case folding differs from the key (ß, ς, ligatures...).
    legacy = {legacy_email_hash(row.email): row.key for row in chunk if row.email.casefold() != row.key}
    suppressed: dict[str, str] = {}
    for stored, reason, legacy_key in connection.execute(
        sql_select(col(Suppression.email_hash), col(Suppression.reason), col(Suppression.legacy_key)).where(
            _among(session, col(Suppression.email_hash), [*hashes, *legacy])
        )
    ):
        if stored in hashes:
            suppressed[hashes[stored]] = reason
        elif legacy_key:
            suppressed.setdefault(legacy[stored], reason)
    return suppressed


def _lookup(session: Session, chunk: list[_Row], list_id: int) -> _Stored:
    # Plain Core queries on the session's connection: the ORM's handling of the rows they read is not needed.
    connection = session.connection()
    suppressed = _suppressions(session, chunk)
    existing = {
        r.email_key: r
        for r in connection.execute(
            sql_select(
                col(Subscriber.id),
                col(Subscriber.email_key),
                col(Subscriber.name),
                col(Subscriber.language),
                col(Subscriber.timezone),
                col(Subscriber.status),
            ).where(_among(session, col(Subscriber.email_key), [row.key for row in chunk]))
        )
    }
    if not existing:
        return _Stored(suppressed, existing, {})
    # The known readers' subscriptions to the list, read before deciding: who may be added is the same
    # decision as for one reader (subscribers.admission), taken row by row on what was read in bulk.
    subscriptions = {
        r.subscriber_id: r
        for r in connection.execute(
            sql_select(
                col(Subscription.id),
                col(Subscription.subscriber_id),
                col(Subscription.status),
                col(Subscription.sections),
                col(Subscription.frequency),
                col(Subscription.format),
                col(Subscription.paused_until),
            ).where(
                col(Subscription.list_id) == list_id,
                _among(session, col(Subscription.subscriber_id), [found.id for found in existing.values()]),
            )
        )
    }
    return _Stored(suppressed, existing, subscriptions)


def _admitted(chunk: list[_Row], stored: _Stored, report: ImportReport) -> list[_Row]:
    """The rows :func:`subscribers.admission.admit` lets in; the others are reported refused.

    One exception, for a restore: a reader an export shows bounced or complained, whose address is stored
    suppressed for that same reason, gets their other lists' subscriptions back (as an export of several
    lists restores them), which mails them nothing since the reader stays suppressed.
    """
    accepted: list[_Row] = []
    for row in chunk:
        found = stored.existing.get(row.key)
        current = stored.subscriptions.get(found.id) if found else None
        suppressed = stored.suppressed.get(row.key)
        decision = admit(
            source=Source.IMPORT,
            email=row.email,
            suppressed=suppressed,
            subscriber_status=found.status if found else None,
            subscription_status=current.status if current else None,
        )
        restores_as_it_was = (
            row.restored is not None
            and found is not None
            and current is None
            and suppressed == row.restored.reader_status == found.status
        )
        if decision.reason is not None and not restores_as_it_was:
            report.rows.append(RowOutcome(row.line, row.email, "refused", decision.reason))
        else:
            accepted.append(row)
    return accepted


def _add_people(session: Session, rows: list[_Row], stored: _Stored, stamps: list[Any]) -> dict[str, int]:
    """Insert the readers of ``rows`` not stored yet (created at ``stamps``, one per row); every row's id."""
    ids: dict[str, int] = {row.key: stored.existing[row.key].id for row in rows if row.key in stored.existing}
    new = [(row, stamp) for row, stamp in zip(rows, stamps, strict=True) if row.key not in stored.existing]
    if new:
        active = SubscriberStatus.ACTIVE.value
        before = _last_id(session)
        _insert_many(
            session,
            Subscriber,
            # In the table's order, so that the rows go to the driver as they are built.
            ("email", "email_key", "name", "language", "timezone", "status", "token_secret", "created_at"),
            [
                (row.email, row.key, row.name, row.language, row.timezone, active, secret, stamp)
                for (row, stamp), secret in zip(new, new_token_secrets(len(new)), strict=True)
            ],
        )
        ids.update(_new_ids(session, [row.key for row, _ in new], before))
    return ids


def _last_id(session: Session) -> int | None:
    """The largest reader id on SQLite (None elsewhere): what :func:`_new_ids` counts from."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return None
    return int(connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM subscriber").scalar_one())


def _new_ids(session: Session, keys: list[str], before: int | None) -> Iterable[tuple[str, int]]:
    """The ids of the readers just inserted in one statement, by their ``keys`` (in the order inserted).

    On SQLite, when the last id is ``before`` (the largest before the insert) plus one per reader, they are
    the ids in between, in order: AUTOINCREMENT gives each new row an id above every id the table ever had, and
    the import's transaction holds the database's write lock. Otherwise they are read back in one query
    (RETURNING with many rows goes row by row on SQLite; reading back was a tenth of an import).
    """
    connection = session.connection()
    if before is not None:
        last = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
        if last == before + len(keys):
            return zip(keys, range(before + 1, last + 1), strict=True)
    query = sql_select(col(Subscriber.email_key), col(Subscriber.id)).where(
        _among(session, col(Subscriber.email_key), keys)
    )
    return cast("list[tuple[str, int]]", connection.execute(query).all())  # a stored reader's id is never None


def _update_people(session: Session, rows: list[_Row], stored: _Stored) -> set[str]:
    """Store the new name, language and time zone of known readers; the keys of those that changed."""
    changed: set[str] = set()
    updates: list[dict[str, Any]] = []
    for row in rows:
        found = stored.existing.get(row.key)
        if found is None:
            continue
        person = {
            attr: getattr(row, attr)
            for attr in ("name", "language", "timezone")
            if getattr(row, attr) is not None and getattr(row, attr) != getattr(found, attr)
        }
        if person:
            updates.append({"id": found.id, **person})
            changed.add(row.key)
    if updates:
        session.execute(update(Subscriber), updates)
    return changed


def _day(session: Session, value: date | None) -> Any:
    """``value`` as the driver stores it for a Date column (a string on SQLite)."""
    if value is None:
        return None
    dialect = session.connection().dialect
    processor = dialect.type_descriptor(Date()).bind_processor(dialect)
    return processor(value) if processor else value


def _import_chunk(
    session: Session, chunk: list[_Row], list_id: int, confirmed: bool, now: datetime, report: ImportReport
) -> None:
    stamp = _stamp(session, now)
    stored = _lookup(session, chunk, list_id)
    subscriptions = stored.subscriptions
    accepted = _admitted(chunk, stored, report)
    ids = _add_people(session, accepted, stored, [stamp] * len(accepted))
    changed_people = _update_people(session, accepted, stored)

    # Plain strings hoisted out of the loop: enum lookups per row are measurable at 100k rows.
    status = (SubscriptionStatus.ACTIVE if confirmed else SubscriptionStatus.PENDING).value
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


SUBSCRIPTION_COLUMNS = (
    "subscriber_id",
    "list_id",
    "status",
    "sections",
    "frequency",
    "format",
    "paused_until",
    "confirmed_at",
    "created_at",
    "updated_at",
)
EVENT_COLUMNS = ("subscriber_id", "list_id", "kind", "source", "detail", "at")


def _restore_chunk(session: Session, chunk: list[_Row], list_id: int, now: datetime, report: ImportReport) -> None:
    """Restore the readers of an export: new ones as the export shows them (consent events at their dates,
    with their sources); known ones take the export's preferences and any act that takes them out
    (unsubscribed, bounced, complained), or their confirmation, never the reverse."""
    stamp = _stamp(session, now)
    stored = _lookup(session, chunk, list_id)
    accepted = _admitted(chunk, stored, report)
    restored = [(row, row.restored) for row in accepted if row.restored is not None]
    ids = _add_people(session, accepted, stored, [_stamp(session, r.subscribed_at) for _, r in restored])
    changed_people = _update_people(session, accepted, stored)
    new_subscriptions: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for row, r in restored:
        subscriber_id = ids[row.key]
        current = stored.subscriptions.get(subscriber_id)
        outcome = "updated" if row.key in changed_people else "unchanged"
        if current is None:
            confirmed_at = _stamp(session, r.confirmed_at) if r.confirmed_at else None
            subscribed_at = _stamp(session, r.subscribed_at)
            new_subscriptions.append(
                (
                    subscriber_id,
                    list_id,
                    r.list_status,
                    row.sections,
                    r.frequency,
                    r.format,
                    _day(session, r.paused_until),
                    confirmed_at,
                    subscribed_at,
                    stamp,
                )
            )
            events.append((subscriber_id, list_id, "subscribe", r.subscribed_source, RESTORED, subscribed_at))
            if confirmed_at is not None:
                events.append((subscriber_id, list_id, "confirm", r.confirmed_source, RESTORED, confirmed_at))
            outcome = "added"
        else:
            values: dict[str, Any] = {
                attr: value
                for attr, value in (
                    ("sections", row.sections),
                    ("frequency", r.frequency),
                    ("format", r.format),
                    ("paused_until", r.paused_until),
                )
                if value is not None and value != getattr(current, attr)
            }
            if r.list_status == SubscriptionStatus.UNSUBSCRIBED:
                values["status"] = r.list_status
            elif r.list_status == SubscriptionStatus.ACTIVE and current.status == SubscriptionStatus.PENDING:
                values.update(status=r.list_status, confirmed_at=r.confirmed_at or now)
                at = _stamp(session, r.confirmed_at or now)
                events.append((subscriber_id, list_id, "confirm", r.confirmed_source, RESTORED, at))
            if values:
                query = update(Subscription).where(col(Subscription.id) == current.id)
                session.execute(query.values(updated_at=now, **values))
                outcome = "updated"
        if r.list_status == SubscriptionStatus.UNSUBSCRIBED and (current is None or current.status != r.list_status):
            at = _stamp(session, r.unsubscribed_at or now)
            events.append((subscriber_id, list_id, "unsubscribe", r.unsubscribed_source, RESTORED, at))
        if r.reader_status != SubscriberStatus.ACTIVE:
            suppress(session=session, email=row.email, reason=r.reader_status, now=now)
            outcome = "added" if current is None else "updated"
        report.rows.append(RowOutcome(row.line, row.email, outcome))
    _insert_many(session, Subscription, SUBSCRIPTION_COLUMNS, new_subscriptions)
    _insert_many(session, ConsentEvent, EVENT_COLUMNS, events)
