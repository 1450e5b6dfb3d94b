"""Mail backends behind one interface; :func:`get_backend` builds the one the settings name."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from digest.errors import ConfigError
from digest.mail.base import Batch, Content, MailBackend, Outcome, Recipient, RecipientResult
from digest.settings import Settings

__all__ = [
    "Batch",
    "Content",
    "MailBackend",
    "Outcome",
    "Recipient",
    "RecipientResult",
    "get_backend",
    "open_backend",
]


@contextmanager
def open_backend(settings: Settings) -> Iterator[MailBackend]:
    """The backend the settings name, closed (its connection, its client) when the block ends."""
    backend = get_backend(settings)
    try:
        yield backend
    finally:
        backend.close()


def get_backend(settings: Settings) -> MailBackend:
    """The backend ``DIGEST_MAIL_BACKEND`` names, configured from ``settings``."""
    name = settings.mail_backend
    if name == "outbox":
        from digest.mail.outbox import OutboxBackend

        return OutboxBackend(settings.outbox_dir)
    if name == "console":
        from digest.mail.console import ConsoleBackend

        return ConsoleBackend()
    # Real mail carries the reader's unsubscribe link: it must reach the web app from anywhere, and RFC 8058
    # one-click unsubscribe requires HTTPS. A forgotten DIGEST_BASE_URL would mail dead links to every reader.
    if not settings.base_url.startswith("https://"):
        raise ConfigError(
            f"DIGEST_BASE_URL must be the public https:// address of `digest serve` with "
            f"DIGEST_MAIL_BACKEND={name} (got {settings.base_url}): unsubscribe links in every email point there"
        )
    if name == "smtp":
        from digest.mail.smtp import SmtpBackend

        if not settings.smtp_url:
            raise ConfigError("DIGEST_SMTP_URL is required with DIGEST_MAIL_BACKEND=smtp (smtp://user:pass@host:587)")
        return SmtpBackend(settings.smtp_url, timeout=settings.send_timeout, bounce_address=settings.bounce_address)
    from digest.mail.sendgrid import SendGridBackend

    if not settings.sendgrid_api_key:
        raise ConfigError("SENDGRID_API_KEY is required with DIGEST_MAIL_BACKEND=sendgrid")
    return SendGridBackend(
        api_key=settings.sendgrid_api_key,
        host=settings.sendgrid_host,
        timeout=settings.send_timeout,
        tracking=frozenset(settings.tracking),
    )
