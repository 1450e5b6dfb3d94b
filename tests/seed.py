"""Test data for sending: an edition with rendered variants and many readers, inserted in bulk."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import Session, select

from digest.edition import variant_key
from digest.mail.base import Batch, Content, Recipient
from digest.models import Edition, EditionStatus, EditionVariant
from subscribers.addresses import email_key
from subscribers.models import MailingList, Subscriber, Subscription, utcnow

DAY = date(2025, 11, 27)
SUBJECT = "Le Quotidien du 27 novembre"


def html_of(subject: str) -> str:
    """A small rendered variant with both per-reader placeholders."""
    return (
        f"<html><head><title>{subject}</title></head><body><p>Bonjour</p>"
        '<a href="%%unsubscribe_url%%">Se désabonner</a> <a href="%%preferences_url%%">Préférences</a>'
        "</body></html>"
    )


def seed_edition(
    engine: Engine,
    *,
    languages: tuple[str, ...] = ("fr",),
    section_variants: tuple[str, ...] = (),
    status: str = EditionStatus.APPROVED,
    list_slug: str = "quotidien",
    day: date = DAY,
) -> int:
    """An edition of ``list_slug`` for ``day`` (DAY) with one variant per language; returns its id."""
    with Session(engine) as session:
        mailing_list = session.exec(select(MailingList).where(MailingList.slug == list_slug)).one()
        edition = Edition(list_id=mailing_list.id or 0, date=day, status=status, subject=SUBJECT)
        session.add(edition)
        session.flush()
        keys = [(lang, variant_key(lang)) for lang in languages]
        keys += [("fr", variant_key("fr", frozenset(s.split(",")))) for s in section_variants]
        for language, key in keys:
            subject = SUBJECT if key == "fr" else f"{SUBJECT} ({key})"
            session.add(
                EditionVariant(
                    edition_id=edition.id or 0,
                    key=key,
                    language=language,
                    format="html",
                    subject=subject,
                    html=html_of(subject),
                    text=f"{subject}\n\nSe désabonner : %%unsubscribe_url%%\nPréférences : %%preferences_url%%\n",
                )
            )
        session.commit()
        assert edition.id is not None
        return edition.id


def add_readers(
    engine: Engine,
    count: int,
    *,
    start: int = 0,
    language: str | None = None,
    fmt: str = "html",
    list_slug: str = "quotidien",
    status: str = "active",
    sections: str | None = None,
) -> list[str]:
    """``count`` confirmed readers reader<i>@example.com on ``list_slug``; returns their addresses."""
    now = utcnow()
    emails = [f"reader{i}@example.com" for i in range(start, start + count)]
    with Session(engine) as session:
        list_id = session.exec(select(MailingList.id).where(MailingList.slug == list_slug)).one()
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": e,
                    "email_key": email_key(e),
                    "name": f"Reader {e[6:-12]}",
                    "language": language,
                    "status": "active",
                    "created_at": now,
                    "token_secret": f"secret-{e}",
                }
                for e in emails
            ],
        )
        ids = session.exec(select(Subscriber.id).where(Subscriber.email.in_(emails))).all()  # type: ignore[attr-defined]
        session.execute(
            insert(Subscription),
            [
                {
                    "subscriber_id": i,
                    "list_id": list_id,
                    "status": status,
                    "frequency": "daily",
                    "format": fmt,
                    "sections": sections,
                    "confirmed_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in ids
            ],
        )
        session.commit()
    return emails


def make_batch(count: int = 3, *, html: bool = True, **extra: Any) -> Batch:
    """A batch of ``count`` readers, each with their own links."""
    subject = "Le Quotidien — الجريدة du 27 novembre"
    values: dict[str, Any] = dict(
        content=Content(
            subject=subject,
            html=f'<html><head><title>{subject}</title></head><body><a href="%%unsubscribe_url%%">x</a>'
            '<a href="%%preferences_url%%">p</a></body></html>'
            if html
            else None,
            text="Bonjour\nSe désabonner : %%unsubscribe_url%%\nPréférences : %%preferences_url%%\n",
        ),
        recipients=[
            Recipient(
                email=f"reader{i}@example.com",
                name=f"Lecteur {i}",
                delivery_id=100 + i,
                fields={
                    "unsubscribe_url": f"https://news.example.com/u/token-{i}",
                    "preferences_url": f"https://news.example.com/p/token-{i}",
                },
            )
            for i in range(count)
        ],
        sender="Le Quotidien <news@example.com>",
        list_id="Quotidien <quotidien.example.com>",
        now=datetime(2025, 11, 27, 6, 0, tzinfo=UTC),
        edition_key="2025-11-27.quotidien",
        categories=("quotidien", "2025-11-27"),
        custom_args={"edition_id": "7"},
    )
    values.update(extra)
    return Batch(**values)
