"""Queries on the subscriber store: lists, subscribers, subscriptions, consent. Keyword-only arguments.

Every change a reader or the publisher makes is written with a ConsentEvent saying who did it and how, so
the log is evidence of consent.

Who commits: functions here never commit (they add, flush, and read); the entry point that called them (a
CLI command, a web handler, a webhook) owns the transaction and commits once its whole unit of work is done,
so a failure half-way leaves nothing half-written. The same holds in :mod:`subscribers.importer` (a whole
file is one transaction) and in ``digest`` (the delivery queue commits only in the send's own loop, which is
its entry point's unit of work, batch by batch).

This package is the lower layer: it imports nothing from ``digest`` but ``digest.errors``. What leaving a
list means for the delivery ledger (queued deliveries dropped) is done by the caller; erasure's deliveries
go by the database's ``ON DELETE CASCADE``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    Connection,
    DateTime,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    true,
    update,
)
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from digest.errors import SubscriberError
from subscribers.addresses import email_hash, email_key, key_hash, legacy_email_hash, normalize_email
from subscribers.admission import Admission, admit
from subscribers.driver import Driver
from subscribers.inputs import check_slug, check_text, check_timezone
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
from subscribers.prepared import Prepared
from subscribers.sections import Sections

LANGUAGES = ("fr", "en", "ar")
# daily editions, weekly round-ups, or both (subscribers.eligibility.RECEIVING).
FREQUENCIES = ("daily", "weekly", "both")
FORMATS = ("html", "text")
# An unconfirmed web sign-up is forgotten after this long (the confirm link lives as long).
PENDING_MAX_AGE = timedelta(days=7)
# The consent log's kind for a web sign-up of someone who had left the list: asked, nothing changed yet.
ASKED = "request"
_CENTRE = "from the preference centre"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, for the consent log: ``source`` is cli, web, import or webhook."""

    source: str = "cli"
    ip: str | None = None
    user_agent: str | None = None

    @property
    def logged_agent(self) -> str | None:
        """The user agent as the consent log keeps it: its first 400 characters."""
        return self.user_agent[:400] if self.user_agent else None


def record_consent(
    *,
    session: Session,
    subscriber_id: int | None,
    list_id: int | None,
    kind: str,
    actor: Actor,
    now: datetime,
    detail: str | None = None,
) -> None:
    """Add one consent event (subscribe, confirm, change, unsubscribe, expire, erase) to the session."""
    session.add(
        ConsentEvent(
            subscriber_id=subscriber_id,
            list_id=list_id,
            kind=kind,
            source=actor.source,
            ip=actor.ip,
            user_agent=actor.logged_agent,
            detail=detail,
            at=now,
        )
    )


def get_list(*, session: Session, slug: str) -> MailingList:
    """The list called ``slug`` or SubscriberError naming the lists that exist."""
    found = session.exec(select(MailingList).where(MailingList.slug == slug)).first()
    if found is None:
        known = ", ".join(session.exec(select(MailingList.slug)).all()) or "none"
        raise SubscriberError(f"no list {slug!r} (lists: {known}); create it with `digest lists add {slug}`")
    return found


def create_list(*, session: Session, slug: str, name: str | None = None, public: bool = True) -> MailingList:
    """Create the list ``slug``; SubscriberError when it exists or the slug is not a plain word.

    Readers see a ``public`` list in their preference centre and may sign up to it; a private one is joined
    only through the publisher (import, `digest subscribers add`)."""
    check_slug(slug)
    if name is not None:
        check_text(name, "list name", max_length=200)
    if session.exec(select(MailingList).where(MailingList.slug == slug)).first():
        raise SubscriberError(f"list {slug!r} already exists")
    mailing_list = MailingList(slug=slug, name=name or slug.capitalize(), public=public)
    session.add(mailing_list)
    session.flush()
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
    legacy = and_(col(Suppression.email_hash) == legacy_email_hash(email), col(Suppression.legacy_key))
    return session.exec(
        select(Suppression)
        .where(or_(col(Suppression.email_hash) == email_hash(email), legacy))
        .order_by(col(Suppression.id))
    ).first()


def check_language(language: str | None) -> str | None:
    """``language`` when it is one digest speaks (or None), else SubscriberError."""
    if language is not None and language not in LANGUAGES:
        raise SubscriberError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    return language


def join_sections(sections: list[str] | None) -> str | None:
    """Sections as stored (see :class:`~subscribers.sections.Sections`), or SubscriberError naming the bad one."""
    return Sections.chosen(sections).stored()


def split_sections(stored: str | None) -> list[str]:
    """The sections of a subscription as a list (empty: every section)."""
    return list(Sections.parse(stored))


