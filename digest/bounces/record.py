"""What bounce mail does: each report matched to the delivery it answers and recorded once, through the
provider events' policy (:func:`digest.delivery.events.record_events`): a hard bounce suppresses the
address, a complaint too, a soft bounce is counted and suppresses after ``SOFT_BOUNCE_LIMIT`` of them within
``SOFT_BOUNCE_WINDOW`` (counted by when they were read: a Date header may lie or be old).

Matching, in order: the VERP address the report was delivered to (``DIGEST_BOUNCE_ADDRESS``, e.g.
``bounces+{delivery}@example.com``); the Message-ID of our message it quotes; failing both, a delivery sent to
the failed address in the last ``RECENT`` days. A report matching none of them (backscatter, a forged
bounce, an address we never mailed) changes nothing. Functions here do not commit: the command does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from digest.bounces.reports import COMPLAINT, HARD, MailReport
from digest.delivery.events import ProviderEvent, record_events
from digest.models import Delivery, DeliveryEvent
from subscribers.addresses import email_key
from subscribers.models import Subscriber, SubscriberStatus
from subscribers.store import suppress

RECENT = timedelta(days=7)
SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = timedelta(days=30)
# Event ids of bounce mail, so soft bounces can be counted apart from a provider's own events.
HARD_PREFIX = "mail:"
SOFT_PREFIX = "mail-soft:"
# The delivery id our Message-IDs end with: <2025-11-27.quotidien.123@example.com>.
_OUR_MESSAGE_ID = re.compile(r"<[^<>@\s]+\.(\d{1,19})@[^<>\s]+>")


@dataclass
class BounceSummary:
    """What one reading of a mailbox did."""

    read: int = 0
    hard: int = 0
    soft: int = 0
    complaints: int = 0
    #: Reports already recorded by an earlier reading.
    already: int = 0
    #: Reports matching none of our deliveries: nothing done.
    unmatched: int = 0
    #: Mail that is neither a bounce nor a complaint.
    ignored: int = 0
    #: Readers suppressed because their soft bounces reached the limit.
    soft_suppressed: int = 0


def verp_pattern(bounce_address: str | None) -> re.Pattern[str] | None:
    """A pattern reading the delivery id out of an address made from ``DIGEST_BOUNCE_ADDRESS``."""
    if not bounce_address:
        return None
    before, _, after = bounce_address.lower().partition("{delivery}")
    return re.compile(re.escape(before) + r"(\d{1,19})" + re.escape(after))


def _delivery(session: Session, report: MailReport, verp: re.Pattern[str] | None, now: datetime) -> Delivery | None:
    if verp is not None:
        for address in report.envelope_to:
            found = verp.fullmatch(address)
            if found is not None and (delivery := session.get(Delivery, int(found.group(1)))) is not None:
                return delivery
    if report.original_message_id:
        by_provider = session.exec(select(Delivery).where(Delivery.provider_id == report.original_message_id)).first()
        if by_provider is not None:
            return by_provider
        ours = _OUR_MESSAGE_ID.fullmatch(report.original_message_id)
        if ours is not None and (delivery := session.get(Delivery, int(ours.group(1)))) is not None:
            return delivery
    for address in report.recipients:
        recent = session.exec(
            select(Delivery)
            .join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id))
            .where(col(Subscriber.email_key) == email_key(address), col(Delivery.sent_at) >= now - RECENT)
            .order_by(col(Delivery.sent_at).desc())
        ).first()
        if recent is not None:
            return recent
    return None


def record_reports(
    session: Session, reports: Iterable[MailReport | None], *, bounce_address: str | None, now: datetime
) -> BounceSummary:
    """Match and record each report (None: a mail that was neither); idempotent, does not commit."""
    summary = BounceSummary()
    verp = verp_pattern(bounce_address)
    for report in reports:
        summary.read += 1
        if report is None:
            summary.ignored += 1
            continue
        delivery = _delivery(session, report, verp, now)
        if delivery is None or delivery.id is None:
            summary.unmatched += 1
            continue
        soft = report.kind not in (HARD, COMPLAINT)
        event = ProviderEvent(
            event_id=f"{SOFT_PREFIX if soft else HARD_PREFIX}{report.report_id}:{delivery.id}",
            kind="spamreport" if report.kind == COMPLAINT else "bounce",
            email=None,
            at=report.at or now,
            delivery_id=delivery.id,
            temporary=soft,
        )
        result = record_events(session, [event], clock=lambda: now)
        if result.duplicates:
            summary.already += 1
            continue
        if report.kind == COMPLAINT:
            summary.complaints += 1
        elif not soft:
            summary.hard += 1
        else:
            summary.soft += 1
            if _soft_bounces(session, delivery.subscriber_id, now) >= SOFT_BOUNCE_LIMIT:
                summary.soft_suppressed += _suppress_subscriber(session, delivery.subscriber_id, now)
    return summary


def _soft_bounces(session: Session, subscriber_id: int, now: datetime) -> int:
    return session.exec(
        select(func.count())
        .select_from(DeliveryEvent)
        .join(Delivery, col(Delivery.id) == col(DeliveryEvent.delivery_id))
        .where(
            col(Delivery.subscriber_id) == subscriber_id,
            col(DeliveryEvent.event_id).startswith(SOFT_PREFIX),
            col(DeliveryEvent.received_at) >= now - SOFT_BOUNCE_WINDOW,
        )
    ).one()


def _suppress_subscriber(session: Session, subscriber_id: int, now: datetime) -> int:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != SubscriberStatus.ACTIVE:
        return 0
    suppress(session=session, email=subscriber.email, reason=SubscriberStatus.BOUNCED, now=now)
    return 1
