"""The pipeline's tables: editions, their rendered variants, deliveries, and source fetch state."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from subscribers.models import NEVER_REUSED_IDS, utcnow


def _ts(nullable: bool) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class EditionStatus(StrEnum):
    """An edition's life: built as a draft, approved by an editor, then sent."""

    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"


# Ids of the tables that grow by a row per reader per day (and more for events): a 32-bit id runs out after
# 2^31 rows, under six years of a million readers on PostgreSQL. SQLite keeps INTEGER, its 64-bit rowid.
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class DeliveryStatus(StrEnum):
    """One delivery's life; ``uncertain`` means the provider may or may not have it."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCERTAIN = "uncertain"


class EditionKind(StrEnum):
    """What an edition covers: one day (``daily``) or the week ending on its date (``weekly``)."""

    DAILY = "daily"
    WEEKLY = "weekly"


class Edition(SQLModel, table=True):
    """The digest of one list for one date and kind: the selection, subject, and status."""

    # A list's daily and weekly editions may share a date.
    __table_args__ = (UniqueConstraint("list_id", "date", "kind", name="uq_edition_list_date_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    list_id: int = Field(foreign_key="mailing_list.id", index=True)
    date: date
    kind: str = Field(default=EditionKind.DAILY, max_length=16, sa_column_kwargs={"server_default": "daily"})
    status: str = Field(default=EditionStatus.DRAFT, max_length=16)
    subject: str = Field(default="", max_length=400)
    preheader: str = Field(default="", max_length=400)
    selection_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    # The sections of the stories picked (featured and headlines), a JSON array, set with selection_json: the
    # preference page offers the sections of the list's last editions and reads only these, not 14 selections
    # of tens of kB each.
    picked_sections: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    choices_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    # The lint findings of the rendered variants (digest.lint), and whether an editor chose to send anyway.
    lint_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    lint_override: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # The span of publication times the edition covers (digest.window), fixed at its first build. Editions
    # built before windows were stored have none.
    window_start: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    window_end: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    approved_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class EditionVariant(SQLModel, table=True):
    """One rendered form of an edition (language x format), with per-reader placeholders unfilled."""

    __tablename__ = "edition_variant"
    __table_args__ = (UniqueConstraint("edition_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    edition_id: int = Field(foreign_key="edition.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=64)
    language: str = Field(max_length=8)
    format: str = Field(max_length=8)
    subject: str = Field(max_length=400)
    html: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))


class Delivery(SQLModel, table=True):
    """One edition to one subscriber; unique per pair so no one gets an edition twice."""

    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        # Claims take the lowest queued ids of an edition: a range scan of this index. It holds queued rows
        # only, so recording an outcome (sending -> sent) touches no index at all; with status as a column
        # every claim and every record moved an index entry (2.3 µs of ~28 per reader sent, SQLite). Counting
        # an edition's deliveries by status scans its rows instead (0.16 s per million, once or twice a run).
        Index(
            "ix_delivery_queued",
            "edition_id",
            "id",
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
        # The webhook asks which of a request's deliveries are uncertain (usually none): this index holds those
        # few rows, so the answer costs no read of the table (the query names the status as a constant, which a
        # partial index needs).
        Index(
            "ix_delivery_uncertain",
            "id",
            sqlite_where=text("status = 'uncertain'"),
            postgresql_where=text("status = 'uncertain'"),
        ),
        # Delivery ids come back in the provider's events: a reused one would credit another reader.
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    edition_id: int = Field(foreign_key="edition.id", ondelete="CASCADE")
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True, ondelete="CASCADE")
    status: str = Field(default=DeliveryStatus.QUEUED, max_length=16)
    attempts: int = 0
    lease_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # When a sender last took the delivery to hand it to the provider: how long an uncertain one has had
    # for the provider's events to settle it (digest.delivery.settle).
    claimed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # The token of the sender that claimed it (digest.delivery.liveness): on PostgreSQL, whether that sender is alive.
    claimed_by: int | None = Field(default=None, sa_type=BigInteger)
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    provider_id: str | None = Field(default=None, max_length=200)
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class SourceState(SQLModel, table=True):
    """What a source last answered, for conditional GET (ETag, Last-Modified)."""

    __tablename__ = "source_state"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(index=True, unique=True, max_length=2000)
    etag: str | None = Field(default=None, max_length=400)
    last_modified: str | None = Field(default=None, max_length=100)
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    fetched_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class SeenItem(SQLModel, table=True):
    """When an undated item was first read: it belongs to the edition window of that time, and no later one."""

    __tablename__ = "seen_item"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(index=True, unique=True, max_length=2000)
    first_seen: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class DeliveryEvent(SQLModel, table=True):
    """One event the provider reported about a delivery (delivered, open, click, bounce, ...).

    ``event_id`` is the provider's id (SendGrid's ``sg_event_id``): unique, so a retried webhook counts once.
    """

    __tablename__ = "delivery_event"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    event_id: str = Field(unique=True, max_length=100)
    # The delivery and its edition, both written only from the delivery row the event is matched to in the
    # webhook's one INSERT (digest.delivery.events), so neither has a foreign key: their checks (a locking
    # look-up of the delivery per event) were over a third of PostgreSQL's time per event. A delivery's events
    # go with it by the trigger migration a9c3e5f7b1d4 put on delivery (an edition's or a reader's deletion
    # included); an event stored while its delivery was being deleted may outlive it, naming no reader.
    delivery_id: int | None = Field(default=None, index=True, sa_type=ROW_ID)
    edition_id: int | None = None
    event: str = Field(max_length=32)
    occurred_at: datetime = Field(sa_column=_ts(nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class StoredSecret(SQLModel, table=True):
    """A secret `digest init` generated, kept in the database so every process of the site shares it."""

    __tablename__ = "stored_secret"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class RateLimitWindow(SQLModel, table=True):
    """Events counted in one window of one rate limit (digest.web.limits), when PostgreSQL shares the counts."""

    __tablename__ = "rate_limit"

    #: A hash of the limit's name, window and key (an address): the address itself is not stored.
    key: str = Field(primary_key=True, max_length=64)
    slot: int = Field(primary_key=True, sa_type=BigInteger)
    hits: int = 0
    expires_at: float = Field(index=True)


class EditionCounters(SQLModel, table=True):
    """An edition's figures kept as they happen, so the dashboard never counts the deliveries.

    Delivery statuses are set exactly when a send run starts (after enqueueing) and advanced by every outcome
    the ledger records; events count each delivery once per kind (a reader who opened twice opened once).
    """

    __tablename__ = "edition_counters"

    edition_id: int = Field(foreign_key="edition.id", primary_key=True, ondelete="CASCADE")
    recipients: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    failed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    uncertain: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    delivered: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    opened: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    clicked: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    bounced: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    unsubscribed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class TransactionalMailStatus(StrEnum):
    """A transactional mail's life: queued (and retried) until sent, failed after its tries, or dropped when
    there is nothing left to ask (the reader confirmed, left or was suppressed meanwhile)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"


class TransactionalMail(SQLModel, table=True):
    """One mail to one reader outside editions (a confirmation request), kept until it is sent: the mail
    server may be down when a visitor signs up; the queue sends it once it is back."""

    __tablename__ = "transactional_mail"
    __table_args__ = (Index("ix_transactional_mail_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True, ondelete="CASCADE")
    list_id: int = Field(foreign_key="mailing_list.id", ondelete="CASCADE")
    status: str = Field(default=TransactionalMailStatus.QUEUED, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
