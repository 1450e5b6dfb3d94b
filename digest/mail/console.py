"""The console backend: prints each message to a stream instead of sending it."""

from __future__ import annotations

import sys
from typing import TextIO

from digest.mail.base import Answered, Batch, MailBackend, Outcome, RecipientResult, ignore_answer
from digest.mail.mime import MessageBuilder, WireMessages


class ConsoleBackend(MailBackend):
    """Writes every message, headers and body, to ``stream`` (stdout by default)."""

    name = "console"
    answers_each = True

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def build_payload(self, batch: Batch) -> WireMessages:
        return MessageBuilder(batch).build_each(batch.recipients)

    def post(self, payload: WireMessages, batch: Batch, answered: Answered = ignore_answer) -> None:
        for message in payload.messages:
            self.stream.write(message.data.decode("utf-8", "replace"))
            self.stream.write("\n" + "-" * 78 + "\n")
        self.stream.flush()

    def parse_response(self, answer: None, payload: WireMessages, batch: Batch) -> list[RecipientResult]:
        sent = [RecipientResult(m.recipient, Outcome.SENT, provider_id=m.message_id) for m in payload.messages]
        return [*payload.refused, *sent]
