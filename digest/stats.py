"""How editions fared: deliveries by status and reader events, per edition (`digest stats`, the dashboard)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import distinct, func
from sqlmodel import Session, col, select

from digest.models import Delivery, DeliveryEvent, Edition
from subscribers.models import MailingList

# The reader events `digest stats` shows, and the provider events each counts.
STAT_EVENTS = {
    "delivered": ("delivered",),
    "bounced": ("bounce", "dropped"),
    "opened": ("open",),
    "clicked": ("click",),
    "unsubscribed": ("unsubscribe", "group_unsubscribe"),
}


def event_counts(session: Session, edition_ids: list[int]) -> dict[int, Counter[str]]:
    """Per edition, how many deliveries had each event (a reader who opened twice counts once)."""
    rows = session.exec(
        select(DeliveryEvent.edition_id, DeliveryEvent.event, func.count(distinct(col(DeliveryEvent.delivery_id))))
        .where(col(DeliveryEvent.edition_id).in_(edition_ids))
        .group_by(col(DeliveryEvent.edition_id), col(DeliveryEvent.event))
    ).all()
    counts: dict[int, Counter[str]] = {}
    for edition_id, kind, count in rows:
        if edition_id is not None:
            counts.setdefault(edition_id, Counter())[kind] = count
    return counts


def delivery_counts(session: Session, edition_ids: list[int]) -> dict[int, Counter[str]]:
    """Per edition, how many deliveries are in each status (one query for all editions)."""
    rows = session.exec(
        select(Delivery.edition_id, Delivery.status, func.count())
        .where(col(Delivery.edition_id).in_(edition_ids))
        .group_by(col(Delivery.edition_id), col(Delivery.status))
    ).all()
    counts: dict[int, Counter[str]] = {}
    for edition_id, status, count in rows:
        counts.setdefault(edition_id, Counter())[status] = count
    return counts


def edition_stats(session: Session, *, list_slug: str | None = None, day: date | None = None) -> list[dict[str, Any]]:
    """Each edition (of ``list_slug``, on ``day``), newest first, as `digest stats --json` shows it (DESIGN)."""
    query = select(Edition, MailingList).join(MailingList, col(MailingList.id) == col(Edition.list_id))
    if list_slug:
        query = query.where(MailingList.slug == list_slug)
    if day:
        query = query.where(Edition.date == day)
    found = session.exec(query.order_by(col(Edition.date).desc(), col(MailingList.slug))).all()
    ids = [edition.id for edition, _ in found if edition.id is not None]
    statuses = delivery_counts(session, ids)
    events = event_counts(session, ids)
    editions = []
    for edition, mailing_list in found:
        assert edition.id is not None
        counts, seen = statuses.get(edition.id, Counter()), events.get(edition.id, Counter())
        row: dict[str, Any] = {
            "date": edition.date.isoformat(),
            "list": mailing_list.slug,
            "status": edition.status,
            "recipients": sum(counts.values()),
        }
        for status in ("queued", "sent", "failed", "uncertain"):
            row[status] = counts[status] + (counts["sending"] if status == "queued" else 0)
        for name, kinds in STAT_EVENTS.items():
            row[name] = sum(seen[kind] for kind in kinds)
        editions.append(row)
    return editions
