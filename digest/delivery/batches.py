"""The readers of a claimed batch and the provider calls they make: which variant each reader gets, in
which format, with which per-reader links; and :class:`Mailing`, what every kind of send shares."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.delivery.ledger import Ledger
from digest.edition import parse_sections, variant_key
from digest.errors import EditionError
from digest.links import Links
from digest.mail.base import Batch, Content, MailBackend, Recipient, list_id, sender_address
from digest.models import Edition, EditionVariant
from digest.settings import Settings
from subscribers.models import MailingList

Clock = Callable[[], datetime]


class Reader(NamedTuple):
    """One reader of a claimed batch."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str | None
    language: str | None
    format: str | None
    #: Comma-separated sections the reader chose on this list (none: all).
    sections: str | None
    #: False when the reader left (unsubscribed, bounced, complained, erased) after being queued.
    still_subscribed: bool
    #: Signs the reader's links (digest.links).
    token_secret: str = ""


def claimed_readers(ledger: Ledger, list_id: int, claimed: dict[int, int]) -> list[Reader]:
    """The readers of claimed deliveries ({delivery id: subscriber id}) in claim order; one whose row is gone
    counts as no longer subscribed."""
    rows = ledger.readers(list_id, claimed.values())
    return [
        Reader(delivery_id, *rows[subscriber_id])
        if subscriber_id in rows
        else Reader(delivery_id, subscriber_id, "", None, None, None, None, False)
        for delivery_id, subscriber_id in claimed.items()
    ]


@dataclass(frozen=True)
class Mailing:
    """One edition going out through one backend: what every kind of send (real, dry run, test) needs."""

    engine: Engine
    edition_id: int
    backend: MailBackend
    links: Links
    sender: str
    default_language: str

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine, edition_id: int, backend: MailBackend) -> Mailing:
        """The mailing of ``edition_id`` through ``backend`` (see :func:`digest.mail.open_backend`), with the
        links and sender the settings name."""
        return cls(
            engine=engine,
            edition_id=edition_id,
            backend=backend,
            links=Links.from_settings(settings),
            sender=settings.from_address,
            default_language=settings.language,
        )

    def load(self, session: Session) -> EditionContext:
        """The edition with its list and rendered variants."""
        edition = session.get(Edition, self.edition_id)
        if edition is None:
            raise EditionError(f"no edition with id {self.edition_id}")
        # Checked before any claim: a bad DIGEST_FROM must stop the send before anyone is taken from the queue.
        sender_address(self.sender)
        return EditionContext.load(session, edition, self.sender, self.default_language)


@dataclass
class EditionContext:
    """What every batch of one edition shares, loaded once per process."""

    edition: Edition
    mailing_list: MailingList
    variants: dict[str, EditionVariant]
    sender: str
    default_language: str

    @classmethod
    def load(cls, session: Session, edition: Edition, sender: str, default_language: str) -> EditionContext:
        mailing_list = session.get(MailingList, edition.list_id)
        assert mailing_list is not None
        variants = {
            v.key: v for v in session.exec(select(EditionVariant).where(EditionVariant.edition_id == edition.id))
        }
        if not variants:
            raise EditionError(f"the {edition.date} edition has no rendered variant: run `digest build` again")
        return cls(edition, mailing_list, variants, sender, default_language)

    @property
    def key(self) -> str:
        return f"{self.edition.date.isoformat()}.{self.mailing_list.slug}"

    def variant(self, language: str | None, sections: str | None = None) -> EditionVariant:
        """The variant a reader gets: their language and sections when rendered, else their language with
        every section, else the publication's default language."""
        chosen = parse_sections(sections)
        candidates = [
            variant_key(language or self.default_language, chosen),
            variant_key(language or self.default_language),
        ]
        candidates += [variant_key(self.default_language, chosen), variant_key(self.default_language)]
        for key in candidates:
            if key in self.variants:
                return self.variants[key]
        return next(iter(self.variants.values()))

    @staticmethod
    def content(variant: EditionVariant, fmt: str) -> Content:
        """``variant`` as a reader of format ``fmt`` (html or text) gets it."""
        return Content(subject=variant.subject, html=None if fmt == "text" else variant.html, text=variant.text)

    def batch(self, content: Content, recipients: list[Recipient], now: datetime) -> Batch:
        """One provider call's worth: ``content`` to ``recipients``."""
        return Batch(
            content=content,
            recipients=recipients,
            sender=self.sender,
            list_id=list_id(self.mailing_list.name, self.mailing_list.slug, self.sender),
            now=now,
            edition_key=self.key,
            categories=(self.mailing_list.slug, self.edition.date.isoformat()),
            custom_args={"edition_id": str(self.edition.id)},
        )


def build_batches(context: EditionContext, links: Links, readers: list[Reader], clock: Clock) -> Iterator[Batch]:
    """The provider calls for ``readers``: one batch per (variant, format) they need, in claim order."""
    groups: dict[tuple[str, str], list[Reader]] = defaultdict(list)
    # Readers share a handful of (language, sections) choices: each is resolved to its variant once, not
    # per reader (resolving parses the sections and reads ORM attributes).
    variant_keys: dict[tuple[str | None, str | None], str] = {}
    for reader in readers:
        choice = (reader.language, reader.sections)
        key = variant_keys.get(choice)
        if key is None:
            key = variant_keys[choice] = context.variant(*choice).key
        groups[(key, reader.format or "html")].append(reader)
    list_id = context.edition.list_id
    reader_fields = links.reader_fields
    for (key, fmt), group in groups.items():
        recipients = [
            Recipient(
                email=r.email,
                name=r.name,
                delivery_id=r.delivery_id,
                fields=reader_fields(r.subscriber_id, list_id, r.token_secret),
            )
            for r in group
        ]
        content = context.content(context.variants[key], fmt)
        yield context.batch(content, recipients, clock())
