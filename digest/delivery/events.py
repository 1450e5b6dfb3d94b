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
from typing import NamedTuple

from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from digest.counters import add_events
from digest.delivery.policy import refuses_the_address
from digest.delivery.queue import drop_queued_many
from digest.delivery.settle import settle_deliveries
from digest.models import Delivery, DeliveryStatus
from subscribers.addresses import email_key
from subscribers.driver import Driver
from subscribers.models import Subscriber, SubscriberStatus, utcnow
from subscribers.store import Actor, suppress_many, unsubscribe_many

# Events after which the address is never mailed again, and the subscriber status they set.
SUPPRESSING = {"bounce": SubscriberStatus.BOUNCED, "dropped": SubscriberStatus.BOUNCED}
COMPLAINT = "spamreport"
UNSUBSCRIBING = frozenset({"unsubscribe", "group_unsubscribe"})
# Who the consent log says made the change.
WEBHOOK = Actor(source="webhook")


class ProviderEvent(NamedTuple):
    """One event as a provider's route parsed it, in the vocabulary stored and counted by `digest stats`:
    delivered, open, click, bounce, dropped, spamreport, unsubscribe, group_unsubscribe ...

    A named tuple: a webhook request makes a thousand, and a frozen dataclass takes three times as long to
    build."""

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
    email: str


def record_events(
    session: Session, events: Iterable[ProviderEvent], clock: Callable[[], datetime] = utcnow
) -> EventsResult:
    """Store each new event once and act on it: suppress, unsubscribe, count, settle an uncertain delivery the
    provider reports on (:mod:`digest.delivery.settle`). Idempotent; does not commit.

    A whole request takes a few statements whatever its size, each on the driver's cursor with its thousand
    values as one parameter (:mod:`subscribers.driver`): one multi-row INSERT of the events, matched to their
    deliveries as they go in (those already stored are left alone and act no more), one count for the
    counters, one look-up of the uncertain deliveries among them, then one statement per kind of action for
    the few events that act.
    """
    result = EventsResult()
    unique: dict[str, ProviderEvent] = {}
    for event in events:
        if event.event_id in unique:
            result.duplicates += 1
        else:
            unique[event.event_id] = event
    driver = Driver(session)
    now = clock()
    # (event id, delivery id, edition id, kind) of each event stored now; no delivery when we know none.
    fresh = _insert_new(driver, unique.values(), now)
    result.recorded = len(fresh)
    result.duplicates += len(unique) - len(fresh)
    result.unmatched = sum(1 for _, delivery_id, _, _ in fresh if delivery_id is None)
    matched = [
        (edition_id, delivery_id, kind)
        for _, delivery_id, edition_id, kind in fresh
        if delivery_id is not None and edition_id is not None
    ]
    add_events(driver, matched)
    acting = [unique[event_id] for event_id, _, _, kind in fresh if kind in _ACTING and _acts(unique[event_id])]
    if acting:
        known = _known_deliveries(driver, {event.delivery_id for event in acting if event.delivery_id is not None})
        _act(driver, [(event, known.get(event.delivery_id or 0)) for event in acting], now)
    # An uncertain delivery the provider reports on was taken by it: settled now, never resent.
    settle_deliveries(session, _uncertain(driver, {delivery_id for _, delivery_id, _ in matched}))
    return result


#: An event stored: event id, delivery id, edition id (no delivery when we know none), kind.
_Stored = tuple[str, int | None, int | None, str]


def _insert_new(driver: Driver, events: Iterable[ProviderEvent], now: datetime) -> list[_Stored]:
    """Insert the events not stored yet, all in one statement, each with its delivery and edition when we
    know the delivery it names; (event id, delivery id, edition id, kind) of those inserted."""
    # A request's events share a handful of timestamps (SendGrid's are whole seconds): each converted once.
    stamps: dict[datetime, str] = {}
    rows = [
        (
            event.event_id,
            event.delivery_id,
            event.kind,
            stamps[event.at] if event.at in stamps else stamps.setdefault(event.at, driver.json_timestamp(event.at)),
        )
        for event in events
    ]
    if not rows:
        return []
    given = driver.rows(_EVENT_COLUMNS)
    return driver.execute(
        "INSERT INTO delivery_event (event_id, delivery_id, edition_id, event, occurred_at, received_at) "
        f"SELECT given.event_id, d.id, d.edition_id, given.event, given.occurred_at, ? FROM {given} AS given "
        "LEFT JOIN delivery AS d ON d.id = given.delivery_id "
        # WHERE true: SQLite would read ON CONFLICT as the join's ON without a WHERE before it.
        "WHERE true ON CONFLICT (event_id) DO NOTHING RETURNING event_id, delivery_id, edition_id, event",
        [driver.timestamp(now), json.dumps(rows)],
    )


