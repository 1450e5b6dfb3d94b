"""What a mail provider's events do: each is stored once against its delivery (for the statistics), and some
take the reader out: a hard bounce or a drop suppresses the address, a complaint too, an unsubscribe leaves
the list. Providers' routes verify and parse their requests into :class:`ProviderEvent`; this module is the
policy, the same for every provider. Functions here do not commit: the route owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from digest.counters import add_event
from digest.delivery.policy import refuses_the_address
from digest.delivery.queue import drop_queued
from digest.models import Delivery, DeliveryEvent, Edition
from subscribers.models import Subscriber, SubscriberStatus, utcnow
from subscribers.store import Actor, find_subscriber, suppress, unsubscribe

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


def record_events(
    session: Session, events: Iterable[ProviderEvent], clock: Callable[[], datetime] = utcnow
) -> EventsResult:
    """Store each new event once and act on it: suppress, unsubscribe, count. Idempotent; does not commit."""
    result = EventsResult()
    events = list(events)
    known = _known_deliveries(session, {e.delivery_id for e in events if e.delivery_id is not None})
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for event in events:
        delivery = known.get(event.delivery_id) if event.delivery_id is not None else None
        statement = (
            insert(DeliveryEvent)
            .values(
                event_id=event.event_id,
                delivery_id=delivery.id if delivery else None,
                edition_id=delivery.edition_id if delivery else None,
                event=event.kind,
                occurred_at=event.at,
                received_at=clock(),
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(col(DeliveryEvent.id))
        )
        if session.execute(statement).first() is None:
            result.duplicates += 1
            continue
        result.recorded += 1
        if delivery is None:
            result.unmatched += 1
        else:
            add_event(session, edition_id=delivery.edition_id, delivery_id=delivery.id, kind=event.kind)
        _act(session, event, delivery, clock())
    return result


def _known_deliveries(session: Session, ids: set[int]) -> dict[int, _Delivery]:
    """The deliveries among ``ids`` that exist, with their edition's list."""
    if not ids:
        return {}
    rows = session.exec(
        select(Delivery.id, Delivery.edition_id, Delivery.subscriber_id, Edition.list_id)
        .join(Edition, col(Edition.id) == col(Delivery.edition_id))
        .where(col(Delivery.id).in_(ids))
    ).all()
    return {row[0]: _Delivery(*row) for row in rows if row[0] is not None}


def _act(session: Session, event: ProviderEvent, delivery: _Delivery | None, now: datetime) -> None:
    """What the event changes for the reader: suppression (bounce, drop, complaint) or unsubscription."""
    subscriber = _subscriber(session, event, delivery)
    if subscriber is None or subscriber.id is None:
        return
    if event.kind in SUPPRESSING and not event.temporary:
        suppress(session=session, email=subscriber.email, reason=SUPPRESSING[event.kind], now=now)
    elif event.kind == COMPLAINT:
        suppress(session=session, email=subscriber.email, reason=SubscriberStatus.COMPLAINED, now=now)
    elif event.kind in UNSUBSCRIBING:
        left = delivery.list_id if delivery else None
        unsubscribe(
            session=session, subscriber_id=subscriber.id, list_id=left, actor=WEBHOOK, now=now, detail=event.kind
        )
        drop_queued(session, subscriber_id=subscriber.id, list_id=left)


def _subscriber(session: Session, event: ProviderEvent, delivery: _Delivery | None) -> Subscriber | None:
    if delivery is not None:
        return session.get(Subscriber, delivery.subscriber_id)
    if event.email:
        return find_subscriber(session=session, email=event.email)
    return None


def suppress_refused_addresses(
    session: Session, failures: Iterable[tuple[Iterable[int], str | None]], now: datetime
) -> int:
    """Suppress (as bounced) the readers of the deliveries whose SMTP refusal says their address is dead
    (:func:`digest.delivery.policy.refuses_the_address`): ``failures`` are (delivery ids, error) of the failed
    deliveries of a batch. Returns how many addresses were suppressed; does not commit."""
    refused = [delivery_id for ids, error in failures if refuses_the_address(error) for delivery_id in ids]
    if not refused:
        return 0
    emails = session.exec(
        select(Subscriber.email)
        .join(Delivery, col(Delivery.subscriber_id) == col(Subscriber.id))
        .where(col(Delivery.id).in_(refused))
    ).all()
    for email in emails:
        suppress(session=session, email=email, reason=SubscriberStatus.BOUNCED, now=now)
    return len(emails)