def _set_status(
    session: Session,
    subscription: Subscription,
    status: SubscriptionStatus,
    *,
    kind: str,
    actor: Actor,
    now: datetime,
    detail: str | None = None,
) -> None:
    """Move ``subscription`` to ``status`` and log the consent act ``kind`` that did it."""
    subscription.status = status
    if status == SubscriptionStatus.ACTIVE and subscription.confirmed_at is None:
        subscription.confirmed_at = now
    subscription.updated_at = now
    session.add(subscription)
    record_consent(
        session=session,
        subscriber_id=subscription.subscriber_id,
        list_id=subscription.list_id,
        kind=kind,
        actor=actor,
        now=now,
        detail=detail,
    )


@dataclass(frozen=True, slots=True)
class AddResult:
    """What ``add_subscriber`` did: ``added``, ``updated``, ``unchanged`` or ``asked`` (a reader who had left was
    signed up on the web: nothing changed, a confirmation is due); ``needs_confirmation`` when one is due."""

    subscriber: Subscriber
    subscription: Subscription
    outcome: str

    @property
    def needs_confirmation(self) -> bool:
        """True when the reader still has to confirm (double opt-in)."""
        return self.outcome == "asked" or self.subscription.status == SubscriptionStatus.PENDING


def add_subscriber(
    *,
    session: Session,
    mailing_list: MailingList,
    email: str,
    name: str | None = None,
    language: str | None = None,
    sections: list[str] | None = None,
    timezone: str | None = None,
    confirmed: bool = False,
    source: str = "cli",
    actor: Actor | None = None,
    now: datetime | None = None,
) -> AddResult:
    """Subscribe ``email`` to ``mailing_list``; pending unless ``confirmed`` (double opt-in).

    Who may be (re-)added is :func:`subscribers.admission.admit`'s decision: a suppressed (bounced, complained,
    erased) address is refused with the reason; someone who unsubscribed becomes pending again when the
    publisher adds them (or active when ``confirmed``), and is only asked (state and details unchanged, an
    ``request`` consent event) when the sign-up comes from the web.
    """
    now = now or utcnow()
    actor = actor or Actor(source=source)
    address = normalize_email(email)
    check_language(language)
    timezone = check_timezone(timezone)
    wanted_sections = join_sections(sections)
    if name is not None:
        check_text(name, "name", max_length=200)
    suppression = is_suppressed(session=session, email=address)
    subscriber = find_subscriber(session=session, email=address)
    subscription = None
    if subscriber is not None:
        subscription = session.exec(
            select(Subscription).where(
                Subscription.subscriber_id == subscriber.id, Subscription.list_id == mailing_list.id
            )
        ).first()
    decision = admit(
        source=actor.source,
        email=address,
        suppressed=suppression.reason if suppression else None,
        subscriber_status=subscriber.status if subscriber else None,
        subscription_status=subscription.status if subscription else None,
    )
    if decision.reason is not None:
        raise SubscriberError(decision.reason)
    if decision.admission is Admission.ASK:
        assert subscriber is not None and subscription is not None
        record_consent(
            session=session,
            subscriber_id=subscriber.id,
            list_id=subscription.list_id,
            kind=ASKED,
            actor=actor,
            now=now,
            detail="signed up again after unsubscribing; unsubscribed until the new confirm link is used",
        )
        session.flush()
        return AddResult(subscriber, subscription, "asked")
    changed = False
    created = subscriber is None
    if subscriber is None:
        subscriber = Subscriber(
            email=address,
            email_key=email_key(address),
            name=name,
            language=language,
            timezone=timezone,
            created_at=now,
        )
        session.add(subscriber)
        session.flush()
    else:
        for attr, value in (("name", name), ("language", language), ("timezone", timezone)):
            if value is not None and getattr(subscriber, attr) != value:
                setattr(subscriber, attr, value)
                changed = True
    assert subscriber.id is not None and mailing_list.id is not None
    if subscription is None:
        created = True
        subscription = Subscription(
            subscriber_id=subscriber.id, list_id=mailing_list.id, sections=wanted_sections, created_at=now
        )
        _set_status(session, subscription, SubscriptionStatus.PENDING, kind="subscribe", actor=actor, now=now)
    else:
        if sections is not None and subscription.sections != wanted_sections:
            subscription.sections = wanted_sections
            changed = True
        if decision.admission is Admission.AGAIN:
            subscription.confirmed_at = None
            _set_status(
                session,
                subscription,
                SubscriptionStatus.PENDING,
                kind="subscribe",
                actor=actor,
                now=now,
                detail="signed up again after unsubscribing",
            )
            changed = True
        elif subscription.status == SubscriptionStatus.PENDING and not confirmed:
            # A repeated sign-up restarts the confirmation window (and the caller sends a new link).
            changed = True
    if confirmed and subscription.status != SubscriptionStatus.ACTIVE:
        subscription.confirmed_at = now
        _set_status(
            session,
            subscription,
            SubscriptionStatus.ACTIVE,
            kind="confirm",
            actor=actor,
            now=now,
            detail="confirmed by the publisher",
        )
        changed = True
    if changed:
        subscription.updated_at = now
        session.add(subscription)
    session.flush()
    outcome = "added" if created else ("updated" if changed else "unchanged")
    return AddResult(subscriber, subscription, outcome)


