"""Helpers for the subscriber tests: make readers, talk to the web app, read the outbox."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from digest.db import open_session
from digest.links import Links
from digest.settings import Settings
from digest.web.app import create_app
from subscribers.models import ConsentEvent, Subscriber, Subscription
from subscribers.store import add_subscriber, get_list


def make_reader(
    engine: Engine,
    address: str,
    *,
    confirmed: bool = True,
    list_slug: str = "quotidien",
    language: str | None = None,
    name: str | None = None,
) -> tuple[int, int]:
    """Subscribe ``address``; returns (subscriber id, list id)."""
    with open_session(engine) as session:
        mailing_list = get_list(session=session, slug=list_slug)
        result = add_subscriber(
            session=session,
            mailing_list=mailing_list,
            email=address,
            confirmed=confirmed,
            language=language,
            name=name,
        )
        session.commit()
        assert result.subscriber.id is not None and mailing_list.id is not None
        return result.subscriber.id, mailing_list.id


def subscription(engine: Engine, subscriber_id: int, list_id: int) -> Subscription:
    """The stored subscription, read fresh."""
    with open_session(engine) as session:
        found = session.exec(
            select(Subscription).where(Subscription.subscriber_id == subscriber_id, Subscription.list_id == list_id)
        ).one()
        return found


def consent_kinds(engine: Engine, subscriber_id: int | None = None) -> list[str]:
    """The kinds of consent events, oldest first (of one subscriber, or all)."""
    with open_session(engine) as session:
        query = select(ConsentEvent.kind).order_by(ConsentEvent.id)  # type: ignore[arg-type]
        if subscriber_id is not None:
            query = query.where(ConsentEvent.subscriber_id == subscriber_id)
        return list(session.exec(query).all())


def client(settings: Settings, engine: Engine) -> TestClient:
    """A test client of the whole app, addressed at DIGEST_BASE_URL."""
    return TestClient(create_app(settings, engine=engine), base_url=settings.base_url)


def secret_of(engine: Engine, subscriber_id: int) -> str:
    """The reader's link secret, as stored."""
    with open_session(engine) as session:
        found = session.get(Subscriber, subscriber_id)
        return found.token_secret if found else "no-such-reader"


def links(settings: Settings) -> Links:
    """The settings' link signer."""
    return Links(settings.base_url, settings.signing_keys())


def local(url: str, settings: Settings) -> str:
    """The path of an absolute link of the app."""
    assert url.startswith(settings.base_url)
    return url.removeprefix(settings.base_url)


def read_messages(folder: Path) -> list[EmailMessage]:
    """Every .eml under ``folder``, parsed."""
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(folder.rglob("*.eml"))
    ]


def text_of(message: EmailMessage) -> str:
    """The plain-text part of ``message``."""
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, kind: str, base_url: str) -> str:
    """The first ``/kind/TOKEN`` link of ``message``'s text or HTML."""
    bodies = [str(part.get_content()) for part in message.walk() if part.get_content_maintype() == "text"]
    found = re.search(re.escape(base_url) + rf"/{kind}/[\w.\-]+", "\n".join(bodies))
    assert found, f"no /{kind}/ link in the message"
    return found.group(0)


def csrf_of(html: str) -> str:
    """The CSRF token of the preference form."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)
