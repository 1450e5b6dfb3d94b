"""Each reader's RFC 5322 message as the bytes that go on the wire (the outbox, console and SMTP backends).

What every reader of a batch shares (From, Subject, Date, List-Id, the MIME structure, each part's
headers and transfer encoding) is made once per batch by the email package. Per reader only To,
Message-ID, the unsubscribe headers and the filled bodies are made, and the bodies are transfer-encoded by
binascii: the email package's generator, which cost milliseconds per message, never runs per reader.
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import Any

from digest.errors import RecipientError
from digest.mail.base import Batch, Outcome, Recipient, RecipientResult, reader_headers, sender_address
from digest.personalize import Personalizable

CRLF = b"\r\n"
# RFC 2045: encoded lines are at most 76 characters.
_BASE64_LINE = 76
# A header that fits the recommended 78 characters (RFC 5322 2.1.1) plus CRLF needs no folding.
_HEADER_LINE = 78 + len(CRLF)
# RFC 5322 2.1.1: no line may be longer, CRLF excluded.
_MAX_LINE = 998
# RFC 6532 headers (raw UTF-8) for addresses whose addr-spec is not ASCII: encoded words may not stand in one.
_SMTPUTF8 = SMTP.clone(utf8=True)


@dataclass(frozen=True, slots=True)
class WireMessage:
    """One reader's whole message: headers and body with CRLF line endings, ready for SMTP DATA."""

    recipient: Recipient
    message_id: str
    data: bytes


@dataclass(slots=True)
class WireMessages:
    """A batch's messages, and the readers whose message could not be made (already failed, with why)."""

    messages: list[WireMessage] = field(default_factory=list)
    refused: list[RecipientResult] = field(default_factory=list)


class MessageBuilder:
    """Makes the shared parts of one batch's messages once; :meth:`build` adds what differs per reader."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.sender = sender_address(batch.sender)
        content = batch.content
        self.text = _Part.of(content.text, "plain")
        self.html = _Part.of(content.html, "html") if content.html is not None else None
        self._utf8 = not self.sender.addr_spec.isascii()
        self._from = _header("From", self.sender, utf8=self._utf8)
        self._subject_date = _header("Subject", content.subject) + _header("Date", format_datetime(batch.now))
        self._list_id = _header("List-Id", batch.list_id)
        mime_version = _header("MIME-Version", "1.0")
        if self.html is None:
            self._before_text = mime_version + self.text.headers + CRLF
            self._before_html = self._end = b""
            return
        # "=_" occurs in no quoted-printable line (every "=" there is followed by two hex digits or ends the
        # line) and in no base64 line (neither character is in its alphabet), so one boundary made here can
        # never collide with any reader's bodies (RFC 2045 6.7).
        boundary = f"=_{uuid.uuid4().hex}"
        delimiter = b"--" + boundary.encode("ascii")
        content_type = _header("Content-Type", f'multipart/alternative; boundary="{boundary}"')
        self._before_text = mime_version + content_type + CRLF + delimiter + CRLF + self.text.headers + CRLF
        # The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1), not to the part's body.
        self._before_html = CRLF + delimiter + CRLF + self.html.headers + CRLF
        self._end = CRLF + delimiter + b"--" + CRLF

    def message_id(self, recipient: Recipient) -> str:
        """A Message-ID stable for one delivery, so a resent copy is recognisably the same message."""
        if recipient.delivery_id is not None:
            unique = f"{self.batch.edition_key}.{recipient.delivery_id}"
        elif recipient.message_key is not None:
            unique = f"{self.batch.edition_key}.{recipient.message_key}"
        else:
            unique = f"{self.batch.edition_key}.test.{uuid.uuid4().hex}"
        return f"<{unique}@{self.sender.domain}>"

    def build(self, recipient: Recipient) -> WireMessage:
        """The whole message for ``recipient``: text part first, then HTML, both UTF-8.

        RecipientError says why this reader's data cannot make a message (a line break in the name, a link
        too long for a header line, a per-reader field missing): it concerns this reader alone.
        """
        try:
            return self._build(recipient)
        except KeyError as err:
            raise RecipientError(recipient.email, f"no value for the per-reader field {err.args[0]}") from err
        except ValueError as err:
            raise RecipientError(recipient.email, str(err)) from err

    def build_each(self, recipients: Sequence[Recipient]) -> WireMessages:
        """The messages of ``recipients``; a reader whose message cannot be made is failed with the reason."""
        built = WireMessages()
        for recipient in recipients:
            try:
                built.messages.append(self.build(recipient))
            except RecipientError as err:
                built.refused.append(RecipientResult(recipient, Outcome.FAILED, error=f"message: {err.reason}"))
        return built

    def _build(self, recipient: Recipient) -> WireMessage:
        fields = recipient.fields
        message_id = self.message_id(recipient)
        # A non-ASCII address makes the message an SMTPUTF8 one, whose headers may hold UTF-8 (RFC 6532).
        utf8 = self._utf8 or not recipient.email.isascii()
        parts = [
            self._from,
            _to(recipient),
            self._subject_date,
            _line("Message-ID", message_id, utf8=utf8),
            self._list_id,
            *(_line(name, value, utf8=utf8) for name, value in reader_headers(self.batch, recipient).items()),
            self._before_text,
            self.text.body(fields),
        ]
        if self.html is not None:
            parts += [self._before_html, self.html.body(fields), self._end]
        return WireMessage(recipient, message_id, b"".join(parts))


@dataclass(frozen=True, slots=True)
class _Part:
    """One text part: its content split at the placeholders, its headers, and its transfer encoding."""

    content: Personalizable
    headers: bytes
    encode: Callable[[bytes], bytes]

    @classmethod
    def of(cls, content: str, subtype: str) -> _Part:
        """The part for ``content``, with the shorter of quoted-printable and base64 for all its readers.

        email.contentmanager's rule (quoted-printable unless base64 is shorter), applied to the whole
        unfilled content once: it sniffs only ten lines because it decides per message. Never 7bit or 8bit,
        which a reader's filled link could invalidate by pushing a line past 78 characters.
        """
        canonical = _canonical(content)
        qp, b64 = _quoted_printable(canonical), _base64(canonical)
        name, encode = ("base64", _base64) if len(b64) < len(qp) else ("quoted-printable", _quoted_printable)
        headers = _header("Content-Type", f'text/{subtype}; charset="utf-8"')
        return cls(Personalizable.compile(content), headers + _header("Content-Transfer-Encoding", name), encode)

    def body(self, fields: Mapping[str, str]) -> bytes:
        """The part's body filled for one reader, transfer-encoded, ending with CRLF."""
        return self.encode(_canonical(self.content.fill(fields)))