@dataclass(frozen=True, slots=True)
class Reader:
    """One subscriber on one list, as a signed link names them."""

    subscriber: Subscriber
    subscription: Subscription
    mailing_list: MailingList


def find_reader(*, session: Session, subscriber_id: int, list_id: int) -> Reader | None:
    """The reader a token names, or None when erased or expired since (the caller answers 404)."""
    row = session.exec(
        select(Subscriber, Subscription, MailingList)
        .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        .join(MailingList, col(MailingList.id) == col(Subscription.list_id))
        .where(Subscriber.id == subscriber_id, Subscription.list_id == list_id)
    ).first()
    if row is None or row[0].status == SubscriberStatus.ERASED:
        return None
    return Reader(*row)


@dataclass(frozen=True, slots=True)
class ReaderRow:
    """What the readers' pages show of one reader on one list, read as one plain row (no ORM objects: the
    preference page and one-click unsubscribe run this on every request)."""

    subscriber_id: int
    list_id: int
    email: str
    name: str | None
    language: str | None
    token_secret: str
    #: The subscription's.
    status: str
    sections: str | None
    frequency: str
    format: str
    paused_until: date | None
    list_name: str
    #: The reader's time zone (None: the publication's).
    timezone: str | None

    @classmethod
    def of(cls, reader: Reader) -> ReaderRow:
        """The same facts from ORM objects (a handler that already loaded them)."""
        subscriber, subscription = reader.subscriber, reader.subscription
        assert subscriber.id is not None and reader.mailing_list.id is not None
        return cls(
            subscriber.id,
            reader.mailing_list.id,
            subscriber.email,
            subscriber.name,
            subscriber.language,
            subscriber.token_secret,
            subscription.status,
            subscription.sections,
            subscription.frequency,
            subscription.format,
            subscription.paused_until,
            reader.mailing_list.name,
            subscriber.timezone,
        )


# Built once (its construction costs more than running it), run on the driver: one-click unsubscribe and the
# unsubscribe page run it on every request.
_READER_ROW = Prepared(
    sql_select(
        col(Subscriber.id),
        col(Subscription.list_id),
        col(Subscriber.email),
        col(Subscriber.name),
        col(Subscriber.language),
        col(Subscriber.token_secret),
        col(Subscription.status),
        col(Subscription.sections),
        col(Subscription.frequency),
        col(Subscription.format),
        col(Subscription.paused_until),
        col(MailingList.name),
        col(Subscriber.timezone),
    )
    .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
    .join(MailingList, col(MailingList.id) == col(Subscription.list_id))
    .where(
        col(Subscriber.id) == bindparam("subscriber_id"),
        col(Subscription.list_id) == bindparam("list_id"),
        col(Subscriber.status) != SubscriberStatus.ERASED,
    )
)


def find_reader_row(*, connection: Connection, subscriber_id: int, list_id: int) -> ReaderRow | None:
    """:func:`find_reader` as a plain row, or None when erased or expired since (the caller answers 404)."""
    rows = _READER_ROW.execute(connection, {"subscriber_id": subscriber_id, "list_id": list_id})
    return ReaderRow(*rows[0]) if rows else None


@dataclass(frozen=True, slots=True)
class ListChoice:
    """A list as the preference centre offers it: the reader's subscription status to it ('' when none)."""

    id: int
    name: str
    public: bool
    status: str


_LIST_CHOICES = (
    sql_select(col(MailingList.id), col(MailingList.name), col(MailingList.public), col(Subscription.status))
    .outerjoin(
        Subscription,
        and_(col(Subscription.list_id) == col(MailingList.id), col(Subscription.subscriber_id) == bindparam("reader")),
    )
    .order_by(col(MailingList.slug))
)


def list_choices(*, connection: Connection, subscriber_id: int) -> list[ListChoice]:
    """:func:`reader_lists` as plain rows, in one query."""
    return [
        ListChoice(list_id, name, bool(public), status or "")
        for list_id, name, public, status in connection.execute(_LIST_CHOICES, {"reader": subscriber_id})
        if list_id is not None  # a primary key: never, but the column's type says it could be
    ]


@dataclass(frozen=True, slots=True)
class ReaderChoices:
    """A reader on one list, and every list with the reader's status on it (:func:`list_choices`)."""

    reader: ReaderRow
    lists: list[ListChoice]


