"""The subscriber store: who is eligible for an edition, consent log, erasure, expiry; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from digest.db import open_session
from digest.delivery.queue import drop_queued
from digest.errors import SubscriberError
from digest.models import Delivery, Edition
from subscribers.addresses import email_hash, email_key
from subscribers.eligibility import eligible_readers, eligible_subscribers
from subscribers.models import ConsentEvent, Subscriber, SubscriberStatus, Suppression
from subscribers.store import (
    Actor,
    Preferences,
    add_subscriber,
    create_list,
    find_reader,
    get_list,
    remove_subscriber,
    suppress,
    suppress_many,
    unsubscribe,
    update_preferences,
)
from tests.subscribers_helpers import consent_kinds, make_reader

MONDAY = date(2025, 11, 24)
THURSDAY = date(2025, 11, 27)
SUNDAY = date(2025, 11, 30)


def _eligible(engine, list_id: int, day: date, kind: str = "daily") -> set[int]:
    with open_session(engine) as session:
        return set(session.execute(eligible_subscribers(list_id=list_id, day=day, kind=kind)).scalars())


def _prefs(engine, subscriber_id: int, list_id: int, **changes) -> None:
    with open_session(engine) as session:
        reader = find_reader(session=session, subscriber_id=subscriber_id, list_id=list_id)
        assert reader is not None
        current = reader.subscription
        update_preferences(
            session=session,
            reader=reader,
            language=reader.subscriber.language,
            name=reader.subscriber.name,
            preferences=Preferences(
                sections=changes.get("sections", []),
                frequency=changes.get("frequency", current.frequency),
                format=changes.get("format", current.format),
                paused_until=changes.get("paused_until", current.paused_until),
            ),
            lists={},
            actor=Actor(source="web"),
        )
        session.commit()


def test_eligibility_active_confirmed_not_suppressed_not_paused_matching_frequency(engine) -> None:
    active, list_id = make_reader(engine, "active@example.com")
    pending, _ = make_reader(engine, "pending@example.com", confirmed=False)
    weekly, _ = make_reader(engine, "weekly@example.com")
    both, _ = make_reader(engine, "both@example.com")
    paused, _ = make_reader(engine, "paused@example.com")
    bounced, _ = make_reader(engine, "bounced@example.com")
    gone, _ = make_reader(engine, "gone@example.com")
    _prefs(engine, weekly, list_id, frequency="weekly")
    _prefs(engine, both, list_id, frequency="both")
    _prefs(engine, paused, list_id, paused_until=THURSDAY + timedelta(days=1))
    with open_session(engine) as session:
        suppress(session=session, email="Bounced@Example.com", reason=SubscriberStatus.BOUNCED)
        session.commit()
    with open_session(engine) as session:
        remove_subscriber(session=session, email="gone@example.com")
        session.commit()
    assert _eligible(engine, list_id, THURSDAY) == {active, both}
    assert _eligible(engine, list_id, MONDAY) == {active, both}, "weekly readers get no daily edition, any day"
    assert _eligible(engine, list_id, SUNDAY, "weekly") == {weekly, both}, "the round-up: weekly and both only"
    assert _eligible(engine, list_id, THURSDAY + timedelta(days=1)) == {active, both, paused}  # resumes that day
    assert _eligible(engine, list_id, THURSDAY, "weekly") == {weekly, both}
    with pytest.raises(SubscriberError, match="no such edition kind 'monthly'"):
        _eligible(engine, list_id, THURSDAY, "monthly")
    del pending, bounced, gone


def test_suppression_alone_is_enough_to_skip_a_reader(engine) -> None:
    reader, list_id = make_reader(engine, "late-bounce@example.com")
    with open_session(engine) as session:
        session.add(
            Suppression(
                email_hash=email_hash("late-bounce@example.com"),
                email="Late-Bounce@example.com",
                email_key=email_key("Late-Bounce@example.com"),
                reason="bounced",
            )
        )
        session.commit()
    assert reader not in _eligible(engine, list_id, THURSDAY)


def test_suppressing_many_keeps_one_row_per_address_and_the_latest_reason(engine) -> None:
    reader, _ = make_reader(engine, "twice@example.com")
    with open_session(engine) as session:
        suppress_many(session=session, reasons={"twice@example.com": SubscriberStatus.BOUNCED})
        session.commit()
    with open_session(engine) as session:
        # Two spellings of one address in one call, and an address suppressed before: one row each, the
        # later reason kept, the first date too.
        first = session.exec(select(Suppression)).one().created_at
        suppress_many(
            session=session,
            reasons={
                "Twice@Example.com": SubscriberStatus.BOUNCED,
                "twice@example.com": SubscriberStatus.COMPLAINED,
                "other@example.com": SubscriberStatus.BOUNCED,
            },
        )
        session.commit()
    with open_session(engine) as session:
        rows = {row.email_key: row for row in session.exec(select(Suppression))}
        assert set(rows) == {"twice@example.com", "other@example.com"}
        assert rows["twice@example.com"].reason == SubscriberStatus.COMPLAINED
        assert rows["twice@example.com"].created_at == first
        assert session.get(Subscriber, reader).status == SubscriberStatus.COMPLAINED


def test_eligible_readers_stream_in_batches_with_what_the_sender_needs(engine) -> None:
    ids = [make_reader(engine, f"r{i}@example.com", language="ar")[0] for i in range(5)]
    _, list_id = make_reader(engine, "pending@example.com", confirmed=False)
    _prefs(engine, ids[0], list_id, sections=["Tech", "Économie"], format="text")
    with open_session(engine) as session:
        readers = list(eligible_readers(session=session, list_id=list_id, day=THURSDAY, batch=2))
    assert [r.subscriber_id for r in readers] == ids
    assert readers[0].sections == ["Tech", "Économie"] and readers[0].format == "text"
    assert {r.language for r in readers} == {"ar"}


def test_unsubscribed_reader_signed_up_again_on_the_web_is_asked_and_logged(engine) -> None:
    reader, list_id = make_reader(engine, "amina@example.com")
    with open_session(engine) as session:
        remove_subscriber(session=session, email="amina@example.com")
        result = add_subscriber(
            session=session,
            mailing_list=get_list(session=session, slug="quotidien"),
            email="AMINA@example.com",
            source="web",
        )
        session.commit()
    assert result.outcome == "asked" and result.needs_confirmation
    assert result.subscription.status == "unsubscribed"  # until the reader uses the new confirm link
    assert consent_kinds(engine, reader) == ["subscribe", "confirm", "unsubscribe", "request"]
    assert reader not in _eligible(engine, list_id, THURSDAY)


def test_erasure_deletes_personal_data_anonymises_the_log_and_keeps_a_hash(engine) -> None:
    reader, _ = make_reader(engine, "amina@example.com", name="Amina")
    with open_session(engine) as session:
        remove_subscriber(session=session, email="Amina@example.com", erase=True)
        session.commit()
    with open_session(engine) as session:
        assert session.exec(select(Subscriber)).all() == []
        events = session.exec(select(ConsentEvent)).all()
        assert [e.kind for e in events] == ["subscribe", "confirm", "erase"]
        assert all(e.subscriber_id is None and e.ip is None and e.detail is None for e in events)
        (suppression,) = session.exec(select(Suppression)).all()
        assert suppression.email is None and suppression.reason == "erased"
        assert suppression.email_hash == email_hash("amina@example.com")
        with pytest.raises(SubscriberError, match="suppressed"):
            add_subscriber(
                session=session, mailing_list=get_list(session=session, slug="quotidien"), email="amina@example.com"
            )
    del reader


def test_removing_an_unknown_address_says_so(engine) -> None:
    with open_session(engine) as session, pytest.raises(SubscriberError, match="no subscriber"):
        remove_subscriber(session=session, email="nobody@example.com")


def test_preference_changes_are_logged_with_what_changed(engine) -> None:
    reader, list_id = make_reader(engine, "amina@example.com")
    _prefs(engine, reader, list_id, frequency="weekly")
    _prefs(engine, reader, list_id, frequency="weekly")  # no change, no event
    with open_session(engine) as session:
        changes = session.exec(select(ConsentEvent).where(ConsentEvent.kind == "change")).all()
    assert len(changes) == 1 and changes[0].detail == "frequency=weekly"


def test_unsubscribing_drops_queued_deliveries_of_that_list_only(engine) -> None:
    reader, list_id = make_reader(engine, "amina@example.com")
    with open_session(engine) as session:
        other = create_list(session=session, slug="hebdo")
        editions = [
            Edition(list_id=list_id, date=THURSDAY),
            Edition(list_id=list_id, date=MONDAY),
            Edition(list_id=other.id, date=THURSDAY),
        ]
        session.add_all(editions)
        session.flush()
        statuses = ["queued", "sent", "queued"]
        session.add_all(
            Delivery(edition_id=e.id, subscriber_id=reader, status=st) for e, st in zip(editions, statuses, strict=True)
        )
        session.commit()
        unsubscribe(session=session, subscriber_id=reader, list_id=list_id, actor=Actor(source="web"))
        drop_queued(session.connection(), subscriber_id=reader, list_id=list_id)
        session.commit()
        left = session.exec(select(Delivery.edition_id, Delivery.status).order_by(Delivery.edition_id)).all()
    assert [status for _, status in left] == ["sent", "queued"]


def test_unsubscribing_from_everything_logs_each_list_once_and_the_session_sees_it(engine) -> None:
    reader, list_id = make_reader(engine, "amina@example.com")
    with open_session(engine) as session:
        other = create_list(session=session, slug="hebdo")
        session.commit()
    make_reader(engine, "amina@example.com", list_slug="hebdo")
    with open_session(engine) as session:
        loaded = find_reader(session=session, subscriber_id=reader, list_id=list_id)
        assert loaded is not None and loaded.subscription.status == "active"
        changed = unsubscribe(
            session=session, subscriber_id=reader, list_id=None, actor=Actor(source="web", ip="192.0.2.7")
        )
        # The subscription the session had loaded reads the new status (the UPDATE ran on its connection).
        assert changed == 2 and loaded.subscription.status == "unsubscribed"
        assert unsubscribe(session=session, subscriber_id=reader, list_id=None, actor=Actor(source="web")) == 0
        session.commit()
        logged = session.exec(select(ConsentEvent).where(ConsentEvent.kind == "unsubscribe")).all()
    assert sorted((event.list_id, event.ip, event.source) for event in logged) == sorted(
        [(list_id, "192.0.2.7", "web"), (other.id, "192.0.2.7", "web")]
    )
