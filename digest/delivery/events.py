"""What a mail provider's events do: each is stored once against its delivery (for the statistics), and some
take the reader out: a hard bounce or a drop suppresses the address, a complaint too, an unsubscribe leaves
the list. Providers' routes verify and parse their requests into :class:`ProviderEvent`; this module is the
policy, the same for every provider. Functions here do not commit: the route owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from digest.counters import add_events
from digest.delivery.policy import refuses_the_address
from digest.delivery.queue import drop_queued_many
from digest.delivery.settle import settle_deliveries
from digest.driver import Driver
from digest.models import Delivery, DeliveryStatus
from subscribers.addresses import email_key
from subscribers.models import Subscriber, SubscriberStatus, utcnow
from subscribers.store import Actor, suppress_many, unsubscribe_many

# Events after which the address is never mailed again, and the subscriber status they set.
SUPPRESSING = {"bounce": SubscriberStatus.BOUNCED, "dropped": SubscriberStatus.BOUNCED}
COMPLAINT = "spamreport"
UNSUBSCRIBING = frozenset({"unsubscribe", "group_unsubscribe"})
# Who the consent log says made the change.
WEBHOOK = Actor(source="webhook")


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One event as a provider's route parsed it, in the vocabulary stored and counted by `digest stats`:
    delivered, open, click, bounce, dropped, spamreport, unsubscribe, group_unsubscribe ..."""

    #: The provider's id of the event: it is stored once, however often the provider posts it.
    event_id: str
    kind: str
    email: str | None
    at: datetime
    #: Our delivery id, sent with the message and given back by the provider.
    delivery_id: int | None
    #: A bounce the receiving server means for now (reputation, content), not a dead address.
    temporary: bool = False


@dataclass
class EventsResult:
    """What one webhook call did with its events."""

    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0
    invalid: int = 0


@dataclass(frozen=True, slots=True)
class _Delivery:
    id: int
    edition_id: int
    subscriber_id: int
    list_id: int
    uncertain: bool


def record_events(
    session: Session, events: Iterable[ProviderEvent], clock: Callable[[], datetime] = utcnow
) -> EventsResult:
    """Store each new event once and act on it: suppress, unsubscribe, count, settle an uncertain delivery the
    provider reports on (:mod:`digest.delivery.settle`). Idempotent; does not commit.

    A whole request takes a few statements whatever its size, each on the driver's cursor with its thousand
    values as one parameter (:mod:`digest.driver`): one look-up of the deliveries, one multi-row INSERT of
    the events (those already stored are left alone and act no more), one count for the counters, then one
    statement per kind of action for the few events that act.
    """
    result = EventsResult()
    unique: dict[str, ProviderEvent] = {}
    for event in events:
        if event.event_id in unique:
            result.duplicates += 1
        else:
            unique[event.event_id] = event
    driver = Driver(session)
    known = _known_deliveries(driver, {e.delivery_id for e in unique.values() if e.delivery_id is not None})
    now = clock()
    deliveries = {
        event.event_id: known.get(event.delivery_id) if event.delivery_id is not None else None
        for event in unique.values()
    }
    stored = _insert_new(driver, unique.values(), deliveries, now)
    fresh = [event for event in unique.values() if event.event_id in stored]
    result.recorded = len(fresh)
    result.duplicates += len(unique) - len(fresh)
    result.unmatched = sum(1 for event in fresh if deliveries[event.event_id] is None)
    add_events(
        driver,
        (
            (delivery.edition_id, delivery.id, event.kind)
            for event in fresh
            if (delivery := deliveries[event.event_id]) is not None
        ),
    )
    _act(session, [(event, deliveries[event.event_id]) for event in fresh if _acts(event)], now)
    # An uncertain delivery the provider reports on was taken by it: settled now, never resent. (One that
    # became uncertain since the look-up is settled by its edition's next run, which sees this event.)
    settle_deliveries(
        session,
        (delivery.id for event in fresh if (delivery := deliveries[event.event_id]) is not None and delivery.uncertain),
    )
    return result


def _insert_new(
    driver: Driver, events: Iterable[ProviderEvent], deliveries: dict[str, _Delivery | None], now: datetime
) -> set[str]:
    """Insert the events not stored yet, all in one statement; the ids of those inserted."""
    # A request's events share a handful of timestamps (SendGrid's are whole seconds): each converted once.
    stamps: dict[datetime, str] = {}
    rows = [
        (
            event.event_id,
            delivery.id if delivery else None,
            delivery.edition_id if delivery else None,
            event.kind,
            stamps[event.at] if event.at in stamps else stamps.setdefault(event.at, driver.json_timestamp(event.at)),
        )
        for event in events
        for delivery in (deliveries[event.event_id],)
    ]
    if not rows:
        return set()
    given = driver.rows(_EVENT_COLUMNS)
    inserted = driver.execute(
        "INSERT INTO delivery_event (event_id, delivery_id, edition_id, event, occurred_at, received_at) "
        f"SELECT event_id, delivery_id, edition_id, event, occurred_at, ? FROM {given} AS given "
        # WHERE true: SQLite would read ON CONFLICT as a join's ON without a WHERE before it.
        "WHERE true ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        [driver.timestamp(now), json.dumps(rows)],
    )
    return {event_id for (event_id,) in inserted}