# The reader beside each list (in slug order), with the reader's subscription to it when there is one: the
# preference page's two questions in one statement, run on the driver.
_READER_CHOICES = Prepared(
    sql_select(
        col(MailingList.id),
        col(MailingList.name),
        col(MailingList.public),
        col(Subscription.status),
        col(Subscriber.email),
        col(Subscriber.name),
        col(Subscriber.language),
        col(Subscriber.token_secret),
        col(Subscription.sections),
        col(Subscription.frequency),
        col(Subscription.format),
        col(Subscription.paused_until),
        col(Subscriber.timezone),
    )
    .select_from(Subscriber)
    .join(MailingList, true())
    .outerjoin(
        Subscription,
        and_(col(Subscription.list_id) == col(MailingList.id), col(Subscription.subscriber_id) == col(Subscriber.id)),
    )
    .where(col(Subscriber.id) == bindparam("subscriber_id"), col(Subscriber.status) != SubscriberStatus.ERASED)
    .order_by(col(MailingList.slug))
)


def find_reader_choices(*, connection: Connection, subscriber_id: int, list_id: int) -> ReaderChoices | None:
    """:func:`find_reader_row` and :func:`list_choices` in one query, or None when the reader is erased or not
    on ``list_id`` (the caller answers 404)."""
    reader = None
    lists = []
    for row in _READER_CHOICES.execute(connection, {"subscriber_id": subscriber_id}):
        each, name, public, status, *person = row
        lists.append(ListChoice(each, name, bool(public), status or ""))
        if each == list_id and status is not None:
            email, reader_name, language, secret, sections, frequency, form, paused, zone = person
            reader = ReaderRow(
                subscriber_id,
                list_id,
                email,
                reader_name,
                language,
                secret,
                status,
                sections,
                frequency,
                form,
                paused,
                name,
                zone,
            )
    return None if reader is None else ReaderChoices(reader, lists)


