"""Mail backends behind one interface; :func:`get_backend` builds the one the settings name."""

from __future__ import annotations

from digest.errors import ConfigError
from digest.mail.base import Batch, Content, MailBackend, Recipient, RecipientResult
from digest.settings import Settings

__all__ = ["Batch", "Content", "MailBackend", "Recipient", "RecipientResult", "get_backend"]


def get_backend(settings: Settings) -> MailBackend:
    """The backend ``DIGEST_MAIL_BACKEND`` names, configured from ``settings``."""
    name = settings.mail_backend
    if name == "outbox":
        from digest.mail.outbox import OutboxBackend

        return OutboxBackend(settings.outbox_dir)
    if name == "console":
        from digest.mail.console import ConsoleBackend

        return ConsoleBackend()
    raise ConfigError(f"DIGEST_MAIL_BACKEND={name}: this backend is not available yet")
