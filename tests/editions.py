"""Helpers for tests of built editions: readers of several languages and sections, the sample day built."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from digest.edition import build_edition
from digest.models import Edition
from digest.settings import Settings
from subscribers.store import add_subscriber, get_list

SAMPLE = date(2025, 11, 27)
READERS = (
    ("amina@example.com", "fr", None),
    ("john@example.net", "en", None),
    ("karim@example.ma", "ar", None),
    ("youssef@example.com", "fr", ["Économie", "Tech"]),
)


def add_readers(engine: Engine, settings: Settings) -> None:
    """Subscribe one confirmed reader per (language, sections) of READERS to the default list."""
    with Session(engine) as session:
        mailing_list = get_list(session=session, slug=settings.list_slug)
        for email, language, sections in READERS:
            add_subscriber(
                session=session,
                mailing_list=mailing_list,
                email=email,
                language=language,
                sections=sections,
                confirmed=True,
            )
        session.commit()


def build_sample(engine: Engine, settings: Settings) -> Edition:
    """The sample day's edition, built for READERS."""
    add_readers(engine, settings)
    with Session(engine, expire_on_commit=False) as session:
        edition, _ = build_edition(session=session, settings=settings, day=SAMPLE)
    return edition