def _aware(moment: datetime) -> datetime:
    """``moment`` in UTC (SQLite hands stored times back without their zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def confirmable(*, session: Session, reader: Reader, issued: int) -> bool:
    """Whether a confirm link made at ``issued`` (Unix time) acts on ``reader``'s subscription.

    A pending (or already active) subscription: yes. One the reader left: only when a sign-up asked for them
    since they left, and the link was made for that request, so a confirm link from before they left never
    brings them back.
    """
    subscription = reader.subscription
    if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
        return True

    def last(kind: str) -> datetime | None:
        return session.exec(
            select(func.max(ConsentEvent.at)).where(
                ConsentEvent.subscriber_id == subscription.subscriber_id,
                ConsentEvent.list_id == subscription.list_id,
                ConsentEvent.kind == kind,
            )
        ).first()

    asked, left = last(ASKED), last("unsubscribe")
    if asked is None or (left is not None and _aware(left) > _aware(asked)):
        return False
    return issued >= int(_aware(asked).timestamp())


def confirm_subscription(
    *, session: Session, reader: Reader, actor: Actor, issued: int | None = None, now: datetime | None = None
) -> bool:
    """Confirm a pending subscription (double opt-in), or an unsubscribed one whose new sign-up the link made
    at ``issued`` answers (see :func:`confirmable`); False when there was nothing to confirm."""
    now = now or utcnow()
    subscription = reader.subscription
    if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
        if issued is None or not confirmable(session=session, reader=reader, issued=issued):
            return False
    elif subscription.status != SubscriptionStatus.PENDING:
        return False
    subscription.confirmed_at = now
    _set_status(session, subscription, SubscriptionStatus.ACTIVE, kind="confirm", actor=actor, now=now)
    return True


_UNSUBSCRIBE_ALL = (
    update(Subscription)
    .where(
        col(Subscription.subscriber_id) == bindparam("reader"),
        col(Subscription.status) != SubscriptionStatus.UNSUBSCRIBED,
    )
    .values(status=SubscriptionStatus.UNSUBSCRIBED, updated_at=bindparam("left_at"))
    .returning(col(Subscription.list_id))
)
_UNSUBSCRIBE_ONE = _UNSUBSCRIBE_ALL.where(col(Subscription.list_id) == bindparam("left_list"))
# Run on the driver: one-click unsubscribe runs them on every request.
_LEFT = {False: Prepared(_UNSUBSCRIBE_ONE), True: Prepared(_UNSUBSCRIBE_ALL)}
_CONSENT_COLUMNS = ("subscriber_id", "list_id", "kind", "source", "ip", "user_agent", "detail", "at")
_LOG_CONSENT = Prepared(insert(ConsentEvent).values({name: bindparam(name) for name in _CONSENT_COLUMNS}))


def unsubscribe(
    *,
    session: Session,
    subscriber_id: int,
    list_id: int | None,
    actor: Actor,
    now: datetime | None = None,
    detail: str | None = None,
) -> int:
    """Unsubscribe from one list (``list_id``) or from every list (None); idempotent.

    Returns how many subscriptions changed; a repeated request changes nothing and logs nothing more. The
    caller drops the reader's queued deliveries (:func:`digest.delivery.queue.drop_queued`); a send already
    under way skips a reader who left in any case.
    """
    # What the session holds is flushed first, and the subscriptions it has loaded are expired after, so it
    # reads the new status.
    session.flush()
    left = unsubscribe_on(
        session.connection(), subscriber_id=subscriber_id, list_id=list_id, actor=actor, now=now, detail=detail
    )
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Subscription) and loaded.subscriber_id == subscriber_id and loaded.list_id in left:
            session.expire(loaded)
    return len(left)


def unsubscribe_on(
    connection: Connection,
    *,
    subscriber_id: int,
    list_id: int | None,
    actor: Actor,
    now: datetime | None = None,
    detail: str | None = None,
) -> list[int]:
    """:func:`unsubscribe` on a connection, for a caller that holds no session (one-click unsubscribe, on
    every request): the lists left. Does not commit."""
    now = now or utcnow()
    # One UPDATE ... RETURNING and an INSERT per list left, on the driver's cursor: the ORM's bulk statements,
    # and SQLAlchemy's execution layer, cost more than the SQL.
    parameters = {"reader": subscriber_id, "left_list": list_id, "left_at": now}
    left = sorted(each for (each,) in _LEFT[list_id is None].execute(connection, parameters))
    for each in left:
        _LOG_CONSENT.execute(connection, _unsubscribe_logged(subscriber_id, each, actor, detail, now))
    return left


def unsubscribe_ctes(*, everything: bool) -> tuple[CTE, CTE]:
    """:func:`unsubscribe` as data-modifying CTEs for PostgreSQL, for a caller that joins more effects to it in
    one statement: the subscriptions left (their ``list_id``), and the consent-log rows of those, as
    :func:`record_consent` writes them. Parameters: ``reader``, ``left_list`` (unless ``everything``),
    ``left_at``, ``source``, ``ip``, ``user_agent`` (:attr:`Actor.logged_agent`) and ``detail``."""
    left = (_UNSUBSCRIBE_ALL if everything else _UNSUBSCRIBE_ONE).cte("left_lists")
    logged = insert(ConsentEvent).from_select(
        list(_CONSENT_COLUMNS),
        sql_select(
            bindparam("reader", type_=Integer),
            left.c.list_id,
            literal("unsubscribe"),
            bindparam("source", type_=String),
            bindparam("ip", type_=String),
            bindparam("user_agent", type_=String),
            bindparam("detail", type_=String),
            bindparam("left_at", type_=DateTime(timezone=True)),
        ),
    )
    return left, logged.cte("logged")


def _unsubscribe_logged(
    subscriber_id: int, list_id: int, actor: Actor, detail: str | None, now: datetime
) -> dict[str, object]:
    """One consent-log row of a reader leaving a list, as :func:`record_consent` writes it."""
    return {
        "subscriber_id": subscriber_id,
        "list_id": list_id,
        "kind": "unsubscribe",
        "source": actor.source,
        "ip": actor.ip,
        "user_agent": actor.logged_agent,
        "detail": detail,
        "at": now,
    }


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a reader may change for one list in the preference centre."""

    sections: list[str]
    frequency: str
    format: str
    paused_until: date | None


