"""Uncertain deliveries settled by what the provider said afterwards, and which of them may be sent again.

A delivery is ``uncertain`` when the provider may have it: the request left and no answer came, or the run
died with it in flight. SendGrid then reports, through the event webhook, every message it took (an event
carries our delivery id in ``custom_args``): such an event proves the provider had it, so the delivery
becomes ``sent`` (``dropped``: ``failed``, SendGrid refused it). ``--retry-uncertain`` resends only those
with no event at all once ``DIGEST_UNCERTAIN_SETTLE`` has passed since they left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, and_, exists, or_, update
from sqlmodel import Session, col, func, select

from digest.counters import add_outcomes
from digest.models import Delivery, DeliveryEvent, DeliveryStatus

# Events that only come for a message the provider took.
TAKEN_EVENTS = ("processed", "delivered", "deferred", "bounce", "open", "click")
# The provider took the request and refused the message: sending again would be refused again.
REFUSED_EVENTS = ("dropped",)


def _settle(session: Session, condition: object) -> int:
    settled = 0
    for events, status, error in (
        (TAKEN_EVENTS, DeliveryStatus.SENT, None),
        (REFUSED_EVENTS, DeliveryStatus.FAILED, "dropped by the provider"),
    ):
        seen = exists().where(col(DeliveryEvent.delivery_id) == col(Delivery.id), col(DeliveryEvent.event).in_(events))
        editions = Counter(
            session.execute(
                update(Delivery)
                .where(condition, col(Delivery.status) == DeliveryStatus.UNCERTAIN, seen)  # type: ignore[arg-type]
                .values(status=status, error=error)
                .returning(col(Delivery.edition_id))
                .execution_options(synchronize_session=False)
            ).scalars()
        )
        # The dashboard's counters move with the deliveries: one less uncertain, one more sent (or failed).
        add_outcomes(
            session,
            [(edition, status.value, n) for edition, n in editions.items()]
            + [(edition, DeliveryStatus.UNCERTAIN.value, -n) for edition, n in editions.items()],
        )
        settled += editions.total()
    return settled


def settle_deliveries(session: Session, delivery_ids: Iterable[int]) -> int:
    """Settle the uncertain deliveries among ``delivery_ids`` that have a provider event; how many (not
    committed)."""
    ids = list(dict.fromkeys(delivery_ids))
    if not ids:
        return 0
    return _settle(session, col(Delivery.id).in_(ids))


def settle_edition(session: Session, edition_id: int) -> int:
    """Settle every uncertain delivery of the edition that has a provider event; how many (not committed)."""
    return _settle(session, col(Delivery.edition_id) == edition_id)


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """Which uncertain deliveries ``--retry-uncertain`` may send again now, and how many must wait."""

    retry: int
    waiting: int


def requeue_unsettled(session: Session, edition_id: int, *, now: datetime, settle: timedelta) -> RetryPlan:
    """Put back in the queue the edition's uncertain deliveries that left more than ``settle`` ago and got no
    provider event; the others wait (an event may still come). Not committed."""
    old_enough = or_(col(Delivery.claimed_at).is_(None), col(Delivery.claimed_at) <= now - settle)
    no_event = ~exists().where(col(DeliveryEvent.delivery_id) == col(Delivery.id))
    mine = and_(col(Delivery.edition_id) == edition_id, col(Delivery.status) == DeliveryStatus.UNCERTAIN)
    result = session.execute(
        update(Delivery)
        .where(mine, old_enough, no_event)
        .values(status=DeliveryStatus.QUEUED, error=None)
        .execution_options(synchronize_session=False)
    )
    retry = int(result.rowcount or 0) if isinstance(result, CursorResult) else 0
    waiting = session.exec(select(func.count()).select_from(Delivery).where(mine)).one()
    return RetryPlan(retry=retry, waiting=int(waiting))
