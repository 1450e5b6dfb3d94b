"""The outbox backend: writes each message, exactly as it would be sent, to one `.eml` file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from digest.errors import MailError
from digest.mail.base import Answered, Batch, MailBackend, Outcome, RecipientResult, ignore_answer
from digest.mail.mime import MessageBuilder, WireMessage, WireMessages


class OutboxBackend(MailBackend):
    """Writes `<dir>/<edition-date>/<list>/<delivery-id>.eml`; test sends go to `test-<n>.eml`."""

    name = "outbox"
    answers_each = True

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def build_payload(self, batch: Batch) -> WireMessages:
        return MessageBuilder(batch).build_each(batch.recipients)

    def post(self, payload: WireMessages, batch: Batch, answered: Answered = ignore_answer) -> list[Path]:
        if not payload.messages:
            return []
        folder = self.directory / batch.edition_key.replace(".", os.sep, 1)
        # The key holds a list's slug: whatever it says, nothing is written outside the outbox.
        if not folder.resolve().is_relative_to(self.directory.resolve()) or ".." in Path(batch.edition_key).parts:
            raise MailError(f"outbox: {batch.edition_key!r} would write outside {self.directory}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return [self._write(folder, message) for message in payload.messages]
        except OSError as err:
            raise MailError(f"outbox: cannot write to {folder}: {err.strerror or err}") from err

    def parse_response(self, answer: list[Path], payload: WireMessages, batch: Batch) -> list[RecipientResult]:
        return [
            *payload.refused,
            *(
                RecipientResult(message.recipient, Outcome.SENT, provider_id=str(path))
                for message, path in zip(payload.messages, answer, strict=True)
            ),
        ]

    @staticmethod
    def _write(folder: Path, message: WireMessage) -> Path:
        delivery_id = message.recipient.delivery_id
        key = message.recipient.message_key
        if delivery_id is not None:
            path = folder / f"{delivery_id}.eml"
        elif key is not None and key.replace("-", "").isalnum():
            path = folder / f"{key}.eml"
        else:
            fd, name = tempfile.mkstemp(prefix="test-", suffix=".eml", dir=folder)
            os.close(fd)
            path = Path(name)
        # Written aside then renamed, so a crash never leaves half a message where a whole one is expected.
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(message.data)
        partial.replace(path)
        return path