def update_preferences(
    *,
    session: Session,
    reader: Reader,
    language: str | None,
    name: str | None,
    preferences: Preferences,
    lists: dict[int, bool],
    actor: Actor,
    timezone: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Apply a preference-centre form; returns what changed (empty: nothing).

    ``timezone`` is the reader's IANA time zone, None for the publication's.

    ``lists`` maps list ids to whether the reader wants them (lists left out are not touched): a reader who
    proved their address through a signed link joins a list without a second confirmation.
    """
    now = now or utcnow()
    check_language(language)
    if preferences.frequency not in FREQUENCIES:
        raise SubscriberError(f"frequency must be one of {', '.join(FREQUENCIES)}")
    if preferences.format not in FORMATS:
        raise SubscriberError(f"format must be one of {', '.join(FORMATS)}")
    if name is not None:
        check_text(name, "name", max_length=200)
    timezone = check_timezone(timezone)
    subscriber, subscription = reader.subscriber, reader.subscription
    changes: list[str] = []
    for attr, value in (("language", language), ("name", name or None), ("timezone", timezone)):
        if getattr(subscriber, attr) != value:
            setattr(subscriber, attr, value)
            changes.append(attr)
    wanted: dict[str, object] = {
        "sections": join_sections(preferences.sections),
        "frequency": preferences.frequency,
        "format": preferences.format,
        "paused_until": preferences.paused_until,
    }
    for attr, wanted_value in wanted.items():
        if getattr(subscription, attr) != wanted_value:
            setattr(subscription, attr, wanted_value)
            changes.append(attr)
    if changes:
        subscription.updated_at = now
        session.add_all([subscriber, subscription])
        record_consent(
            session=session,
            subscriber_id=subscriber.id,
            list_id=subscription.list_id,
            kind="change",
            actor=actor,
            now=now,
            detail=", ".join(f"{attr}={wanted.get(attr, getattr(subscriber, attr, ''))}" for attr in changes),
        )
    assert subscriber.id is not None
    for list_id, wants in lists.items():
        current = session.exec(
            select(Subscription).where(Subscription.subscriber_id == subscriber.id, Subscription.list_id == list_id)
        ).first()
        active = current is not None and current.status == SubscriptionStatus.ACTIVE
        if wants and not active:
            current = current or Subscription(subscriber_id=subscriber.id, list_id=list_id, created_at=now)
            _set_status(
                session, current, SubscriptionStatus.ACTIVE, kind="subscribe", actor=actor, now=now, detail=_CENTRE
            )
            changes.append(f"joined list {list_id}")
        elif not wants and current is not None and current.status != SubscriptionStatus.UNSUBSCRIBED:
            _set_status(
                session,
                current,
                SubscriptionStatus.UNSUBSCRIBED,
                kind="unsubscribe",
                actor=actor,
                now=now,
                detail=_CENTRE,
            )
            changes.append(f"left list {list_id}")
    session.flush()
    return changes


def reader_lists(*, session: Session, subscriber_id: int) -> list[tuple[MailingList, Subscription | None]]:
    """Every list, with the reader's subscription to it when there is one."""
    subscriptions = {
        s.list_id: s for s in session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id))
    }
    lists = session.exec(select(MailingList).order_by(col(MailingList.slug))).all()
    return [(mailing_list, subscriptions.get(mailing_list.id or 0)) for mailing_list in lists]


def expire_pending(*, session: Session, now: datetime | None = None, max_age: timedelta = PENDING_MAX_AGE) -> int:
    """Forget web sign-ups left unconfirmed longer than ``max_age``; returns how many.

    Only a subscription whose whole history is web sign-ups expires (never confirmed, never imported, added by
    the publisher or left): a publisher's import waits for its readers, and a known reader keeps what they had.
    A subscriber is deleted only when nothing else is known of them (no other subscription, no other consent
    act): their address was never confirmed, so nothing is kept.
    """
    now = now or utcnow()
    web_signup = and_(col(ConsentEvent.kind).in_(("subscribe", "expire")), col(ConsentEvent.source) == "web")
    same_subscription = and_(
        col(ConsentEvent.subscriber_id) == col(Subscription.subscriber_id),
        col(ConsentEvent.list_id) == col(Subscription.list_id),
    )
    stale = session.exec(
        select(Subscription).where(
            Subscription.status == SubscriptionStatus.PENDING,
            col(Subscription.confirmed_at).is_(None),
            col(Subscription.updated_at) < now - max_age,
            exists().where(same_subscription, col(ConsentEvent.kind) == "subscribe", col(ConsentEvent.source) == "web"),
            ~exists().where(same_subscription, ~web_signup),
        )
    ).all()
    if not stale:
        return 0
    subscriber_ids = {s.subscriber_id for s in stale}
    for subscription in stale:
        record_consent(
            session=session,
            subscriber_id=subscription.subscriber_id,
            list_id=subscription.list_id,
            kind="expire",
            actor=Actor(source="web"),
            now=now,
            detail="never confirmed",
        )
        session.delete(subscription)
    session.flush()
    orphans = session.exec(
        select(Subscriber.id).where(
            col(Subscriber.id).in_(subscriber_ids),
            ~exists().where(col(Subscription.subscriber_id) == col(Subscriber.id)),
            ~exists().where(col(ConsentEvent.subscriber_id) == col(Subscriber.id), ~web_signup),
        )
    ).all()
    if orphans:
        session.execute(
            update(ConsentEvent)
            .where(col(ConsentEvent.subscriber_id).in_(orphans))
            .values(subscriber_id=None, ip=None, user_agent=None)
        )
        session.execute(delete(Subscriber).where(col(Subscriber.id).in_(orphans)))
    session.flush()
    return len(stale)


def suppress(*, session: Session, email: str, reason: str, now: datetime | None = None) -> Suppression:
    """Never mail ``email`` again (bounced, complained, erased); the subscriber's status follows. Idempotent.

    Erased addresses keep only their hash. Does not commit.
    """
    now = now or utcnow()
    found = is_suppressed(session=session, email=email)
    if found is None:
        found = Suppression(email_hash=email_hash(email), reason=reason, created_at=now)
    found.email = None if reason == SubscriberStatus.ERASED else email
    found.email_key = None if reason == SubscriberStatus.ERASED else email_key(email)
    found.reason = reason
    session.add(found)
    session.execute(update(Subscriber).where(col(Subscriber.email_key) == email_key(email)).values(status=reason))
    return found


