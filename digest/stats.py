"""How editions fared: deliveries by status and reader events, per edition (`digest stats`, the dashboard)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import distinct, func
from sqlmodel import Session, col, select

from digest.models import Delivery, DeliveryEvent


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
