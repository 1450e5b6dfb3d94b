"""Uncertain deliveries: settled by provider events, resent only when none came within the settle time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.delivery.settle import requeue_unsettled, settle_edition
from digest.models import Delivery, DeliveryEvent
from subscribers.models import Subscriber
from tests.seed import add_readers, seed_edition

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_retry_uncertain_resends_only_the_silent_ones_past_the_settle_time(engine: Engine) -> None:
    add_readers(engine, 4)
    edition_id = seed_edition(engine)
    left = [NOW - timedelta(hours=2), NOW - timedelta(hours=2), NOW - timedelta(minutes=10), NOW - timedelta(hours=3)]
    with Session(engine) as session:
        readers = session.exec(select(Subscriber.id).order_by(Subscriber.id)).all()
        for reader, claimed in zip(readers, left, strict=True):
            session.add(Delivery(edition_id=edition_id, subscriber_id=reader, status="uncertain", claimed_at=claimed))
        session.commit()
        ids = session.exec(select(Delivery.id).order_by(Delivery.id)).all()
        # The first one was processed by the provider: settled, never resent.
        session.add(
            DeliveryEvent(event_id="e1", delivery_id=ids[0], edition_id=edition_id, event="processed", occurred_at=NOW)
        )
        session.commit()
        assert settle_edition(session, edition_id) == 1
        plan = requeue_unsettled(session, edition_id, now=NOW, settle=timedelta(hours=1))
        session.commit()
        assert (plan.retry, plan.waiting) == (2, 1)
        statuses = dict(session.exec(select(Delivery.id, Delivery.status)).all())
    assert [statuses[i] for i in ids] == ["sent", "queued", "uncertain", "queued"]