def _uncertain(driver: Driver, delivery_ids: set[int]) -> list[int]:
    """The uncertain deliveries among ``delivery_ids`` (one statement; usually none)."""
    if not delivery_ids:
        return []
    # The status as a constant, not a parameter: only then may the database use the index of uncertain rows
    # (ix_delivery_uncertain; PostgreSQL's generic plan of a prepared statement, and SQLite, could not).
    rows = driver.execute(
        f"SELECT id FROM delivery WHERE status = '{DeliveryStatus.UNCERTAIN.value}' AND {driver.among('id')}",
        [driver.ids(delivery_ids)],
    )
    return [delivery_id for (delivery_id,) in rows]


_EVENT_COLUMNS = (
    ("event_id", "varchar"),
    ("delivery_id", "bigint"),
    ("event", "varchar"),
    ("occurred_at", "timestamptz"),
)


def _known_deliveries(driver: Driver, ids: set[int]) -> dict[int, _Delivery]:
    """The deliveries among ``ids`` that exist, with their reader (and address) and their edition's list."""
    if not ids:
        return {}
    rows = driver.execute(
        "SELECT d.id, d.edition_id, d.subscriber_id, e.list_id, s.email FROM delivery d "
        "JOIN edition e ON e.id = d.edition_id JOIN subscriber s ON s.id = d.subscriber_id "
        f"WHERE {driver.among('d.id')}",
        [driver.ids(ids)],
    )
    return {row[0]: _Delivery(*row) for row in rows}


# The kinds of event that may act (see _acts).
_ACTING = frozenset({*SUPPRESSING, COMPLAINT, *UNSUBSCRIBING})


def _acts(event: ProviderEvent) -> bool:
    """Whether the event changes anything for the reader."""
    return (event.kind in SUPPRESSING and not event.temporary) or event.kind == COMPLAINT or event.kind in UNSUBSCRIBING


def _act(driver: Driver, events: list[tuple[ProviderEvent, _Delivery | None]], now: datetime) -> None:
    """What the events change for their readers: suppression (bounce, drop, complaint) or unsubscription,
    one statement per kind of change, in the order the events came (a later event's reason wins). The reader
    of an event for one of our deliveries is that delivery's; of another, the subscriber with its address."""
    strangers = _subscribers_by_key(
        driver, {email_key(event.email) for event, known in events if known is None and event.email}
    )
    reasons: dict[str, str] = {}
    leaving: dict[tuple[int | None, str], list[int]] = {}
    for event, delivery in events:
        if delivery is not None:
            subscriber_id, email = delivery.subscriber_id, delivery.email
        elif (found := strangers.get(email_key(event.email or ""))) is not None:
            subscriber_id, email = found
        else:
            continue
        if event.kind == COMPLAINT:
            reasons[email] = SubscriberStatus.COMPLAINED
        elif event.kind in SUPPRESSING:
            reasons[email] = SUPPRESSING[event.kind]
        else:
            leaving.setdefault((delivery.list_id if delivery else None, event.kind), []).append(subscriber_id)
    suppress_many(session=driver.session, reasons=reasons, now=now)
    for (list_id, kind), subscriber_ids in leaving.items():
        unsubscribe_many(
            session=driver.session,
            subscriber_ids=subscriber_ids,
            list_id=list_id,
            actor=WEBHOOK,
            now=now,
            detail=kind,
        )
        drop_queued_many(driver, subscriber_ids=subscriber_ids, list_id=list_id)


def _subscribers_by_key(driver: Driver, keys: set[str]) -> dict[str, tuple[int, str]]:
    """The subscribers whose address key is among ``keys``, as (id, address) by key: the readers of events
    for no delivery of ours, matched on the address the provider gives."""
    if not keys:
        return {}
    rows = driver.execute(
        f"SELECT id, email, email_key FROM subscriber WHERE {driver.among('email_key', 'text')}", [driver.keys(keys)]
    )
    return {key: (subscriber_id, email) for subscriber_id, email, key in rows}


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
