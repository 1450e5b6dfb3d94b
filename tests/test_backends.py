"""The shared backend suite: every backend (outbox, console, smtp, sendgrid) passes the same cases.

Each case sends through a real backend to a real destination (files, a stream, an aiosmtpd server, the
loopback SendGrid stand-in) and reads back what each reader would receive.
"""

from __future__ import annotations

import email
import email.policy
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from digest.mail.base import MailBackend, Outcome
from digest.mail.console import ConsoleBackend
from digest.mail.outbox import OutboxBackend
from digest.mail.sendgrid import SendGridBackend
from digest.mail.smtp import SmtpBackend
from tests.seed import make_batch
from tests.servers.sendgrid import SendGridStandIn
from tests.servers.smtp import SmtpStandIn


@dataclass
class Received:
    """One message as the reader gets it, whatever the backend."""

    to: str
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]


@dataclass
class Case:
    backend: MailBackend
    received: Callable[[], list[Received]]


def _from_message(message: Any) -> Received:
    body_text = message.get_body(("plain",))
    body_html = message.get_body(("html",))
    return Received(
        to=message["To"].addresses[0].addr_spec,
        subject=str(message["Subject"]),
        text=body_text.get_content() if body_text is not None else "",
        html=body_html.get_content() if body_html is not None else None,
        headers={key: str(value) for key, value in message.items()},
    )


def _parse(data: bytes) -> Received:
    return _from_message(email.message_from_bytes(data, policy=email.policy.default))


@pytest.fixture(params=["outbox", "console", "smtp", "sendgrid"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    """One backend and a way to read what its readers received."""
    if request.param == "outbox":
        yield Case(
            OutboxBackend(tmp_path / "outbox"),
            lambda: [_parse(p.read_bytes()) for p in sorted((tmp_path / "outbox").rglob("*.eml"))],
        )
    elif request.param == "console":
        stream = io.StringIO()

        def printed() -> list[Received]:
            chunks = [c for c in stream.getvalue().split("\n" + "-" * 78 + "\n") if c.strip()]
            return [_parse(chunk.encode()) for chunk in chunks]

        yield Case(ConsoleBackend(stream), printed)
    elif request.param == "smtp":
        with SmtpStandIn(tmp_path) as server:
            backend = SmtpBackend(server.url(), timeout=5)
            yield Case(backend, lambda: [_from_message(r.message) for r in server.handler.received])
            backend.close()
    else:
        with SendGridStandIn() as server:
            yield Case(
                SendGridBackend(api_key=server.api_key, host=server.url, timeout=5),
                lambda: [Received(m.to, m.subject, m.text, m.html, {**m.headers, "To": m.to}) for m in server.messages],
            )


def test_each_reader_gets_one_message_with_their_own_links(case: Case) -> None:
    batch = make_batch(3)
    results = case.backend.send_batch(batch)
    assert [r.recipient.email for r in results] == [r.email for r in batch.recipients]
    assert all(r.outcome is Outcome.SENT and r.provider_id for r in results)
    received = sorted(case.received(), key=lambda m: m.to)
    assert [m.to for m in received] == [f"reader{i}@example.com" for i in range(3)]
    for i, message in enumerate(received):
        assert message.subject == batch.content.subject
        assert f"https://news.example.com/u/token-{i}" in message.text
        assert message.html is not None
        assert f'href="https://news.example.com/u/token-{i}"' in message.html
        assert f"https://news.example.com/p/token-{i}" in message.html
        assert "%%" not in message.text + message.html
        assert message.headers["List-Unsubscribe"] == f"<https://news.example.com/u/token-{i}>"
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.headers["List-Id"] == "Quotidien <quotidien.example.com>"


def test_text_only_readers_get_no_html(case: Case) -> None:
    case.backend.send_batch(make_batch(2, html=False))
    received = case.received()
    assert len(received) == 2
    assert all(m.html is None and "token-" in m.text for m in received)


def test_an_empty_batch_sends_nothing(case: Case) -> None:
    assert case.backend.send_batch(make_batch(0)) == []
    assert case.received() == []


def test_one_reader_of_a_large_batch(case: Case) -> None:
    batch = make_batch(60)
    results = case.backend.send_batch(batch)
    assert len(results) == 60 and all(r.ok for r in results)
    assert len({m.to for m in case.received()}) == 60