def remove_subscriber(*, session: Session, email: str, erase: bool = False, actor: Actor | None = None) -> int:
    """Unsubscribe ``email`` from every list, or with ``erase`` apply GDPR erasure.

    Erasure deletes the subscriber, their subscriptions and deliveries, strips the consent log of anything
    that identifies them (the events stay, anonymous, as evidence) and keeps a suppression hash so an import
    never re-adds the address silently. Returns the number of subscriptions affected.
    """
    actor = actor or Actor(source="cli")
    now = utcnow()
    address = normalize_email(email)
    subscriber = find_subscriber(session=session, email=address)
    if subscriber is None:
        if erase and is_suppressed(session=session, email=address) is None:
            # Nothing stored but the wish itself: keep the hash so the address is never imported again.
            suppress(session=session, email=address, reason=SubscriberStatus.ERASED, now=now)
            return 0
        raise SubscriberError(f"no subscriber {address}")
    assert subscriber.id is not None
    if not erase:
        return unsubscribe(session=session, subscriber_id=subscriber.id, list_id=None, actor=actor, now=now)
    count = len(session.exec(select(Subscription.id).where(Subscription.subscriber_id == subscriber.id)).all())
    session.execute(
        update(ConsentEvent)
        .where(col(ConsentEvent.subscriber_id) == subscriber.id)
        .values(subscriber_id=None, ip=None, user_agent=None, detail=None)
    )
    session.execute(delete(Subscription).where(col(Subscription.subscriber_id) == subscriber.id))
    session.delete(subscriber)
    session.flush()
    suppress(session=session, email=address, reason=SubscriberStatus.ERASED, now=now)
    record_consent(session=session, subscriber_id=None, list_id=None, kind="erase", actor=actor, now=now)
    session.flush()
    return count


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """A subscriber on a list, as `digest subscribers list` and `export` show it."""

    email: str
    name: str | None
    language: str | None
    status: str
    sections: str | None
    subscribed_at: datetime
    frequency: str = "daily"
    format: str = "html"
    paused_until: date | None = None
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    #: The subscription's own status (``status`` shows the reader's when they bounced or complained).
    list_status: str = SubscriptionStatus.ACTIVE
    #: How the last subscribe, confirm and unsubscribe acts were made (web, cli, import, webhook).
    subscribed_source: str | None = None
    confirmed_source: str | None = None
    unsubscribed_source: str | None = None
    #: The reader's own time zone (None: the publication's).
    timezone: str | None = None


def _last_consent(list_id: int | None, kind: str, column: Any) -> Any:
    """A correlated subquery: ``column`` of the reader's last consent event ``kind`` on the list."""
    return (
        sql_select(column)
        .where(
            col(ConsentEvent.subscriber_id) == col(Subscriber.id),
            col(ConsentEvent.list_id) == list_id,
            col(ConsentEvent.kind) == kind,
        )
        .order_by(col(ConsentEvent.at).desc(), col(ConsentEvent.id).desc())
        .limit(1)
        .scalar_subquery()
    )


def list_subscribers(
    *, session: Session, mailing_list: MailingList, status: str | None = None
) -> Iterator[SubscriberRow]:
    """The subscribers of ``mailing_list`` (optionally only those in ``status``), streamed by address."""
    known = {*SubscriberStatus, *SubscriptionStatus}
    if status is not None and status not in known:
        raise SubscriberError(f"unknown status {status!r} (one of {', '.join(sorted(known))})")
    list_id = mailing_list.id
    query = (
        sql_select(
            Subscriber,
            Subscription,
            _last_consent(list_id, "unsubscribe", ConsentEvent.at),
            _last_consent(list_id, "subscribe", ConsentEvent.source),
            _last_consent(list_id, "confirm", ConsentEvent.source),
            _last_consent(list_id, "unsubscribe", ConsentEvent.source),
        )
        .join(Subscription, col(Subscription.subscriber_id) == col(Subscriber.id))
        .where(col(Subscription.list_id) == mailing_list.id)
        .order_by(col(Subscriber.email_key))
    )
    if status is not None:
        if status in set(SubscriberStatus) - {SubscriberStatus.ACTIVE}:
            query = query.where(col(Subscriber.status) == status)
        else:
            query = query.where(col(Subscription.status) == status, col(Subscriber.status) == SubscriberStatus.ACTIVE)
    rows = session.execute(query.execution_options(yield_per=1000))
    for subscriber, subscription, left_at, subscribed_by, confirmed_by, left_by in rows:
        shown = subscription.status if subscriber.status == SubscriberStatus.ACTIVE else subscriber.status
        left = subscription.status == SubscriptionStatus.UNSUBSCRIBED
        yield SubscriberRow(
            subscriber.email,
            subscriber.name,
            subscriber.language,
            shown,
            subscription.sections,
            subscription.created_at,
            subscription.frequency,
            subscription.format,
            subscription.paused_until,
            subscription.confirmed_at,
            left_at if left else None,
            subscription.status,
            subscribed_by,
            confirmed_by if subscription.confirmed_at is not None else None,
            left_by if left else None,
            subscriber.timezone,
        )


