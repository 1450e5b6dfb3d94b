"""The transactional mail queue: confirmations survive a mail server that is down, `confirm-pending`, and
`digest serve`'s start-up check of the mail settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from digest.db import open_session
from digest.mail.transactional import retry_delay, send_due
from digest.models import TransactionalMail
from subscribers.models import utcnow
from tests.servers.smtp import SmtpStandIn
from tests.subscribers_helpers import client, read_messages


def _mails(engine) -> list[TransactionalMail]:
    with open_session(engine) as session:
        return list(session.exec(select(TransactionalMail).order_by(TransactionalMail.id)))


def test_a_sign_up_while_the_smtp_server_is_down_is_delivered_once_it_is_back(
    make_settings, engine, tmp_path: Path
) -> None:
    smtp_server = SmtpStandIn(tmp_path)  # made, not started: the mail server is down
    settings = make_settings(mail_backend="smtp", smtp_url=smtp_server.url())
    with client(settings, engine) as http:
        answer = http.post("/subscribe", data={"email": "amina@example.com", "list": "quotidien", "language": "fr"})
        with_server_down = answer.text
    assert answer.status_code == 200
    (mail,) = _mails(engine)
    assert mail.status == "queued" and mail.attempts == 1 and "smtp" in (mail.error or "").lower()
    assert smtp_server.handler.received == []

    with smtp_server:  # back
        _delivered_once_back(settings, engine, smtp_server, mail.id, with_server_down)


def _delivered_once_back(settings, engine, smtp_server: SmtpStandIn, mail_id: int | None, first_answer: str) -> None:
    assert send_due(engine, settings, now=utcnow()).sent == 0, "not before its retry time"
    run = send_due(engine, settings, now=utcnow() + retry_delay(1))
    assert run.sent == 1
    (received,) = smtp_server.handler.received
    assert received.rcpt_tos == ["amina@example.com"]
    message = received.message
    assert "/c/" in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert message["Message-ID"] == f"<confirm.quotidien.mail-{mail_id}@example.com>"
    (mail,) = _mails(engine)
    assert mail.status == "sent" and mail.error is None
    assert send_due(engine, settings, now=utcnow() + timedelta(days=1)).sent == 0, "sent once"

    # The visitor was told the same thing as when the server is up.
    with client(settings, engine) as http:
        answer = http.post("/subscribe", data={"email": "karim@example.com", "list": "quotidien", "language": "fr"})
    assert answer.text == first_answer
    assert len(smtp_server.handler.received) == 2


def test_confirm_pending_asks_pending_readers_at_most_once_a_week(settings, engine, run_cli, tmp_path: Path) -> None:
    readers = tmp_path / "readers.csv"
    readers.write_text("email\na@example.com\nb@example.com\n", encoding="utf-8")
    run_cli("subscribers", "import", str(readers))
    run_cli("subscribers", "add", "c@example.com", "--confirmed")
    result = run_cli("subscribers", "confirm-pending")
    assert result.exit_code == 0, result.output
    assert "2 pending readers asked to confirm; 2 sent" in result.output
    messages = read_messages(settings.outbox_dir)
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == ["a@example.com", "b@example.com"]
    files = sorted(path.name for path in settings.outbox_dir.rglob("*.eml"))
    assert all(name.startswith("mail-") for name in files), files

    again = run_cli("subscribers", "confirm-pending")
    assert "0 pending readers asked" in again.output
    with open_session(engine) as session:
        for mail in session.exec(select(TransactionalMail)):
            mail.created_at = utcnow() - timedelta(days=8)
            session.add(mail)
        session.commit()
    later = run_cli("subscribers", "confirm-pending")
    assert "2 pending readers asked to confirm; 2 sent" in later.output


def test_serve_refuses_a_mail_setting_that_cannot_send(run_cli) -> None:
    env = {
        "DIGEST_MAIL_BACKEND": "smtp",
        "DIGEST_BASE_URL": "https://news.example.com",
        "DIGEST_SECRET_KEY": "a-long-random-key-for-this-test-only",  # serve refuses the suite's short one first
    }
    result = run_cli("serve", env=env)
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "DIGEST_SMTP_URL" in result.output