def _canonical(text: str) -> bytes:
    # Text in canonical form (RFC 2046 4.1.1): UTF-8, every CR, LF or CRLF a CRLF, ending with one. The line
    # breaks are those email.contentmanager recognises (bytes.splitlines after encoding).
    return CRLF.join(text.encode("utf-8").splitlines()) + CRLF


def _quoted_printable(data: bytes) -> bytes:
    # With istext, b2a_qp keeps the CRLF line breaks of ``data`` (and uses CRLF for its soft breaks).
    return binascii.b2a_qp(data, istext=True)


def _base64(data: bytes) -> bytes:
    encoded = binascii.b2a_base64(data, newline=False)
    return CRLF.join([encoded[i : i + _BASE64_LINE] for i in range(0, len(encoded), _BASE64_LINE)]) + CRLF


def _to(recipient: Recipient) -> bytes:
    local, domain = recipient.email.rsplit("@", 1)
    # Address quotes a local part that needs it and refuses CR and LF in every part.
    address = Address(display_name=recipient.name or "", username=local, domain=domain)
    if not address.addr_spec.isascii():
        return _header("To", address, utf8=True)
    # formataddr quotes an ASCII name with specials and makes a non-ASCII one an RFC 2047 encoded word.
    line = f"To: {formataddr((address.display_name, address.addr_spec))}\r\n"
    if len(line) <= _HEADER_LINE and line[:-2].isprintable():
        return line.encode("ascii")
    return _header("To", address)


def _line(name: str, value: str, *, utf8: bool) -> bytes:
    # Written here, not by the email package: it turns a token longer than a line into RFC 2047 encoded words,
    # and a List-Unsubscribe URL in encoded words is no URL to a mail client (RFC 2369 wants it verbatim).
    if not value.isprintable() or not (utf8 or value.isascii()):
        raise ValueError(f"header {name}: {value!r} is not printable ASCII")
    encoded = value.encode("utf-8")
    line = f"{name}: ".encode("ascii") + encoded + CRLF
    if len(line) <= _HEADER_LINE:
        return line
    # The email package's own fold for one long token: the value alone on a continuation line.
    if len(encoded) + 1 > _MAX_LINE:
        raise ValueError(f"header {name}: {len(encoded)} bytes do not fit in a line of {_MAX_LINE}")
    return f"{name}:".encode("ascii") + CRLF + b" " + encoded + CRLF


def _header(name: str, value: Any, *, utf8: bool = False) -> bytes:
    # The email package parses, encodes (RFC 2047 words, or raw UTF-8 for SMTPUTF8) and folds the header.
    policy = _SMTPUTF8 if utf8 else SMTP
    return policy.fold_binary(name, policy.header_store_parse(name, value)[1])
