"""The SMTP backend: one connection kept open, one message per reader, a clear error per refused reader.

``DIGEST_SMTP_URL`` is ``smtp://user:pass@host:port`` (plain, or ``?starttls=1`` to upgrade), or
``smtps://…`` for TLS from the first byte. ``?cafile=/path/ca.pem`` trusts a private certificate authority.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from digest.errors import ConfigError, ProviderError, ProviderUnreachable
from digest.mail.base import (
    Answered,
    Batch,
    MailBackend,
    Outcome,
    Recipient,
    RecipientResult,
    ignore_answer,
    sender_address,
)
from digest.mail.mime import MessageBuilder, WireMessage, WireMessages

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
# What smtplib's send_message asks for when an address is not ASCII (RFC 6531).
SMTPUTF8_OPTIONS = ("SMTPUTF8", "BODY=8BITMIME")


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to reach the SMTP server, parsed from ``DIGEST_SMTP_URL``."""

    host: str
    port: int
    tls: bool
    starttls: bool
    username: str | None
    password: str | None
    cafile: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Parse ``smtp://user:pass@host:port?starttls=1`` or ``smtps://…``; ConfigError names the problem."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError(
                f"DIGEST_SMTP_URL: expected smtp://user:pass@host:port or smtps://…, got {parts.scheme or url!r}"
            )
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as err:
            raise ConfigError(f"DIGEST_SMTP_URL: bad port ({err})") from err
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=port,
            tls=parts.scheme == "smtps",
            starttls=query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            cafile=query.get("cafile", [None])[0],
        )


