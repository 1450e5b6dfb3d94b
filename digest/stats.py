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
    """Per edition, how many deliveries had each event (a reader who opened twice counts once).

    Events are found through the editions' deliveries (the delivery key's index on both sides): the events
    table keeps no index by edition, which every webhook event would enter for this occasional count."""
    rows = session.exec(
        select(Delivery.edition_id, DeliveryEvent.event, func.count(distinct(col(DeliveryEvent.delivery_id))))
        .join(DeliveryEvent, col(DeliveryEvent.delivery_id) == col(Delivery.id))
        .where(col(Delivery.edition_id).in_(edition_ids))
        .group_by(col(Delivery.edition_id), col(DeliveryEvent.event))
    ).all()
    counts: dict[int, Counter[str]] = {}
    for edition_id, kind, count in rows:
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


def edition_stats(
    session: Session, *, list_slug: str | None = None, day: date | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """Each edition (of ``list_slug``, on ``day``, of ``kind``), newest first, as `digest stats --json` shows it
    (DESIGN); a daily and a weekly edition of one date come daily first."""
    query = select(Edition, MailingList).join(MailingList, col(MailingList.id) == col(Edition.list_id))
    if list_slug:
        query = query.where(MailingList.slug == list_slug)
    if day:
        query = query.where(Edition.date == day)
    if kind:
        query = query.where(Edition.kind == kind)
    found = session.exec(query.order_by(col(Edition.date).desc(), col(MailingList.slug), col(Edition.kind))).all()
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
            "kind": edition.kind,
            "status": edition.status,
            "recipients": sum(counts.values()),
        }
        for status in ("queued", "sent", "failed", "uncertain"):
            row[status] = counts[status] + (counts["sending"] if status == "queued" else 0)
        for name, kinds in STAT_EVENTS.items():
            row[name] = sum(seen[kind] for kind in kinds)
        editions.append(row)
    return editions


# The dashboard's figures, in the order shown, and what each is a rate of: deliveries' outcomes and
# bounces per recipient, reader events per delivered message (per sent one when the provider reports none).
FIGURES = ("recipients", "sent", "failed", "uncertain", "delivered", "opened", "clicked", "bounced", "unsubscribed")
PER_RECIPIENT = ("sent", "failed", "uncertain", "delivered", "bounced")
PER_DELIVERED = ("opened", "clicked", "unsubscribed")


def rates(figures: dict[str, int]) -> dict[str, float]:
    """Each figure as a share (0 to 1) of what it is a rate of; none of nothing is 0."""
    recipients = figures.get("recipients", 0)
    reached = figures.get("delivered", 0) or figures.get("sent", 0)
    shares = {name: figures.get(name, 0) / recipients if recipients else 0.0 for name in PER_RECIPIENT}
    shares.update({name: figures.get(name, 0) / reached if reached else 0.0 for name in PER_DELIVERED})
    return shares


def counted_editions(
    session: Session, *, since: date, list_slug: str | None = None, limit: int = 400
) -> list[dict[str, Any]]:
    """Editions dated ``since`` or later (of ``list_slug``), newest first, with the figures their counters
    keep and the rates: the dashboard's rows, read without counting a single delivery."""
    from digest.models import EditionCounters

    query = (
        select(Edition, MailingList, EditionCounters)
        .join(MailingList, col(MailingList.id) == col(Edition.list_id))
        .outerjoin(EditionCounters, col(EditionCounters.edition_id) == col(Edition.id))
        .where(col(Edition.date) >= since)
    )
    if list_slug:
        query = query.where(MailingList.slug == list_slug)
    rows = []
    for edition, mailing_list, counters in session.exec(
        query.order_by(col(Edition.date).desc(), col(MailingList.slug)).limit(limit)
    ).all():
        figures = {name: getattr(counters, name) if counters else 0 for name in FIGURES}
        rows.append(
            {
                "date": edition.date,
                "list": mailing_list.slug,
                "kind": edition.kind,
                "status": edition.status,
                "subject": edition.subject,
                **figures,
                "rates": rates(figures),
            }
        )
    return rows


def list_growth(session: Session, *, list_id: int, start: date, end: date) -> list[dict[str, Any]]:
    """Per day from ``start`` to ``end`` (UTC days): the list's active readers at the day's end and the readers
    who joined (confirmed), left, and bounced (addresses suppressed as bounced) that day.

    Active counts are worked back from today's count through the consent log, so they hold for lists whose
    every change was logged (as every change through digest is).
    """
    from datetime import UTC, datetime, time, timedelta

    from subscribers.models import ConsentEvent, Subscription, SubscriptionStatus, Suppression

    since = datetime.combine(start, time(0), tzinfo=UTC)
    day_of = func.date(col(ConsentEvent.at))
    logged = session.exec(
        select(day_of, ConsentEvent.kind, func.count())
        .where(
            col(ConsentEvent.list_id) == list_id,
            col(ConsentEvent.kind).in_(("confirm", "unsubscribe")),
            col(ConsentEvent.at) >= since,
        )
        .group_by(day_of, col(ConsentEvent.kind))
    ).all()
    suppressed_on = func.date(col(Suppression.created_at))
    bounced = session.exec(
        select(suppressed_on, func.count())
        .where(col(Suppression.reason) == "bounced", col(Suppression.created_at) >= since)
        .group_by(suppressed_on)
    ).all()
    active_now = session.exec(
        select(func.count())
        .select_from(Subscription)
        .where(col(Subscription.list_id) == list_id, col(Subscription.status) == SubscriptionStatus.ACTIVE)
    ).one()
    per_day: dict[str, Counter[str]] = {}
    for day, kind, count in logged:
        per_day.setdefault(str(day), Counter())["new" if kind == "confirm" else "unsubscribed"] += count
    for day, count in bounced:
        per_day.setdefault(str(day), Counter())["bounced"] += count
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    growth: list[dict[str, Any]] = []
    active = active_now
    later = sum(c["new"] - c["unsubscribed"] - c["bounced"] for day, c in per_day.items() if day > end.isoformat())
    active -= later
    for day in reversed(days):
        seen = per_day.get(day.isoformat(), Counter())
        growth.append(
            {"date": day, "active": max(active, 0), **{k: seen[k] for k in ("new", "unsubscribed", "bounced")}}
        )
        active -= seen["new"] - seen["unsubscribed"] - seen["bounced"]
    return list(reversed(growth))


def last_deliveries(session: Session, *, subscriber_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """A reader's last deliveries, newest edition first: date, list, status, attempts, error."""
    from sqlalchemy import select as sql_select

    rows = session.execute(
        sql_select(
            col(Edition.date), col(MailingList.slug), col(Delivery.status), col(Delivery.attempts), col(Delivery.error)
        )
        .join(Edition, col(Edition.id) == col(Delivery.edition_id))
        .join(MailingList, col(MailingList.id) == col(Edition.list_id))
        .where(col(Delivery.subscriber_id) == subscriber_id)
        .order_by(col(Edition.date).desc(), col(Delivery.id).desc())
        .limit(limit)
    ).all()
    return [
        {"date": day, "list": slug, "status": status, "attempts": attempts, "error": error or ""}
        for day, slug, status, attempts, error in rows
    ]
