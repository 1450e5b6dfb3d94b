"""A stranger cannot act on a known reader through the sign-up form (L2), and expiry only forgets sign-ups
nobody ever confirmed; over HTTP against the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update
from sqlmodel import col, select

from digest.db import open_session
from digest.links import Links
from subscribers.importer import import_csv
from subscribers.models import ConsentEvent, MailingList, Subscriber, Subscription, SubscriptionStatus
from subscribers.store import add_subscriber, create_list, expire_pending, get_list, remove_subscriber
from tests.subscribers_helpers import (
    client,
    consent_kinds,
    link_in,
    local,
    make_reader,
    read_messages,
    secret_of,
    subscription,
)

EMAIL = "amina@example.com"
LATER = timedelta(days=8)  # past PENDING_MAX_AGE


@pytest.fixture
def http(settings, engine):
    with client(settings, engine) as test_client:
        yield test_client


def _import(engine, address: str) -> int:
    with open_session(engine) as session:
        quotidien = get_list(session=session, slug="quotidien")
        import_csv(io.StringIO(f"email\n{address}\n"), session=session, mailing_list=quotidien, confirmed=True)
        session.commit()
        found = session.exec(select(Subscriber).where(Subscriber.email == address)).one()
        assert found.id is not None
        return found.id


def _expire(engine) -> int:
    with open_session(engine) as session:
        count = expire_pending(session=session, now=datetime.now(UTC) + LATER)
        session.commit()
    return count


def _log(engine, subscriber_id: int) -> list[tuple[str, str | None]]:
    with open_session(engine) as session:
        events = session.exec(select(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber_id)).all()
        return [(event.kind, event.ip) for event in events]


def test_a_strangers_signup_leaves_an_unsubscribed_reader_alone_until_the_new_link_is_used(
    http, settings, engine
) -> None:
    reader = _import(engine, EMAIL)
    with open_session(engine) as session:
        remove_subscriber(session=session, email=EMAIL)
        session.commit()
    with open_session(engine) as session:
        list_id = get_list(session=session, slug="quotidien").id
    assert list_id is not None
    # A confirm link made before the stranger's sign-up (an old email of the reader's) must not act later.
    old_links = Links(settings.base_url, settings.signing_keys(), clock=lambda: time.time() - 120)
    old_confirm = local(old_links.confirm_url(reader, list_id, secret_of(engine, reader)), settings)

    answer = http.post("/subscribe", data={"email": "Amina@Example.com", "list": "quotidien", "name": "Mallory"})
    assert answer.status_code == 200
    assert subscription(engine, reader, list_id).status == SubscriptionStatus.UNSUBSCRIBED
    assert consent_kinds(engine, reader)[-1] == "request"
    with open_session(engine) as session:
        stored = session.get(Subscriber, reader)
        assert stored is not None and stored.name is None, "a stranger changed the reader's name"

    # Expiry a week later neither deletes the reader nor anonymises their log.
    log_before = _log(engine, reader)
    assert _expire(engine) == 0
    assert _log(engine, reader) == log_before
    assert subscription(engine, reader, list_id).status == SubscriptionStatus.UNSUBSCRIBED

    assert http.get(old_confirm).status_code == 404
    assert http.post(old_confirm).status_code == 404
    (message,) = read_messages(settings.outbox_dir)
    assert message["To"] == EMAIL  # the unverified name stays out of the header
    confirm = local(link_in(message, "c", settings.base_url), settings)
    assert http.get(confirm).status_code == 200
    assert http.post(confirm).status_code == 200
    assert subscription(engine, reader, list_id).status == SubscriptionStatus.ACTIVE
    assert consent_kinds(engine, reader)[-2:] == ["request", "confirm"]

    # Left again: the link that brought them back does not bring them back a second time.
    with open_session(engine) as session:
        remove_subscriber(session=session, email=EMAIL)
        session.commit()
    assert http.post(confirm).status_code == 404
    assert subscription(engine, reader, list_id).status == SubscriptionStatus.UNSUBSCRIBED


def _web_signup(engine, address: str, slug: str = "quotidien") -> int:
    with open_session(engine) as session:
        result = add_subscriber(
            session=session, mailing_list=get_list(session=session, slug=slug), email=address, source="web"
        )
        session.commit()
        assert result.subscriber.id is not None
        return result.subscriber.id


def _history_web_only(engine) -> int:
    return _web_signup(engine, EMAIL)


def _history_imported_pending(engine) -> int:
    return make_reader(engine, EMAIL, confirmed=False)[0]


def _history_reader_of_another_list(engine) -> int:
    with open_session(engine) as session:
        create_list(session=session, slug="hebdo")
        session.commit()
    make_reader(engine, EMAIL, list_slug="hebdo")
    return _web_signup(engine, EMAIL)


def _history_confirmed_left_then_added_by_the_publisher(engine) -> int:
    reader = _web_signup(engine, EMAIL)
    with open_session(engine) as session:
        (found,) = session.exec(select(Subscription).where(Subscription.subscriber_id == reader)).all()
        found.status = SubscriptionStatus.ACTIVE
        found.confirmed_at = datetime.now(UTC)
        session.add(ConsentEvent(subscriber_id=reader, list_id=found.list_id, kind="confirm", source="web"))
        session.commit()
        remove_subscriber(session=session, email=EMAIL)
        session.commit()
    make_reader(engine, EMAIL, confirmed=False)  # the publisher's `subscribers add`: pending again
    return reader


def _history_on_a_list_since_deleted(engine) -> int:
    with open_session(engine) as session:
        create_list(session=session, slug="ancienne")
        session.commit()
    make_reader(engine, EMAIL, list_slug="ancienne")
    with open_session(engine) as session:
        gone = get_list(session=session, slug="ancienne")
        session.execute(delete(Subscription).where(col(Subscription.list_id) == gone.id))
        # What ON DELETE SET NULL leaves of the log.
        session.execute(update(ConsentEvent).where(col(ConsentEvent.list_id) == gone.id).values(list_id=None))
        session.execute(delete(MailingList).where(col(MailingList.id) == gone.id))
        session.commit()
    return _web_signup(engine, EMAIL)


# history -> (web sign-ups expired, reader deleted)
EXPIRY_TABLE = [
    (_history_web_only, 1, True),
    (_history_imported_pending, 0, False),
    (_history_reader_of_another_list, 1, False),
    (_history_confirmed_left_then_added_by_the_publisher, 0, False),
    (_history_on_a_list_since_deleted, 1, False),
]


@pytest.mark.parametrize(("history", "expired", "deleted"), EXPIRY_TABLE, ids=lambda v: getattr(v, "__name__", v))
def test_expiry_forgets_only_signups_nobody_ever_confirmed(engine, history, expired: int, deleted: bool) -> None:
    reader = history(engine)
    kept_log = _log(engine, reader)
    assert _expire(engine) == expired
    with open_session(engine) as session:
        found = session.get(Subscriber, reader)
    assert (found is None) == deleted
    if not deleted:
        # The reader's consent log is theirs still: every event kept, none anonymised.
        assert _log(engine, reader)[: len(kept_log)] == kept_log
