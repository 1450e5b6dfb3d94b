"""The subscriber store's tables: lists, subscribers, their subscriptions, consent and suppressions."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Column, DateTime, UniqueConstraint, false, true
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, aware, in UTC (the one clock the store uses for its timestamps)."""
    return datetime.now(UTC)


# A reader's link secret: 128 random bits.
TOKEN_SECRET_BYTES = 16
# A secret in base64 without its padding, and a secret with the two zero bytes that make a whole number of
# base64 groups (:func:`new_token_secrets`).
_SECRET_LENGTH = 22
_PADDED_SECRET = TOKEN_SECRET_BYTES + 2


def new_token_secret() -> str:
    """A reader's random link secret (128 bits): every signed link of theirs is bound to it."""
    return secrets.token_urlsafe(TOKEN_SECRET_BYTES)


def new_token_secrets(count: int) -> list[str]:
    """``count`` secrets like :func:`new_token_secret`'s, from one read of the system's random source (an
    import of 100k readers made 100k reads), encoded in one call: each secret's bytes followed by two zero
    bytes make 24 base64 characters, the first 22 of which are that secret's own encoding."""
    padded = bytearray(secrets.token_bytes(_PADDED_SECRET * count))
    padded[TOKEN_SECRET_BYTES::_PADDED_SECRET] = padded[TOKEN_SECRET_BYTES + 1 :: _PADDED_SECRET] = bytes(count)
    encoded = base64.urlsafe_b64encode(padded).decode("ascii")
    step = _PADDED_SECRET // 3 * 4
    return [encoded[start : start + _SECRET_LENGTH] for start in range(0, len(encoded), step)]


# Ids that reach links, provider events or file names are never handed out twice: on SQLite an INTEGER
# PRIMARY KEY without AUTOINCREMENT reuses the largest id once its row is deleted (PostgreSQL's sequences never
# go back).
NEVER_REUSED_IDS = {"sqlite_autoincrement": True}


def _ts(**kwargs: object) -> Column[datetime]:
    return Column(DateTime(timezone=True), **kwargs)  # type: ignore[arg-type]


class SubscriberStatus(StrEnum):
    """Whether an address may receive anything at all."""

    ACTIVE = "active"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    ERASED = "erased"


class SubscriptionStatus(StrEnum):
    """Where a subscriber stands on one list."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class MailingList(SQLModel, table=True):
    """A list people subscribe to, e.g. ``quotidien``."""

    __tablename__ = "mailing_list"
    __table_args__ = NEVER_REUSED_IDS

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    #: Offered in every reader's preference centre; a private (internal) list is joined only by the publisher.
    public: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Subscriber(SQLModel, table=True):
    """One email address; ``email_key`` (lower-cased) keeps addresses unique case-insensitively."""

    __table_args__ = NEVER_REUSED_IDS

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    email_key: str = Field(index=True, unique=True, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=8)
    #: The reader's IANA time zone (subscribers.inputs.check_timezone); None: the publication's.
    timezone: str | None = Field(default=None, max_length=64)
    status: str = Field(default=SubscriberStatus.ACTIVE, max_length=16)
    #: Signs this reader's links (digest.links); a new reader, even at an old address, gets a new one.
    token_secret: str = Field(default_factory=new_token_secret, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Subscription(SQLModel, table=True):
    """A subscriber on a list, with the preferences for that list."""

    __table_args__ = (UniqueConstraint("subscriber_id", "list_id"),)

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: the unique (subscriber_id, list_id) index leads with it and serves every look-up by
    # reader; a second one cost every import and sign-up an index entry per row.
    subscriber_id: int = Field(foreign_key="subscriber.id", ondelete="CASCADE")
    list_id: int = Field(foreign_key="mailing_list.id", index=True, ondelete="CASCADE")
    status: str = Field(default=SubscriptionStatus.PENDING, max_length=16)
    sections: str | None = Field(default=None, description="comma-separated sections; none means all")
    frequency: str = Field(default="daily", max_length=8)
    format: str = Field(default="html", max_length=8)
    paused_until: date | None = None
    confirmed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ConsentEvent(SQLModel, table=True):
    """One consent act (subscribe, confirm, change, unsubscribe, erase), kept as evidence."""

    __tablename__ = "consent_event"

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int | None = Field(default=None, foreign_key="subscriber.id", index=True, ondelete="SET NULL")
    list_id: int | None = Field(default=None, foreign_key="mailing_list.id", ondelete="SET NULL")
    kind: str = Field(max_length=16)
    source: str = Field(max_length=16)
    detail: str | None = None
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=400)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Suppression(SQLModel, table=True):
    """An address never to mail again (bounced, complained, erased); erased ones keep only the hash."""

    id: int | None = Field(default=None, primary_key=True)
    email_hash: str = Field(index=True, unique=True, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    #: The address as subscribers are matched (``subscribers.addresses.email_key``); none once erased. Indexed
    #: so that a send checks a million readers against thousands of suppressions by lookup, not by pairs.
    email_key: str | None = Field(default=None, index=True, max_length=320)
    reason: str = Field(max_length=16)
    #: An erasure stored before address keys kept ``ß`` apart from ``ss``: its hash is of the case-folded address
    #: (``subscribers.addresses.legacy_email_hash``), which the upgrade could not recompute.
    legacy_key: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
