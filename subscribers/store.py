"""Queries on the subscriber store: lists, subscribers and subscriptions. Keyword-only arguments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from digest.errors import SubscriberError
from subscribers.addresses import email_hash, email_key, normalize_email
from subscribers.models import (
    ConsentEvent,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    utcnow,
)

LANGUAGES = ("fr", "en", "ar")


def get_list(*, session: Session, slug: str) -> MailingList:
    """The list called ``slug`` or SubscriberError naming the lists that exist."""
    found = session.exec(select(MailingList).where(MailingList.slug == slug)).first()
    if found is None:
        known = ", ".join(session.exec(select(MailingList.slug)).all()) or "none"
        raise SubscriberError(f"no list {slug!r} (lists: {known}); create it with `digest lists add {slug}`")
    return found


def create_list(*, session: Session, slug: str, name: str | None = None) -> MailingList:
    """Create the list ``slug``; SubscriberError when it exists or the slug is not a plain word."""
    if not slug or not all(ch.isalnum() or ch in "-_" for ch in slug) or not slug.isascii():
        raise SubscriberError(f"list slug {slug!r} must be ASCII letters, digits, '-' or '_'")
    if session.exec(select(MailingList).where(MailingList.slug == slug)).first():
        raise SubscriberError(f"list {slug!r} already exists")
    mailing_list = MailingList(slug=slug, name=name or slug.capitalize())
    session.add(mailing_list)
    session.commit()
    session.refresh(mailing_list)
    return mailing_list


def all_lists(*, session: Session) -> list[tuple[MailingList, int]]:
    """Every list with its number of active subscriptions."""
    counts = (
        select(Subscription.list_id, func.count())
        .where(Subscription.status == SubscriptionStatus.ACTIVE)
        .group_by(col(Subscription.list_id))
    )
    active = dict(session.exec(counts).all())
    lists = session.exec(select(MailingList).order_by(col(MailingList.slug))).all()
    return [(mailing_list, active.get(mailing_list.id or 0, 0)) for mailing_list in lists]


def find_subscriber(*, session: Session, email: str) -> Subscriber | None:
    """The subscriber with address ``email`` (any case), if any."""
    return session.exec(select(Subscriber).where(Subscriber.email_key == email_key(email))).first()


def is_suppressed(*, session: Session, email: str) -> Suppression | None:
    """The suppression of ``email`` (bounced, complained, erased), if any."""
    return session.exec(select(Suppression).where(Suppression.email_hash == email_hash(email))).first()


@dataclass(frozen=True, slots=True)
class AddResult:
    """What ``add_subscriber`` did: ``added``, ``updated`` or ``unchanged``."""

    subscriber: Subscriber
    subscription: Subscription
    outcome: str


def add_subscriber(
    *,
    session: Session,
    mailing_list: MailingList,
    email: str,
    name: str | None = None,
    language: str | None = None,
    sections: list[str] | None = None,
    confirmed: bool = False,
    source: str = "cli",
    now: datetime | None = None,
    commit: bool = True,
) -> AddResult:
    """Subscribe ``email`` to ``mailing_list``; pending unless ``confirmed`` (double opt-in).

    A suppressed (bounced, complained, erased) address is refused with the reason, never re-added silently.
    """
    now = now or utcnow()
    address = normalize_email(email)
    if language is not None and language not in LANGUAGES:
        raise SubscriberError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    suppression = is_suppressed(session=session, email=address)
    if suppression is not None:
        raise SubscriberError(f"{address} is suppressed ({suppression.reason}): not re-added")
    subscriber = find_subscriber(session=session, email=address)
    changed = False
    created = subscriber is None
    if subscriber is None:
        subscriber = Subscriber(email=address, email_key=email_key(address), name=name, language=language)
        session.add(subscriber)
        session.flush()
    else:
        for attr, value in (("name", name), ("language", language)):
            if value is not None and getattr(subscriber, attr) != value:
                setattr(subscriber, attr, value)
                changed = True
    assert subscriber.id is not None and mailing_list.id is not None
    subscription = session.exec(
        select(Subscription).where(Subscription.subscriber_id == subscriber.id, Subscription.list_id == mailing_list.id)
    ).first()
    wanted_sections = ",".join(sections) if sections else None
    status = SubscriptionStatus.ACTIVE if confirmed else SubscriptionStatus.PENDING
    if subscription is None:
        subscription = Subscription(
            subscriber_id=subscriber.id,
            list_id=mailing_list.id,
            status=status,
            sections=wanted_sections,
            confirmed_at=now if confirmed else None,
            created_at=now,
            updated_at=now,
        )
        session.add(subscription)
        session.add(
            ConsentEvent(subscriber_id=subscriber.id, list_id=mailing_list.id, kind="subscribe", source=source, at=now)
        )
        if confirmed:
            session.add(
                ConsentEvent(
                    subscriber_id=subscriber.id,
                    list_id=mailing_list.id,
                    kind="confirm",
                    source=source,
                    at=now,
                    detail="confirmed by the publisher",
                )
            )
        changed = True
    else:
        if sections is not None and subscription.sections != wanted_sections:
            subscription.sections = wanted_sections
            changed = True
        if confirmed and subscription.status != SubscriptionStatus.ACTIVE:
            subscription.status = SubscriptionStatus.ACTIVE
            subscription.confirmed_at = now
            session.add(
                ConsentEvent(
                    subscriber_id=subscriber.id,
                    list_id=mailing_list.id,
                    kind="confirm",
                    source=source,
                    at=now,
                    detail="confirmed by the publisher",
                )
            )
            changed = True
        if changed:
            subscription.updated_at = now
            session.add(subscription)
    if commit:
        session.commit()
    outcome = "added" if created else ("updated" if changed else "unchanged")
    return AddResult(subscriber, subscription, outcome)


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """A subscriber on a list, as `digest subscribers list` shows it."""

    email: str
    name: str | None
    language: str | None
    status: str
    sections: str | None
    subscribed_at: datetime


def list_subscribers(
    *, session: Session, mailing_list: MailingList, status: str | None = None
) -> Iterator[SubscriberRow]:
    """The subscribers of ``mailing_list`` (optionally only those in ``status``), streamed by address."""
    query = (
        select(Subscriber, Subscription)
        .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        .where(Subscription.list_id == mailing_list.id)
        .order_by(col(Subscriber.email_key))
    )
    if status is not None:
        if status in set(SubscriberStatus) - {SubscriberStatus.ACTIVE}:
            query = query.where(Subscriber.status == status)
        else:
            query = query.where(Subscription.status == status, Subscriber.status == SubscriberStatus.ACTIVE)
    for subscriber, subscription in session.exec(query.execution_options(yield_per=1000)):
        shown = subscription.status if subscriber.status == SubscriberStatus.ACTIVE else subscriber.status
        yield SubscriberRow(
            subscriber.email,
            subscriber.name,
            subscriber.language,
            shown,
            subscription.sections,
            subscription.created_at,
        )
