"""`digest bounces read`: DSN bounces (Postfix, Exim, Gmail, Microsoft) and ARF complaints from an mbox or a
Maildir, matched by VERP address, Message-ID or recent delivery; idempotent."""

from __future__ import annotations

import mailbox
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from digest.bounces.mailboxes import ImapMailbox, open_mailbox
from digest.errors import DigestError
from digest.models import Delivery, DeliveryEvent
from subscribers.models import Subscriber
from tests.seed import DAY, add_readers, seed_edition

SAMPLES = Path(__file__).parent / "data" / "bounces"
BOUNCE_ADDRESS = "bounces+{delivery}@example.com"


def _sample(name: str, *, delivery: int | str, email: str, message_id: str, own_id: str | None = None) -> bytes:
    local, _, domain = email.partition("@")
    text = (SAMPLES / f"{name}.eml").read_text(encoding="utf-8")
    text = text.format(delivery=delivery, email=email, message_id=message_id, local_part=local, domain=domain)
    if own_id is not None:
        text = text.replace("Message-Id: <20251124063000.A11B2C3D4@mail.example.com>", f"Message-Id: <{own_id}>")
    return text.encode("utf-8")


@pytest.fixture
def sent(engine: Engine, run_cli: Any) -> dict[str, int]:
    """Eight readers sent the day's edition through the outbox: {email: delivery id}."""
    add_readers(engine, 8)
    seed_edition(engine)
    assert run_cli("send", "--date", DAY.isoformat()).exit_code == 0
    with Session(engine) as session:
        rows = session.exec(select(Subscriber.email, Delivery.id).join(Delivery)).all()
    return {email: delivery_id for email, delivery_id in rows if delivery_id is not None}


def _ours(delivery_id: int) -> str:
    return f"<{DAY.isoformat()}.quotidien.{delivery_id}@example.com>"


def _messages(sent: dict[str, int]) -> list[bytes]:
    def one(name: str, reader: int, **extra: Any) -> bytes:
        email = f"reader{reader}@example.com"
        return _sample(name, delivery=sent[email], email=email, message_id=_ours(sent[email]), **extra)

    stranger = _sample("postfix", delivery="999999", email="stranger@example.org", message_id="<x@elsewhere.example>")
    return [
        one("postfix", 0),  # matched by its VERP address
        one("exim", 1),  # VERP too
        _sample("gmail", delivery="", email="reader2@example.com", message_id=_ours(sent["reader2@example.com"])),
        _sample("microsoft", delivery="", email="reader3@example.com", message_id=""),  # Final-Recipient only
        _sample("arf", delivery="", email="reader4@example.com", message_id=_ours(sent["reader4@example.com"])),
        one("soft", 5),
        one("policy", 6),
        (SAMPLES / "autoreply.eml").read_bytes(),
        stranger,
    ]


def _statuses(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.email: s.status for s in session.exec(select(Subscriber))}


def _events(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(DeliveryEvent)).one()


def test_an_mbox_of_real_format_bounces_suppresses_exactly_those_readers(
    engine: Engine, run_cli: Any, sent: dict[str, int], tmp_path: Path
) -> None:
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    for raw in _messages(sent):
        box.add(raw)
    box.close()
    env = {"DIGEST_BOUNCE_ADDRESS": BOUNCE_ADDRESS}
    result = run_cli("bounces", "read", str(tmp_path / "bounces.mbox"), env=env)
    assert result.exit_code == 0, result.output
    assert "9 mails, 4 hard bounces, 1 complaints, 2 soft bounces" in result.output
    assert "1 unmatched, 1 not bounces" in result.output
    expected = {f"reader{i}@example.com": "active" for i in range(8)}
    expected.update({f"reader{i}@example.com": "bounced" for i in range(4)})
    expected["reader4@example.com"] = "complained"
    assert _statuses(engine) == expected
    events = _events(engine)
    assert events == 7

    again = run_cli("bounces", "read", str(tmp_path / "bounces.mbox"), env=env)
    assert "0 hard bounces, 0 complaints, 0 soft bounces" in again.output and "7 already recorded" in again.output
    assert _statuses(engine) == expected and _events(engine) == events

    # The same mail in a Maildir is the same reports: nothing changes either.
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for raw in _messages(sent):
        maildir.add(raw)
    from_maildir = run_cli("bounces", "read", str(tmp_path / "Maildir"), env=env)
    assert "9 mails" in from_maildir.output and "7 already recorded" in from_maildir.output
    assert _statuses(engine) == expected


def test_soft_bounces_suppress_after_the_limit(
    engine: Engine, run_cli: Any, sent: dict[str, int], tmp_path: Path
) -> None:
    box = mailbox.mbox(tmp_path / "soft.mbox")
    email = "reader5@example.com"
    for number in range(3):
        box.add(_sample("soft", delivery=sent[email], email=email, message_id="", own_id=f"soft-{number}@mx.example"))
        if number == 1:
            box.flush()
            run_cli("bounces", "read", str(tmp_path / "soft.mbox"), env={"DIGEST_BOUNCE_ADDRESS": BOUNCE_ADDRESS})
            assert _statuses(engine)[email] == "active"
    box.close()
    result = run_cli("bounces", "read", str(tmp_path / "soft.mbox"), env={"DIGEST_BOUNCE_ADDRESS": BOUNCE_ADDRESS})
    assert "1 soft bounces (1 readers over the limit)" in result.output
    assert _statuses(engine)[email] == "bounced"


def test_imap_urls_are_parsed_and_bad_sources_named(tmp_path: Path) -> None:
    box = ImapMailbox.from_url("imaps://bounce%40example.com:s3cr%2Ft@imap.example.com/Bounces")
    assert (box.host, box.port, box.tls, box.username, box.password, box.folder) == (
        "imap.example.com",
        993,
        True,
        "bounce@example.com",
        "s3cr/t",
        "Bounces",
    )
    assert ImapMailbox.from_url("imap://u:p@127.0.0.1:1143").folder == "INBOX"
    with pytest.raises(DigestError, match="user and a password"):
        ImapMailbox.from_url("imaps://imap.example.com/INBOX")
    with pytest.raises(DigestError, match="no such mbox"):
        list(open_mailbox(str(tmp_path / "missing")))
    (tmp_path / "folder").mkdir()
    with pytest.raises(DigestError, match="not a Maildir"):
        list(open_mailbox(str(tmp_path / "folder")))


def test_with_a_bounce_address_each_smtp_message_names_its_delivery(smtp_server: Any) -> None:
    from digest.mail.smtp import SmtpBackend
    from tests.seed import make_batch

    batch = make_batch(2)
    with closing(SmtpBackend(smtp_server.url(), timeout=5, bounce_address=BOUNCE_ADDRESS)) as backend:
        backend.send_batch(batch)  # closed after: the backend keeps its connection from batch to batch
    senders = sorted(message.mail_from for message in smtp_server.handler.received)
    assert senders == sorted(f"bounces+{r.delivery_id}@example.com" for r in batch.recipients)


def test_a_bounce_address_without_its_delivery_field_is_refused() -> None:
    from pydantic import ValidationError

    from digest.settings import Settings

    with pytest.raises(ValidationError, match="delivery"):
        Settings(_env_file=None, bounce_address="bounces@example.com")  # type: ignore[call-arg]
