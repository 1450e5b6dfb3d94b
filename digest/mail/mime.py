"""Build RFC 5322 messages for one reader of a batch (the outbox, console and SMTP backends use it)."""

from __future__ import annotations

import uuid
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from digest.mail.base import Batch, Recipient, reader_headers, sender_address
from digest.personalize import Personalizable


class MessageBuilder:
    """Fills one batch's content for each reader; the content is split at its placeholders only once."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.sender = sender_address(batch.sender)
        self.text = Personalizable.compile(batch.content.text)
        self.html = Personalizable.compile(batch.content.html) if batch.content.html is not None else None
        self.date = format_datetime(batch.now)

    def message_id(self, recipient: Recipient) -> str:
        """A Message-ID stable for one delivery, so a resent copy is recognisably the same message."""
        if recipient.delivery_id is not None:
            unique = f"{self.batch.edition_key}.{recipient.delivery_id}"
        else:
            unique = f"{self.batch.edition_key}.test.{uuid.uuid4().hex}"
        return f"<{unique}@{self.sender.domain}>"

    def build(self, recipient: Recipient) -> EmailMessage:
        """The whole message for ``recipient``: text part first, then HTML, both UTF-8."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = _to_address(recipient)
        message["Subject"] = self.batch.content.subject
        message["Date"] = self.date
        message["Message-ID"] = self.message_id(recipient)
        message["List-Id"] = self.batch.list_id
        for header, value in reader_headers(self.batch, recipient).items():
            message[header] = value
        message.set_content(self.text.fill(recipient.fields), charset="utf-8")
        if self.html is not None:
            message.add_alternative(self.html.fill(recipient.fields), subtype="html", charset="utf-8")
        return message


def _to_address(recipient: Recipient) -> Address:
    local, domain = recipient.email.rsplit("@", 1)
    return Address(display_name=recipient.name or "", username=local, domain=domain)