def suppress_many(*, session: Session, reasons: dict[str, str], now: datetime | None = None) -> None:
    """:func:`suppress` for many addresses at once (``reasons``: address -> reason), in a few statements whatever
    their number, on the driver's cursor: one upsert of the suppressions, one update of the subscribers per
    reason. The webhook's batches use it. Does not commit.

    The subscribers change in the database only: a Subscriber object the session already holds keeps the
    status it had until the session expires it (its commit does).
    """
    if not reasons:
        return
    now = now or utcnow()
    # By hash: two spellings of one address are one row, the later reason winning (PostgreSQL refuses a key
    # twice in one upsert); the same for the subscribers, by key.
    rows: dict[str, tuple[str, str | None, str | None, str]] = {}
    by_key: dict[str, str] = {}
    for email, reason in reasons.items():
        key = email_key(email)
        hashed = key_hash(key)
        erased = reason == SubscriberStatus.ERASED
        rows[hashed] = (hashed, None if erased else email, None if erased else key, reason)
        by_key[key] = reason
    driver = Driver(session)
    given = driver.rows(_SUPPRESSION_COLUMNS)
    # An address suppressed before keeps its row and first date; its reason becomes the latest.
    driver.execute(
        "INSERT INTO suppression (email_hash, email, email_key, reason, created_at) "
        f"SELECT given.email_hash, given.email, given.email_key, given.reason, ? FROM {given} AS given "
        # WHERE true: SQLite would read ON CONFLICT as part of the SELECT without a WHERE before it.
        "WHERE true ON CONFLICT (email_hash) DO UPDATE "
        "SET email = excluded.email, email_key = excluded.email_key, reason = excluded.reason",
        [driver.timestamp(now), json.dumps(list(rows.values()))],
    )
    by_reason: dict[str, list[str]] = {}
    for key, reason in by_key.items():
        by_reason.setdefault(reason, []).append(key)
    # One UPDATE per reason (a request has two or three): the keys as an array, which PostgreSQL looks up in the
    # index; joined to rows it cannot count, it would read every subscriber.
    for reason, keys in by_reason.items():
        driver.execute(
            f"UPDATE subscriber SET status = ? WHERE {driver.among('email_key', 'text')}", [reason, driver.keys(keys)]
        )


_SUPPRESSION_COLUMNS = (
    ("email_hash", "varchar"),
    ("email", "varchar"),
    ("email_key", "varchar"),
    ("reason", "varchar"),
)


def unsubscribe_many(
    *,
    session: Session,
    subscriber_ids: list[int],
    list_id: int | None,
    actor: Actor,
    now: datetime | None = None,
    detail: str | None = None,
) -> int:
    """:func:`unsubscribe` for many readers at once, from one list (or every list): one UPDATE returning what
    it changed, one insert into the consent log, on the driver's cursor (as :func:`suppress_many`).

    Returns how many subscriptions changed; the caller drops their queued deliveries. Does not commit.
    """
    if not subscriber_ids:
        return 0
    driver = Driver(session)
    at = driver.timestamp(now or utcnow())
    left = SubscriptionStatus.UNSUBSCRIBED.value
    of_list = "" if list_id is None else " AND list_id = ?"
    changed = driver.execute(
        f"UPDATE subscription SET status = ?, updated_at = ? WHERE {driver.among('subscriber_id')} "
        f"AND status != ?{of_list} RETURNING subscriber_id, list_id",
        [left, at, driver.ids(subscriber_ids), left, *([] if list_id is None else [list_id])],
    )
    if changed:
        # The consent log as :func:`record_consent` writes it (see :func:`_unsubscribe_logged`).
        given = driver.rows((("subscriber_id", "bigint"), ("list_id", "bigint")))
        driver.execute(
            "INSERT INTO consent_event (subscriber_id, list_id, kind, source, ip, user_agent, detail, at) "
            f"SELECT given.subscriber_id, given.list_id, 'unsubscribe', ?, ?, ?, ?, ? FROM {given} AS given",
            [actor.source, actor.ip, actor.logged_agent, detail, at, json.dumps([list(row) for row in changed])],
        )
    return len(changed)
