"""Send an edition through the delivery ledger: enqueue, claim batches, hand them to a backend, record.

Every reader has at most one Delivery row per edition (a unique constraint), so a send can be repeated or
resumed without mailing anyone twice. A crashed run leaves rows in ``sending``; the next run marks them
``uncertain`` (the provider may have them) and never resends them unless asked.
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import CursorResult, Engine, and_, exists, func, insert, literal, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from digest.edition import parse_sections, variant_key
from digest.errors import DigestError, EditionError, MailError, NothingToSend
from digest.links import Links
from digest.mail.base import Batch, Content, MailBackend, Recipient, sender_address
from digest.models import Delivery, DeliveryStatus, Edition, EditionStatus, EditionVariant
from subscribers.models import MailingList, Subscriber, Subscription, utcnow
from subscribers.store import eligible_subscribers

Clock = Callable[[], datetime]
LEASE = timedelta(minutes=10)


@dataclass
class SendReport:
    """What one `digest send` did, and where the edition stands afterwards."""

    newly_queued: int = 0
    made_uncertain: int = 0
    this_run: Counter[str] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """True when no delivery of the edition is waiting or in flight."""
        return not self.totals[DeliveryStatus.QUEUED] and not self.totals[DeliveryStatus.SENDING]


@contextmanager
def sqlite_send_lock(engine: Engine) -> Iterator[None]:
    """On SQLite, one `digest send` at a time: a second one stops with a clear message.

    The lock is an OS file lock beside the database, released by the kernel even when the process is killed,
    so holding it also proves that rows left in ``sending`` belong to a dead run.
    """
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    path = Path(database).with_name(Path(database).name + ".send-lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise DigestError(f"already sending: another `digest send` holds {path}") from err
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def enqueue(session: Session, edition: Edition, day_of_edition: datetime) -> int:
    """Insert, in one statement, a queued Delivery for every eligible reader who has none yet.

    Who is eligible is decided in one place, :func:`subscribers.store.eligible_subscribers`.
    """
    readers = eligible_subscribers(list_id=edition.list_id, day=edition.date).subquery()
    eligible = sql_select(
        literal(edition.id),
        readers.c.id,
        literal(DeliveryStatus.QUEUED.value),
        literal(0),
        literal(day_of_edition),
    ).where(~exists().where(and_(col(Delivery.edition_id) == edition.id, col(Delivery.subscriber_id) == readers.c.id)))
    statement = insert(Delivery).from_select(
        ["edition_id", "subscriber_id", "status", "attempts", "created_at"], eligible
    )
    result = session.execute(statement)
    session.commit()
    return _rowcount(result)


def _rowcount(result: object) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


def _count_by_status(session: Session, edition_id: int) -> Counter[str]:
    rows = session.exec(
        select(Delivery.status, func.count()).where(Delivery.edition_id == edition_id).group_by(col(Delivery.status))
    ).all()
    return Counter({status: count for status, count in rows})


def _mark_orphans_uncertain(session: Session, edition_id: int, now: datetime, *, all_in_flight: bool) -> int:
    condition = [col(Delivery.edition_id) == edition_id, col(Delivery.status) == DeliveryStatus.SENDING]
    if not all_in_flight:
        condition.append(col(Delivery.lease_until) < now)
    result = session.execute(
        update(Delivery)
        .where(*condition)
        .values(status=DeliveryStatus.UNCERTAIN, error="interrupted while sending: the provider may have it")
    )
    session.commit()
    return _rowcount(result)


def _claim(session: Session, edition_id: int, size: int, now: datetime) -> list[int]:
    pick = (
        select(Delivery.id)
        .where(Delivery.edition_id == edition_id, Delivery.status == DeliveryStatus.QUEUED)
        .order_by(col(Delivery.id))
        .limit(size)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claimed = session.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(pick.scalar_subquery()))
        .values(status=DeliveryStatus.SENDING, lease_until=now + LEASE, attempts=col(Delivery.attempts) + 1)
        .returning(col(Delivery.id))
    )
    ids = [row[0] for row in claimed]
    session.commit()
    return ids


@dataclass(frozen=True, slots=True)
class _Reader:
    delivery_id: int
    subscriber_id: int
    email: str
    name: str | None
    language: str | None
    format: str
    sections: str | None


def _readers(session: Session, edition: Edition, ids: list[int]) -> list[_Reader]:
    rows = session.execute(
        sql_select(
            col(Delivery.id),
            col(Subscriber.id),
            col(Subscriber.email),
            col(Subscriber.name),
            col(Subscriber.language),
            col(Subscription.format),
            col(Subscription.sections),
        )
        .join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id))
        .join(
            Subscription,
            and_(
                col(Subscription.subscriber_id) == col(Subscriber.id),
                col(Subscription.list_id) == edition.list_id,
            ),
        )
        .where(col(Delivery.id).in_(ids))
        .order_by(col(Delivery.id))
    ).all()
    return [_Reader(*row) for row in rows]


def _record(session: Session, updates: list[tuple[int, str, str | None, str | None]], now: datetime) -> None:
    for delivery_id, status, provider_id, error in updates:
        session.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id)
            .values(
                status=status,
                provider_id=provider_id,
                error=error,
                lease_until=None,
                sent_at=now if status == DeliveryStatus.SENT else None,
            )
        )
    session.commit()


def send_edition(
    *,
    engine: Engine,
    edition_id: int,
    backend: MailBackend,
    links: Links,
    sender: str,
    default_language: str,
    batch_size: int = 500,
    retry_uncertain: bool = False,
    force: bool = False,
    clock: Clock = utcnow,
    on_progress: Callable[[int, int], None] | None = None,
) -> SendReport:
    """Deliver the edition to every eligible reader who does not have it yet, batch after batch.

    Raises EditionError for a draft (unless ``force``) and NothingToSend when every reader already has it.
    """
    report = SendReport()
    with sqlite_send_lock(engine), Session(engine) as session:
        edition = session.get(Edition, edition_id)
        if edition is None:
            raise EditionError(f"no edition with id {edition_id}")
        if edition.status == EditionStatus.DRAFT and not force:
            raise EditionError(
                f"the {edition.date} edition is a draft: approve it (`digest approve --date {edition.date}`) "
                "or set DIGEST_AUTO_APPROVE=1"
            )
        mailing_list = session.get(MailingList, edition.list_id)
        assert mailing_list is not None and edition.id is not None
        variants = {
            v.key: v for v in session.exec(select(EditionVariant).where(EditionVariant.edition_id == edition.id))
        }
        now = clock()
        # On SQLite the send lock proves no other sender lives: every row still `sending` is an orphan.
        report.made_uncertain = _mark_orphans_uncertain(
            session, edition.id, now, all_in_flight=engine.dialect.name == "sqlite"
        )
        if retry_uncertain:
            session.execute(
                update(Delivery)
                .where(col(Delivery.edition_id) == edition.id, col(Delivery.status) == DeliveryStatus.UNCERTAIN)
                .values(status=DeliveryStatus.QUEUED)
            )
            session.commit()
        report.newly_queued = enqueue(session, edition, now)
        before = _count_by_status(session, edition.id)
        waiting = before[DeliveryStatus.QUEUED]
        if not waiting:
            report.totals = before
            if not before[DeliveryStatus.SENDING]:
                _finish(session, edition, now)
            raise NothingToSend(
                f"the {edition.date} edition of {mailing_list.slug} was already sent to everyone "
                f"({before[DeliveryStatus.SENT]} sent, {before[DeliveryStatus.FAILED]} failed, "
                f"{before[DeliveryStatus.UNCERTAIN]} uncertain)"
            )
        edition.status = EditionStatus.SENDING
        session.add(edition)
        session.commit()
        list_header = f"{mailing_list.name} <{mailing_list.slug}.{_domain(sender)}>"
        done = 0
        while ids := _claim(session, edition.id, batch_size, clock()):
            groups: dict[tuple[str, str], list[_Reader]] = defaultdict(list)
            for reader in _readers(session, edition, ids):
                language = reader.language or default_language
                # The reader's language and sections, else all sections in their language, else the default.
                candidates = (variant_key(language, parse_sections(reader.sections)), variant_key(language))
                key = next((k for k in candidates if k in variants), variant_key(default_language))
                groups[(key, reader.format)].append(reader)
            updates: list[tuple[int, str, str | None, str | None]] = []
            for (key, fmt), readers in groups.items():
                variant = variants[key]
                batch = Batch(
                    content=Content(
                        subject=variant.subject,
                        html=None if fmt == "text" else variant.html,
                        text=variant.text,
                    ),
                    recipients=[
                        Recipient(
                            email=r.email,
                            name=r.name,
                            delivery_id=r.delivery_id,
                            fields=links.reader_fields(r.subscriber_id, edition.list_id),
                        )
                        for r in readers
                    ],
                    sender=sender,
                    list_id=list_header,
                    now=clock(),
                    edition_key=f"{edition.date.isoformat()}.{mailing_list.slug}",
                    categories=(mailing_list.slug, edition.date.isoformat()),
                    custom_args={"edition_id": str(edition.id)},
                )
                try:
                    results = backend.send_batch(batch)
                except MailError as err:
                    report.errors.append(str(err))
                    updates.extend((r.delivery_id, DeliveryStatus.FAILED, None, str(err)) for r in readers)
                    continue
                for result in results:
                    assert result.recipient.delivery_id is not None
                    status = DeliveryStatus.SENT if result.ok else DeliveryStatus.FAILED
                    updates.append((result.recipient.delivery_id, status, result.provider_id, result.error))
            _record(session, updates, clock())
            report.this_run.update(status for _, status, _, _ in updates)
            done += len(ids)
            if on_progress:
                on_progress(done, waiting)
        report.totals = _count_by_status(session, edition.id)
        if report.finished:
            _finish(session, edition, clock())
    return report


def _finish(session: Session, edition: Edition, now: datetime) -> None:
    if edition.status != EditionStatus.SENT:
        edition.status = EditionStatus.SENT
        edition.sent_at = now
        session.add(edition)
        session.commit()


def _domain(sender: str) -> str:
    return sender_address(sender).domain
