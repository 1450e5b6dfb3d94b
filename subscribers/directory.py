"""The editor's view of readers: find them by address or name, and take one back on a list for a stated reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from digest.errors import SubscriberError
from subscribers.models import ConsentEvent, Subscriber, SubscriberStatus, Subscription, SubscriptionStatus, utcnow
from subscribers.store import Actor, _set_status

SEARCH_MAX = 50
QUERY_MAX = 200
REASON_MAX = 300


def search_readers(*, session: Session, query: str, limit: int = SEARCH_MAX) -> list[Subscriber]:
    """Readers whose address or name holds ``query`` (case ignored), by address; none for a blank query."""
    wanted = " ".join(query.split())[:QUERY_MAX].casefold()
    if not wanted:
        return []
    matches = or_(
        col(Subscriber.email_key).contains(wanted, autoescape=True),
        func.lower(col(Subscriber.name)).contains(wanted, autoescape=True),
    )
    return list(session.exec(select(Subscriber).where(matches).order_by(col(Subscriber.email_key)).limit(limit)))


def consent_log(*, session: Session, subscriber_id: int, limit: int = 100) -> list[ConsentEvent]:
    """The reader's consent events, newest first."""
    return list(
        session.exec(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber_id)
            .order_by(col(ConsentEvent.at).desc(), col(ConsentEvent.id).desc())
            .limit(limit)
        )
    )


def resubscribe(
    *, session: Session, subscriber_id: int, list_id: int, actor: Actor, reason: str, now: datetime | None = None
) -> None:
    """Put a reader who left ``list_id`` back on it, logging ``reason`` (required: the reader's own request,
    by what means). A suppressed address (bounced, complained, erased) is never taken back. Does not commit."""
    reason = " ".join(reason.split())
    if not reason:
        raise SubscriberError("say why the reader is taken back (their request, and how it came)")
    if len(reason) > REASON_MAX:
        raise SubscriberError(f"the reason is longer than {REASON_MAX} characters")
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise SubscriberError(f"no reader {subscriber_id}")
    if subscriber.status != SubscriberStatus.ACTIVE:
        raise SubscriberError(f"{subscriber.email} is {subscriber.status}: it cannot be subscribed again")
    subscription = session.exec(
        select(Subscription).where(Subscription.subscriber_id == subscriber_id, Subscription.list_id == list_id)
    ).first()
    if subscription is None or subscription.status != SubscriptionStatus.UNSUBSCRIBED:
        raise SubscriberError(f"{subscriber.email} has not left this list")
    _set_status(
        session,
        subscription,
        SubscriptionStatus.ACTIVE,
        kind="subscribe",
        actor=actor,
        now=now or utcnow(),
        detail=f"taken back by an editor: {reason}",
    )
    session.flush()
