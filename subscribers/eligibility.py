"""Who gets an edition: the one definition of an eligible reader, as a query the sender builds on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, exists, or_
from sqlalchemy import select as sql_select
from sqlmodel import Session, col

from digest.errors import SubscriberError
from subscribers.models import Subscriber, SubscriberStatus, Subscription, SubscriptionStatus, Suppression
from subscribers.sections import Sections

# The frequencies that receive each kind of edition: daily readers the daily editions, weekly readers the
# weekly round-ups, and readers who chose "both" both.
RECEIVING = {"daily": ("daily", "both"), "weekly": ("weekly", "both")}


def frequencies_for(kind: str) -> tuple[str, ...]:
    """The frequencies that receive editions of ``kind`` (``daily`` or ``weekly``; see RECEIVING)."""
    try:
        return RECEIVING[kind]
    except KeyError:
        raise SubscriberError(f"no such edition kind {kind!r}: use daily or weekly") from None


def eligible_subscribers(*, list_id: int, day: date, kind: str = "daily") -> Select[Any]:
    """The ids of the readers who get the edition of ``list_id`` for ``day`` of ``kind``, as a SELECT to embed.

    Eligible: subscription active and confirmed, subscriber active and not suppressed, not paused on
    ``day`` (paused_until is the day mail resumes), and a frequency that receives ``kind``.
    """
    # One indexed equality: with an OR of two matches the planners compared every reader with every
    # suppression (20,000 readers and 2,000 suppressions took 5 s on both databases).
    suppressed = exists().where(col(Suppression.email_key) == col(Subscriber.email_key))
    return (
        sql_select(col(Subscriber.id))
        .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        .where(
            col(Subscription.list_id) == list_id,
            col(Subscription.status) == SubscriptionStatus.ACTIVE,
            col(Subscription.confirmed_at).is_not(None),
            col(Subscriber.status) == SubscriberStatus.ACTIVE,
            or_(col(Subscription.paused_until).is_(None), col(Subscription.paused_until) <= day),
            col(Subscription.frequency).in_(frequencies_for(kind)),
            ~suppressed,
        )
    )


@dataclass(frozen=True, slots=True)
class EligibleReader:
    """One reader to mail, with what the sender needs to pick their variant."""

    subscriber_id: int
    email: str
    name: str | None
    language: str | None
    sections: list[str]
    format: str


def eligible_readers(
    *, session: Session, list_id: int, day: date, kind: str = "daily", batch: int = 1000
) -> Iterator[EligibleReader]:
    """The eligible readers of ``list_id`` for ``day``'s edition of ``kind``, streamed ``batch`` rows at a time,
    by id."""
    ids = eligible_subscribers(list_id=list_id, day=day, kind=kind).subquery()
    query = (
        sql_select(
            col(Subscriber.id),
            col(Subscriber.email),
            col(Subscriber.name),
            col(Subscriber.language),
            col(Subscription.sections),
            col(Subscription.format),
        )
        .join(
            Subscription,
            and_(col(Subscription.subscriber_id) == col(Subscriber.id), col(Subscription.list_id) == list_id),
        )
        .where(col(Subscriber.id).in_(sql_select(ids.c.id)))
        .order_by(col(Subscriber.id))
        .execution_options(yield_per=batch)
    )
    for row in session.execute(query):
        yield EligibleReader(row[0], row[1], row[2], row[3], list(Sections.parse(row[4])), row[5])
