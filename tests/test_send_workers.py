"""Four worker processes share one edition on PostgreSQL: no reader twice, none left."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.models import Delivery
from digest.send import Mailing, SendOptions, send_edition
from tests.seed import add_readers, seed_edition
from tests.servers.sendgrid import SendGridStandIn

READERS = 2000


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_four_workers_share_one_edition(engine: Engine, make_settings) -> None:
    add_readers(engine, READERS)
    edition = seed_edition(engine)
    with SendGridStandIn(delay=0.01) as server:
        settings = make_settings(mail_backend="sendgrid", sendgrid_api_key=server.api_key, sendgrid_host=server.url)
        progress: list[int] = []
        report = send_edition(
            Mailing.from_settings(settings, engine, edition),
            options=SendOptions(batch_size=50, workers=4),
            on_progress=progress.append,
            worker_settings=settings,
        )
    received = Counter(m.to for m in server.messages)
    assert len(received) == READERS, "none left"
    assert max(received.values()) == 1, "no reader twice"
    assert report.this_run["sent"] == READERS and report.finished
    assert sum(progress) == READERS
    with Session(engine) as session:
        statuses = Counter(d.status for d in session.exec(select(Delivery)))
        attempts = Counter(d.attempts for d in session.exec(select(Delivery)))
    assert statuses == {"sent": READERS}
    assert attempts == {1: READERS}, "each delivery was claimed by exactly one worker"