class SmtpBackend(MailBackend):
    """Sends each reader's message over one SMTP connection, kept from batch to batch until :meth:`close`."""

    name = "smtp"
    answers_each = True
    # Each reader's fate is passed on as the server answers (see ``post``), so a batch's size no longer bounds
    # what a crash can leave uncertain: it only spaces the claims.
    max_batch = 200

    def __init__(self, url: str, *, timeout: float = 30.0, bounce_address: str | None = None) -> None:
        self.server = SmtpServer.from_url(url)
        self.timeout = timeout
        #: ``DIGEST_BOUNCE_ADDRESS`` (``bounces+{delivery}@example.com``): each delivery's envelope sender.
        self.bounce_address = bounce_address
        self._tls_context: ssl.SSLContext | None = None
        self._connection: smtplib.SMTP | None = None

    def build_payload(self, batch: Batch) -> WireMessages:
        """One RFC 5322 message per reader, as the bytes of its DATA (a reader whose message cannot be made
        is failed with the reason)."""
        return MessageBuilder(batch).build_each(batch.recipients)

    def post(self, payload: WireMessages, batch: Batch, answered: Answered = ignore_answer) -> list[RecipientResult]:
        """Send every message over the connection and say per reader what the server answered, passing each
        answer to ``answered`` as soon as it comes (the sender records it before the next message's fate is
        known, so a crash leaves at most the message in flight unknown)."""
        results: list[RecipientResult] = []
        if not payload.messages:
            return results

        def done(result: RecipientResult) -> None:
            results.append(result)
            answered(result)

        # Bounces go to the From address, the envelope sender smtplib's send_message would derive from it.
        sender = sender_address(batch.sender).addr_spec
        connection = self._open()
        if not sender.isascii() and not connection.has_extn("smtputf8"):
            # A setting every message would fail on: stop before anyone is failed, readers stay queued.
            self.close()
            raise ConfigError(
                f"DIGEST_FROM: {sender} is not ASCII and {self.server.host}:{self.server.port} does not offer "
                "SMTPUTF8; use an ASCII sender address"
            )
        messages = payload.messages
        try:
            for index, message in enumerate(messages):
                recipient = message.recipient
                options: tuple[str, ...] = ()
                if not (sender + recipient.email).isascii():
                    if not connection.has_extn("smtputf8"):
                        done(_needs_smtputf8(recipient, self.server))
                        continue
                    options = SMTPUTF8_OPTIONS
                envelope = sender
                if self.bounce_address and recipient.delivery_id is not None:
                    # VERP: the bounce comes back to an address naming the delivery (`digest bounces read`).
                    envelope = self.bounce_address.replace("{delivery}", str(recipient.delivery_id))
                try:
                    refused = connection.sendmail(envelope, [recipient.email], message.data, options)
                except smtplib.SMTPRecipientsRefused as err:
                    code, reason = err.recipients.get(recipient.email, (None, b"refused"))
                    done(_refused(recipient, code, reason, "refused the reader"))
                    continue
                except smtplib.SMTPSenderRefused as err:
                    # The sender is refused for every message: stop and let every remaining reader go again.
                    if not results:
                        raise ProviderError(self.name, err.smtp_code, _decode(err.smtp_error)) from err
                    for rest in _not_sent(messages[index:], f"sender refused: {err.smtp_code}"):
                        done(rest)
                    return results
                except smtplib.SMTPDataError as err:
                    done(_refused(recipient, err.smtp_code, err.smtp_error, "refused the message"))
                    continue
                except (smtplib.SMTPServerDisconnected, OSError) as err:
                    # The connection died during this message: it may have been taken; the rest never left.
                    self._drop()
                    done(RecipientResult(recipient, Outcome.UNCERTAIN, error=f"smtp: connection lost ({err})"))
                    for rest in _not_sent(messages[index + 1 :], f"not sent: connection lost ({err})"):
                        done(rest)
                    return results
                if refused:
                    code, reason = refused[recipient.email]
                    done(_refused(recipient, code, reason, "refused the reader"))
                else:
                    done(RecipientResult(recipient, Outcome.SENT, provider_id=message.message_id))
        except BaseException:
            # Whatever stopped the loop (a stop signal, a database error in ``answered``) leaves the connection
            # in an unknown state: never reuse it.
            self.close()
            raise
        return results

    def parse_response(
        self, answer: list[RecipientResult], payload: WireMessages, batch: Batch
    ) -> list[RecipientResult]:
        """The server answered per message while sending; ``post`` already collected those answers."""
        return [*payload.refused, *answer]

    def close(self) -> None:
        """Say goodbye to the server (QUIT) and forget the connection."""
        if self._connection is not None:
            _quit(self._connection)
            self._connection = None

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> smtplib.SMTP:
        """The connection of the previous batch if the server still answers it (NOOP), else a new one."""
        if self._connection is not None:
            try:
                code, _ = self._connection.noop()
            except (OSError, smtplib.SMTPException):
                code = 0
            if code == 250:
                return self._connection
            self._drop()
        self._connection = self._connect()
        return self._connection

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        # Loading the trusted certificates takes ~16 ms: once per backend, not per batch, and only for TLS.
        if self._tls_context is None and (server.tls or server.starttls):
            self._tls_context = ssl.create_default_context(cafile=server.cafile)
        context = self._tls_context
        where = f"{server.host}:{server.port}"
        try:
            if server.tls:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=self.timeout, context=context
                )
            else:
                connection = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as err:
            raise ProviderUnreachable(f"smtp: cannot connect to {where} ({err})") from err
        try:
            if server.starttls:
                connection.starttls(context=context)
            if server.username:
                connection.login(server.username, server.password or "")
            # Greet now (a no-op after STARTTLS and AUTH): the SMTPUTF8 check needs the server's extensions.
            connection.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as err:
            _quit(connection)
            raise ProviderError(self.name, err.smtp_code, _decode(err.smtp_error)) from err
        except smtplib.SMTPNotSupportedError as err:
            _quit(connection)
            raise ProviderError(self.name, None, f"{where} does not support {err}") from err
        except (OSError, smtplib.SMTPException) as err:
            _quit(connection)
            raise ProviderUnreachable(f"smtp: {where} failed before any message ({err})") from err
        return connection


def _refused(recipient: Recipient, code: int | None, reason: bytes | str, what: str) -> RecipientResult:
    # 4xx is temporary (mailbox busy, greylisting): the reader may go again; 5xx is final.
    outcome = Outcome.RETRY if code is not None and 400 <= code < 500 else Outcome.FAILED
    return RecipientResult(recipient, outcome, error=f"smtp {what}: {code} {_decode(reason)}")


def _needs_smtputf8(recipient: Recipient, server: SmtpServer) -> RecipientResult:
    # Decided before MAIL FROM, so nothing left; final, since this server would refuse the address again.
    error = f"smtp: {server.host}:{server.port} does not offer SMTPUTF8, which the address {recipient.email} needs"
    return RecipientResult(recipient, Outcome.FAILED, error=error)


def _not_sent(payload: list[WireMessage], error: str) -> list[RecipientResult]:
    return [RecipientResult(message.recipient, Outcome.RETRY, error=error) for message in payload]


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _quit(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()
