"""The SMTP backend against a real aiosmtpd server: TLS, STARTTLS, AUTH, refused readers, one connection."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pytest

from digest.errors import ConfigError, ProviderError, ProviderUnreachable
from digest.mail.base import Outcome
from digest.mail.mime import MessageBuilder
from digest.mail.smtp import SmtpBackend, SmtpServer
from tests.seed import make_batch
from tests.servers.smtp import SmtpStandIn


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_encrypted_and_authenticated_sends(tmp_path: Path, mode: str) -> None:
    with SmtpStandIn(tmp_path, mode=mode, credentials=("digest", "s3cret/+")) as server:
        results = send_once(server.url("digest", "s3cret%2F%2B"), make_batch(2), timeout=5)
        assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
        assert [r.rcpt_tos for r in server.handler.received] == [["reader0@example.com"], ["reader1@example.com"]]


def test_wrong_password_keeps_the_server_answer(tmp_path: Path) -> None:
    with SmtpStandIn(tmp_path, mode="starttls", credentials=("digest", "right")) as server:
        with pytest.raises(ProviderError) as caught:
            send_once(server.url("digest", "wrong"), make_batch(1), timeout=5)
        assert caught.value.status == 535
        assert "Authentication" in caught.value.body
        assert server.handler.received == []


def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    with SmtpStandIn(tmp_path, mode="starttls") as server:
        url = server.url().split("&cafile=")[0]
        with pytest.raises(ProviderUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            send_once(url, make_batch(1), timeout=5)


def test_each_refused_reader_gets_a_clear_error_and_the_others_are_sent(smtp_server: Any) -> None:
    smtp_server.handler.refuse["reader1@example.com"] = (550, "5.1.1 no such mailbox")
    smtp_server.handler.refuse["reader2@example.com"] = (451, "4.3.0 try again later")
    results = send_once(smtp_server.url(), make_batch(4), timeout=5)
    outcomes = {r.recipient.email: r for r in results}
    assert outcomes["reader0@example.com"].outcome is Outcome.SENT
    assert outcomes["reader3@example.com"].outcome is Outcome.SENT
    refused = outcomes["reader1@example.com"]
    assert refused.outcome is Outcome.FAILED
    assert refused.error == "smtp refused the reader: 550 5.1.1 no such mailbox"
    assert outcomes["reader2@example.com"].outcome is Outcome.RETRY, "a 4xx is temporary"
    assert len(smtp_server.handler.received) == 2


def send_once(url: str, batch: Any, *, timeout: float) -> list[Any]:
    """One batch through a backend of its own, closed after."""
    backend = SmtpBackend(url, timeout=timeout)
    try:
        return backend.send_batch(batch)
    finally:
        backend.close()


def test_one_connection_serves_batch_after_batch_and_answers_come_one_by_one(smtp_server: Any) -> None:
    backend = SmtpBackend(smtp_server.url(), timeout=5)
    seen: list[tuple[str, int]] = []
    # Each answer is passed on before the next message leaves: the server has received exactly that many.
    backend.send_batch(make_batch(3), on_result=lambda r: seen.append((r.outcome, len(smtp_server.handler.received))))
    backend.send_batch(make_batch(2))
    assert seen == [(Outcome.SENT, 1), (Outcome.SENT, 2), (Outcome.SENT, 3)]
    assert len(smtp_server.handler.received) == 5
    assert smtp_server.handler.connections == 1
    backend.close()
    backend.send_batch(make_batch(1))
    assert smtp_server.handler.connections == 2, "closed: the next batch connects again"
    backend.close()


def test_an_unreachable_server_never_took_anything() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderUnreachable, match=f"127.0.0.1:{port}"):
        send_once(f"smtp://127.0.0.1:{port}", make_batch(1), timeout=2)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpServer("mail.example.com", 25, False, False, None, None, None)),
        ("smtps://u:p%40ss@mail.example.com", SmtpServer("mail.example.com", 465, True, False, "u", "p@ss", None)),
        ("smtp://u:p@mx:587?starttls=1", SmtpServer("mx", 587, False, True, "u", "p", None)),
    ],
)
def test_smtp_urls(url: str, expected: SmtpServer) -> None:
    assert SmtpServer.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://host:notaport"])
def test_bad_smtp_urls_name_the_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="DIGEST_SMTP_URL"):
        SmtpServer.from_url(url)


def test_no_answer_after_the_message_left_is_uncertain_and_the_rest_go_again(smtp_server: Any) -> None:
    smtp_server.handler.stall["reader1@example.com"] = 3.0
    results = send_once(smtp_server.url(), make_batch(4), timeout=0.5)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.UNCERTAIN, Outcome.RETRY, Outcome.RETRY]
    assert "connection lost" in (results[1].error or "")
    assert [r.rcpt_tos for r in smtp_server.handler.received] == [["reader0@example.com"], ["reader1@example.com"]]


def test_the_server_gets_the_built_bytes_from_the_from_address(smtp_server: Any) -> None:
    batch = make_batch(2, html=False)
    # Lines that SMTP dot-stuffs: the server must get them back as they were built.
    batch = dataclasses.replace(batch, content=dataclasses.replace(batch.content, text=".\n..x\n%%unsubscribe_url%%"))
    send_once(smtp_server.url(), batch, timeout=5)
    builder = MessageBuilder(batch)
    for recipient, received in zip(batch.recipients, smtp_server.handler.received, strict=True):
        assert received.mail_from == "news@example.com"
        assert "SMTPUTF8" not in received.mail_options
        assert received.data == builder.build(recipient).data


def _with_readers(*emails: str) -> Any:
    batch = make_batch(len(emails))
    recipients = [dataclasses.replace(r, email=email) for r, email in zip(batch.recipients, emails, strict=True)]
    return dataclasses.replace(batch, recipients=recipients)


def test_a_non_ascii_address_is_sent_with_smtputf8(smtp_server: Any) -> None:
    batch = _with_readers("reader0@example.com", "ünal@exämple.com")
    results = send_once(smtp_server.url(), batch, timeout=5)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    plain, international = smtp_server.handler.received
    assert "SMTPUTF8" not in plain.mail_options
    assert international.rcpt_tos == ["ünal@exämple.com"]
    assert {"SMTPUTF8", "BODY=8BITMIME"} <= set(international.mail_options)
    assert "Lecteur 1 <ünal@exämple.com>\r\n".encode() in international.data


def test_a_non_ascii_address_fails_clearly_without_smtputf8_and_the_others_go(tmp_path: Path) -> None:
    with SmtpStandIn(tmp_path, smtputf8=False) as server:
        batch = _with_readers("reader0@example.com", "ünal@example.com", "reader2@example.com")
        results = send_once(server.url(), batch, timeout=5)
        assert [r.outcome for r in results] == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
        assert results[1].error == (
            f"smtp: 127.0.0.1:{server.port} does not offer SMTPUTF8, which the address ünal@example.com needs"
        )
        assert [r.rcpt_tos for r in server.handler.received] == [["reader0@example.com"], ["reader2@example.com"]]


def test_a_non_ascii_sender_without_smtputf8_stops_before_any_reader(tmp_path: Path) -> None:
    with SmtpStandIn(tmp_path, smtputf8=False) as server:
        batch = dataclasses.replace(make_batch(2), sender="Infos <réd@example.com>")
        with pytest.raises(ConfigError, match=r"DIGEST_FROM: réd@example\.com is not ASCII"):
            send_once(server.url(), batch, timeout=5)
        assert server.handler.received == []
