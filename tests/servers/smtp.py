"""A real SMTP server on loopback (aiosmtpd) that records what it accepts and refuses chosen readers.

It can require AUTH, offer STARTTLS or speak TLS from the first byte with a self-signed certificate made
for 127.0.0.1 (written beside the test so the client trusts it through ``?cafile=``).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, valid for a day; returns (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _free_port() -> int:
    # aiosmtpd checks readiness by connecting to the port it was given, so it needs a real one, not 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    #: The DATA as the client sent it (dot-stuffing undone) and the MAIL FROM parameters (SMTPUTF8 ...).
    data: bytes
    mail_options: list[str]


@dataclass
class Handler:
    """aiosmtpd handler: refuses chosen readers at RCPT (5xx final, 4xx temporary), records the rest."""

    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: Readers whose message the server takes but answers only after this many seconds.
    stall: dict[str, float] = field(default_factory=dict)
    #: Seconds every message takes to be answered once received (a slow server).
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    connections: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        # A client greets once per plain connection (and once more after STARTTLS on the same one).
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.refuse:
            code, text = self.refuse[address]
            return f"{code} {text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        received = Received(
            envelope.mail_from, list(envelope.rcpt_tos), message, envelope.content, list(envelope.mail_options)
        )
        self.received.append(received)
        if self.delay:
            await asyncio.sleep(self.delay)
        for address in envelope.rcpt_tos:
            if address in self.stall:
                await asyncio.sleep(self.stall[address])
        return "250 Message accepted"


class SmtpStandIn:
    """An aiosmtpd server on 127.0.0.1; ``mode`` is ``plain``, ``starttls`` or ``tls``."""

    def __init__(
        self,
        folder: Path,
        *,
        mode: str = "plain",
        credentials: tuple[str, str] | None = None,
        smtputf8: bool = True,
    ) -> None:
        self.handler = Handler()
        self.credentials = credentials
        self.cafile: Path | None = None
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": _free_port(), "enable_SMTPUTF8": smtputf8}
        if mode != "plain":
            cert, key = self_signed_certificate(folder)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self.cafile = cert
            kwargs["ssl_context" if mode == "tls" else "tls_context"] = context
            kwargs["require_starttls"] = mode == "starttls"
        if credentials:
            kwargs["authenticator"] = self._authenticate
            # With TLS from the first byte aiosmtpd does not know the link is encrypted: let it offer AUTH.
            kwargs["auth_require_tls"] = mode == "starttls"
        self.mode = mode
        self.controller = Controller(self.handler, **kwargs)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == self.credentials
        return AuthResult(success=ok, handled=False)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.controller.port)

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """A DIGEST_SMTP_URL reaching this server (with the credentials given, if any)."""
        scheme = "smtps" if self.mode == "tls" else "smtp"
        auth = f"{user}:{password}@" if user else ""
        query = []
        if self.mode == "starttls":
            query.append("starttls=1")
        if self.cafile:
            query.append(f"cafile={self.cafile}")
        return f"{scheme}://{auth}127.0.0.1:{self.port}" + ("?" + "&".join(query) if query else "")

    def __enter__(self) -> SmtpStandIn:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
