"""The queue of one edition's deliveries: enqueue its readers, settle what earlier runs left in flight,
put uncertain deliveries back on request (see :mod:`digest.delivery.settle`), count by status. The
per-batch statements are in :mod:`digest.delivery.ledger`.

Every reader has at most one Delivery row per edition (a unique constraint), so a send can be repeated or
resumed without mailing anyone twice. A crashed run leaves rows in ``sending``; the next run marks them
``uncertain`` (the provider may have them) and never resends them unless asked.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, CursorResult, Delete, bindparam, delete, func, literal, text, true
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from digest.counters import set_delivery_counts
from digest.delivery.liveness import settle_orphans
from digest.delivery.policy import SendOptions
from digest.delivery.settle import requeue_unsettled, settle_edition
from digest.errors import EditionError
from digest.models import Delivery, DeliveryStatus, Edition, EditionStatus
from subscribers import prepared
from subscribers.driver import Driver
from subscribers.eligibility import eligible_subscribers
from subscribers.models import Subscriber, Subscription

# PostgreSQL's memory for the enqueue's sort, this transaction only.
ENQUEUE_WORK_MEM = "128MB"


def enqueue(
    session: Session, edition: Edition, day_of_edition: datetime, zones: frozenset[str | None] | None = None
) -> int:
    """Insert, in one statement, a queued Delivery for every eligible reader who has none yet (only those of
    the stored time ``zones``, None meaning the publication's, when given).

    Who is eligible is decided in one place, :func:`subscribers.eligibility.eligible_subscribers`.
    """
    choices = (col(Subscriber.language), col(Subscription.sections), col(Subscription.format))
    eligible_ids = eligible_subscribers(list_id=edition.list_id, day=edition.date, kind=edition.kind, timezones=zones)
    readers = eligible_ids.add_columns(*choices).subquery()
    eligible = (
        sql_select(
            literal(edition.id),
            readers.c.id,
            literal(DeliveryStatus.QUEUED.value),
            literal(0),
            literal(day_of_edition),
        )
        .where(true())  # SQLite reads "SELECT ... FROM x ON CONFLICT" as a join constraint without a WHERE
        # Readers who get the same variant get consecutive ids, so a claim (by id) holds few variants and each
        # provider request carries as many readers as it may: with readers in claim order, a claim of 1000
        # readers of three languages made three requests.
        .order_by(readers.c.language, readers.c.sections, readers.c.format, readers.c.id)
    )
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # The claim-order sort of a million readers (~50 MB) would spill to disk under the default 4 MB work_mem
        # (an external merge, a fifth of the enqueue); this transaction's sort gets the memory it needs.
        session.execute(text(f"SET LOCAL work_mem = '{ENQUEUE_WORK_MEM}'"))
    # Readers who already have a delivery are skipped by the unique (edition, subscriber) pair. A NOT EXISTS
    # anti-join did the same but PostgreSQL, told the table is empty, rescans the growing table for every
    # reader (quadratic: 29 s for 60k readers); and concurrent senders simply wait for each other here.
    statement = (
        prepared.database_insert(session.get_bind().dialect, Delivery)
        .from_select(["edition_id", "subscriber_id", "status", "attempts", "created_at"], eligible)
        .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
    )
    result = session.execute(statement)
    session.commit()
    return rowcount(result)


def rowcount(result: object) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


def count_by_status(session: Session, edition_id: int) -> Counter[str]:
    rows = session.exec(
        select(Delivery.status, func.count()).where(Delivery.edition_id == edition_id).group_by(col(Delivery.status))
    ).all()
    return Counter({status: count for status, count in rows})


class Prepared(NamedTuple):
    """What settling and enqueueing did before a send."""

    made_uncertain: int
    requeued_uncertain: int
    newly_queued: int
    #: Deliveries waiting in the queue.
    waiting: int
    #: Uncertain deliveries ``--retry-uncertain`` left alone: too recent for the provider's events to be in.
    uncertain_waiting: int = 0
    #: Uncertain deliveries a provider event settled.
    settled_by_events: int = 0


def prepare(session: Session, edition: Edition, options: SendOptions, now: datetime) -> Prepared:
    """Settle what earlier runs left, enqueue new readers.

    Rows a dead sender left ``sending`` become uncertain (:func:`settle_orphans`; the caller holds its own
    sender lock); uncertain rows a provider event explains are settled; with ``options.retry_uncertain``
    the rest go back in the queue, those that left less than ``options.uncertain_settle`` ago excepted when
    the provider reports events.
    """
    assert edition.id is not None
    if edition.status == EditionStatus.DRAFT and not options.force:
        raise EditionError(
            f"the {edition.date} edition is a draft: approve it (`digest approve --date {edition.date}`) "
            "or set DIGEST_AUTO_APPROVE=1"
        )
    made_uncertain = settle_orphans(session, edition.id, now)
    settled = settle_edition(session, edition.id)
    session.commit()
    requeued = waiting_uncertain = 0
    if options.retry_uncertain:
        plan = requeue_unsettled(session, edition.id, now=now, settle=options.uncertain_settle or timedelta(0))
        session.commit()
        requeued, waiting_uncertain = plan.retry, plan.waiting
    before = count_by_status(session, edition.id).total()
    enqueue(session, edition, now, options.zones)
    after = count_by_status(session, edition.id)
    set_delivery_counts(session, edition.id, after)
    session.commit()
    # Counted rather than taken from the INSERT's rowcount, which psycopg reports as -1 for INSERT ... SELECT.
    return Prepared(
        made_uncertain,
        requeued,
        after.total() - before,
        after[DeliveryStatus.QUEUED],
        waiting_uncertain,
        settled,
    )


def left_behind(session: Session, edition: Edition, zones: frozenset[str | None]) -> int:
    """How many eligible readers of the stored time ``zones`` (None: the publication's) have no delivery of
    the edition: those whose local hour passed too long ago are skipped, and counted with this."""
    if not zones:
        return 0
    readers = eligible_subscribers(
        list_id=edition.list_id, day=edition.date, kind=edition.kind, timezones=zones
    ).subquery()
    delivered = (
        sql_select(literal(1))
        .where(col(Delivery.edition_id) == edition.id, col(Delivery.subscriber_id) == readers.c.id)
        .exists()
    )
    return int(session.execute(sql_select(func.count()).select_from(readers).where(~delivered)).scalar_one())


def queued_by_zone(session: Session, edition_id: int) -> Counter[str | None]:
    """The edition's queued deliveries by their reader's stored time zone (None: the publication's)."""
    rows = session.execute(
        sql_select(col(Subscriber.timezone), func.count())
        .join(Delivery, col(Delivery.subscriber_id) == col(Subscriber.id))
        .where(col(Delivery.edition_id) == edition_id, col(Delivery.status) == DeliveryStatus.QUEUED)
        .group_by(col(Subscriber.timezone))
    ).all()
    return Counter({zone: count for zone, count in rows})


def finish(session: Session, edition: Edition, now: datetime, options: SendOptions | None = None) -> None:
    """Mark the edition sent (once), unless ``options`` says some time zone's turn is still to come."""
    if options is not None and not options.last_turn:
        return
    if edition.status != EditionStatus.SENT:
        edition.status = EditionStatus.SENT
        edition.sent_at = now
        session.add(edition)
        session.commit()


# Built once, and run on the driver (subscribers.prepared): one-click unsubscribe runs this on every request,
# and building the ORM-enabled DELETE cost a third of the request.
_DROP_QUEUED = delete(Delivery).where(
    col(Delivery.subscriber_id) == bindparam("reader"),
    col(Delivery.status) == DeliveryStatus.QUEUED,
)
_DROP_QUEUED_OF_LIST = _DROP_QUEUED.where(
    col(Delivery.edition_id).in_(sql_select(col(Edition.id)).where(col(Edition.list_id) == bindparam("left_list")))
)
# Indexed by "every list".
_DROPPED = {True: prepared.Prepared(_DROP_QUEUED), False: prepared.Prepared(_DROP_QUEUED_OF_LIST)}


def drop_queued(connection: Connection, *, subscriber_id: int, list_id: int | None) -> None:
    """Take a reader who left ``list_id`` (None: every list) off the queues of its editions; sent ones stay.

    Called after :func:`subscribers.store.unsubscribe`, in the same transaction. A send under way would skip
    the reader anyway; this keeps an interrupted edition's counts true. Does not commit.
    """
    _DROPPED[list_id is None].execute(connection, {"reader": subscriber_id, "left_list": list_id})


def drop_queued_statement(*, every_list: bool) -> Delete:
    """The DELETE :func:`drop_queued` runs (parameters ``reader``, and ``left_list`` unless ``every_list``), for a
    caller that joins it to the unsubscription in one statement (:mod:`digest.leaving`)."""
    return _DROP_QUEUED if every_list else _DROP_QUEUED_OF_LIST


def drop_queued_many(driver: Driver, *, subscriber_ids: list[int], list_id: int | None) -> None:
    """:func:`drop_queued` for many readers who left the same list (None: every list), in one statement on the
    driver's cursor (the ids as one parameter)."""
    if not subscriber_ids:
        return
    of_list = "" if list_id is None else " AND edition_id IN (SELECT id FROM edition WHERE list_id = ?)"
    driver.execute(
        f"DELETE FROM delivery WHERE {driver.among('subscriber_id')} AND status = ?{of_list}",
        [driver.ids(subscriber_ids), DeliveryStatus.QUEUED.value, *([] if list_id is None else [list_id])],
    )
