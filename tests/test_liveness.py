"""Senders prove they are alive; what a dead one left `sending` is settled at once, not after the lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.delivery.liveness import sender_lock, settle_orphans
from digest.errors import DigestError
from digest.models import Delivery
from subscribers.models import Subscriber
from tests.seed import add_readers, seed_edition

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
POSTGRES_ONLY = [pytest.param("postgresql", marks=pytest.mark.postgres)]


def _claimed(engine: Engine, edition_id: int, claimers: list[int | None]) -> list[int]:
    with Session(engine) as session:
        readers = session.exec(select(Subscriber.id).order_by(Subscriber.id)).all()
        for reader, claimer in zip(readers, claimers, strict=True):
            session.add(
                Delivery(
                    edition_id=edition_id,
                    subscriber_id=reader or 0,
                    status="sending",
                    claimed_by=claimer,
                    lease_until=NOW + timedelta(minutes=10),
                )
            )
        session.commit()
        return list(session.exec(select(Delivery.id).order_by(Delivery.id)).all())  # type: ignore[arg-type]


@pytest.mark.parametrize("database_url", POSTGRES_ONLY, indirect=True)
def test_a_dead_senders_rows_are_settled_at_once_and_a_live_ones_kept(engine: Engine) -> None:
    add_readers(engine, 2)
    edition_id = seed_edition(engine)
    with sender_lock(engine) as dead:
        gone = dead.token
    with sender_lock(engine) as alive:
        ids = _claimed(engine, edition_id, [alive.token, gone])
        with Session(engine) as session:
            assert settle_orphans(session, edition_id, NOW) == 1
            statuses = dict(session.exec(select(Delivery.id, Delivery.status)).all())
    assert [statuses[i] for i in ids] == ["sending", "uncertain"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_allows_one_sender_and_its_orphans_are_every_sending_row(engine: Engine) -> None:
    add_readers(engine, 1)
    edition_id = seed_edition(engine)
    with sender_lock(engine):
        with pytest.raises(DigestError, match="already sending"), sender_lock(engine):
            pass
        _claimed(engine, edition_id, [None])
        with Session(engine) as session:
            assert settle_orphans(session, edition_id, NOW) == 1