_EVENT_COLUMNS = (
    ("event_id", "varchar"),
    ("delivery_id", "bigint"),
    ("edition_id", "bigint"),
    ("event", "varchar"),
    ("occurred_at", "timestamptz"),
)


def _known_deliveries(driver: Driver, ids: set[int]) -> dict[int, _Delivery]:
    """The deliveries among ``ids`` that exist, with their edition's list and whether they are uncertain."""
    if not ids:
        return {}
    rows = driver.execute(
        "SELECT d.id, d.edition_id, d.subscriber_id, e.list_id, d.status = ? "
        f"FROM delivery d JOIN edition e ON e.id = d.edition_id WHERE {driver.among('d.id')}",
        [DeliveryStatus.UNCERTAIN.value, driver.ids(ids)],
    )
    return {row[0]: _Delivery(row[0], row[1], row[2], row[3], bool(row[4])) for row in rows}


def _acts(event: ProviderEvent) -> bool:
    """Whether the event changes anything for the reader."""
    return (event.kind in SUPPRESSING and not event.temporary) or event.kind == COMPLAINT or event.kind in UNSUBSCRIBING


def _act(session: Session, events: list[tuple[ProviderEvent, _Delivery | None]], now: datetime) -> None:
    """What the events change for their readers: suppression (bounce, drop, complaint) or unsubscription,
    one statement per kind of change, in the order the events came (a later event's reason wins)."""
    if not events:
        return
    readers = _subscribers(session, events)
    reasons: dict[str, str] = {}
    leaving: dict[tuple[int | None, str], list[int]] = {}
    for event, delivery in events:
        reader = readers.get(delivery.subscriber_id) if delivery else readers.get(email_key(event.email or ""))
        if reader is None:
            continue
        subscriber_id, email = reader
        if event.kind == COMPLAINT:
            reasons[email] = SubscriberStatus.COMPLAINED
        elif event.kind in SUPPRESSING:
            reasons[email] = SUPPRESSING[event.kind]
        else:
            leaving.setdefault((delivery.list_id if delivery else None, event.kind), []).append(subscriber_id)
    suppress_many(session=session, reasons=reasons, now=now)
    for (list_id, kind), subscriber_ids in leaving.items():
        unsubscribe_many(
            session=session, subscriber_ids=subscriber_ids, list_id=list_id, actor=WEBHOOK, now=now, detail=kind
        )
        drop_queued_many(session, subscriber_ids=subscriber_ids, list_id=list_id)


def _subscribers(
    session: Session, events: list[tuple[ProviderEvent, _Delivery | None]]
) -> dict[int | str, tuple[int, str]]:
    """The events' readers as (id, address), keyed by id (events of our deliveries) and by address key
    (the others, matched on the address the provider gives): two queries at most."""
    ids = {delivery.subscriber_id for _, delivery in events if delivery}
    keys = {email_key(event.email) for event, delivery in events if delivery is None and event.email}
    found: dict[int | str, tuple[int, str]] = {}
    if ids:
        for subscriber_id, email in session.execute(
            sql_select(col(Subscriber.id), col(Subscriber.email)).where(col(Subscriber.id).in_(ids))
        ):
            found[subscriber_id] = (subscriber_id, email)
    if keys:
        for subscriber_id, email, key in session.execute(
            sql_select(col(Subscriber.id), col(Subscriber.email), col(Subscriber.email_key)).where(
                col(Subscriber.email_key).in_(keys)
            )
        ):
            found[key] = (subscriber_id, email)
    return found


def suppress_refused_addresses(
    session: Session, failures: Iterable[tuple[Iterable[int], str | None]], now: datetime
) -> int:
    """Suppress (as bounced) the readers of the deliveries whose SMTP refusal says their address is dead
    (:func:`digest.delivery.policy.refuses_the_address`): ``failures`` are (delivery ids, error) of the failed
    deliveries of a batch. Returns how many addresses were suppressed; does not commit."""
    refused = [delivery_id for ids, error in failures if refuses_the_address(error) for delivery_id in ids]
    if not refused:
        return 0
    emails = session.execute(
        sql_select(col(Subscriber.email))
        .join(Delivery, col(Delivery.subscriber_id) == col(Subscriber.id))
        .where(col(Delivery.id).in_(refused))
    ).scalars()
    reasons: dict[str, str] = {email: SubscriberStatus.BOUNCED for email in emails}
    suppress_many(session=session, reasons=reasons, now=now)
    return len(reasons)
