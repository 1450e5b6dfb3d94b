"""A permanent SMTP refusal of the address (5.1.x, 5.2.1) suppresses it; policy refusals do not."""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from digest.delivery import send_edition
from digest.delivery.policy import refuses_the_address
from digest.mail.smtp import SmtpBackend
from digest.models import Delivery
from digest.settings import Settings
from subscribers.models import Subscriber, Suppression
from tests.seed import DAY, add_readers, seed_edition
from tests.test_send import mailing


@pytest.mark.parametrize(
    ("error", "dead"),
    [
        ("smtp refused the reader: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown", True),
        ("smtp refused the reader: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found", True),
        ("smtp refused the reader: 553 5.1.3 bad address syntax", True),
        ("smtp refused the reader: 550 5.2.1 The email account that you tried to reach is disabled", True),
        ("smtp refused the reader: 550 5.7.1 Message rejected due to local policy", False),
        ("smtp refused the reader: 552 5.2.2 mailbox full", False),
        ("smtp refused the reader: 450 4.1.1 try later", False),
        ("smtp refused the message: 554 5.7.1 spam detected", False),
        ("smtp refused the reader: 550 no such user here", True),
        ("smtp refused the reader: 550 blocked by policy", False),
        ("sendgrid: 400 bad request", False),
        (None, False),
    ],
)
def test_which_refusals_say_the_address_is_dead(error: str | None, dead: bool) -> None:
    assert refuses_the_address(error) is dead


def test_a_550_user_unknown_suppresses_the_reader_and_the_next_edition_skips_them(
    engine: Engine, settings: Settings, smtp_server: Any
) -> None:
    add_readers(engine, 4)
    smtp_server.handler.refuse["reader1@example.com"] = (550, "5.1.1 <reader1@example.com>: user unknown")
    smtp_server.handler.refuse["reader2@example.com"] = (550, "5.7.1 rejected by local policy")
    first = seed_edition(engine)
    with closing(SmtpBackend(smtp_server.url(), timeout=5)) as backend:  # it keeps its connection until closed
        send_edition(mailing(engine, settings, backend, first))
    with Session(engine) as session:
        statuses = {s.email: s.status for s in session.exec(select(Subscriber))}
        failed = {d.subscriber_id for d in session.exec(select(Delivery).where(Delivery.status == "failed"))}
        suppressed = [s.email for s in session.exec(select(Suppression))]
    assert len(failed) == 2
    assert statuses["reader1@example.com"] == "bounced" and statuses["reader2@example.com"] == "active"
    assert suppressed == ["reader1@example.com"]

    smtp_server.handler.refuse.clear()
    smtp_server.handler.received.clear()
    second = seed_edition(engine, day=DAY + timedelta(days=1))
    with closing(SmtpBackend(smtp_server.url(), timeout=5)) as backend:
        send_edition(mailing(engine, settings, backend, second))
    mailed = sorted(address for message in smtp_server.handler.received for address in message.rcpt_tos)
    assert mailed == ["reader0@example.com", "reader2@example.com", "reader3@example.com"]
