"""The console backend: prints each message to a stream instead of sending it."""

from __future__ import annotations

import sys
from email.message import EmailMessage
from email.policy import SMTP
from typing import TextIO

from digest.mail.base import Batch, MailBackend, Outcome, Recipient, RecipientResult
from digest.mail.mime import MessageBuilder


class ConsoleBackend(MailBackend):
    """Writes every message, headers and body, to ``stream`` (stdout by default)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def build_payload(self, batch: Batch) -> list[tuple[Recipient, EmailMessage]]:
        builder = MessageBuilder(batch)
        return [(recipient, builder.build(recipient)) for recipient in batch.recipients]

    def post(self, payload: list[tuple[Recipient, EmailMessage]], batch: Batch) -> None:
        for _, message in payload:
            self.stream.write(message.as_bytes(policy=SMTP).decode("utf-8", "replace"))
            self.stream.write("\n" + "-" * 78 + "\n")
        self.stream.flush()

    def parse_response(
        self, answer: None, payload: list[tuple[Recipient, EmailMessage]], batch: Batch
    ) -> list[RecipientResult]:
        return [
            RecipientResult(recipient, Outcome.SENT, provider_id=message["Message-ID"])
            for recipient, message in payload
        ]
