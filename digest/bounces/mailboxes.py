"""Where bounce mail is read from: an mbox file, a Maildir folder, or an IMAP mailbox (``imaps://`` URL).

Each source yields the raw bytes of every message, read-only: nothing is deleted or marked, so reading twice
is safe (the reports are recorded once, see :mod:`digest.bounces.record`).
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from digest.errors import DigestError

# A bounce carries at most a copy of our edition; anything much larger is not one, and is not read.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
IMAP_PORTS = {"imaps": 993, "imap": 143}


@dataclass(frozen=True, slots=True)
class ImapMailbox:
    """An IMAP mailbox named by ``imaps://user:password@host[:port]/FOLDER`` (``imap://`` is plain text, for a
    server on the same machine only)."""

    host: str
    port: int
    tls: bool
    username: str
    password: str
    folder: str

    @classmethod
    def from_url(cls, url: str) -> ImapMailbox:
        """Parse the URL; DigestError names what is missing."""
        parts = urlsplit(url)
        if parts.scheme not in IMAP_PORTS or not parts.hostname:
            raise DigestError(f"expected imaps://user:password@host/FOLDER, got {parts.scheme or url!r}")
        if not parts.username or parts.password is None:
            raise DigestError("the IMAP URL needs a user and a password: imaps://user:password@host/FOLDER")
        try:
            port = parts.port or IMAP_PORTS[parts.scheme]
        except ValueError as err:
            raise DigestError(f"the IMAP URL has a bad port ({err})") from err
        return cls(
            host=parts.hostname,
            port=port,
            tls=parts.scheme == "imaps",
            username=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.strip("/")) or "INBOX",
        )

    def messages(self, timeout: float = 60.0) -> Iterator[bytes]:
        """Every message of the folder, opened read-only."""
        try:
            connection: imaplib.IMAP4 = (
                imaplib.IMAP4_SSL(self.host, self.port, timeout=timeout)
                if self.tls
                else imaplib.IMAP4(self.host, self.port, timeout=timeout)
            )
        except OSError as err:
            raise DigestError(f"cannot reach the IMAP server {self.host}:{self.port}: {err}") from err
        try:
            connection.login(self.username, self.password)
            status, _ = connection.select(_quoted(self.folder), readonly=True)
            if status != "OK":
                raise DigestError(f"IMAP folder {self.folder!r} cannot be opened")
            _, found = connection.uid("SEARCH", "ALL")
            for uid in (found[0] or b"").decode("ascii").split():
                _, sizes = connection.uid("FETCH", uid, "(RFC822.SIZE)")
                if _size(sizes) > MAX_MESSAGE_BYTES:
                    continue
                _, data = connection.uid("FETCH", uid, "(BODY.PEEK[])")
                for item in data:
                    if isinstance(item, tuple):
                        yield item[1]
        except imaplib.IMAP4.error as err:
            raise DigestError(f"IMAP {self.host}: {err}") from err
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                connection.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _size(answer: list[object]) -> int:
    text = b" ".join(item for item in answer if isinstance(item, bytes)).decode("ascii", "replace")
    _, _, rest = text.partition("RFC822.SIZE ")
    digits = "".join(ch for ch in rest.split(")")[0] if ch.isdigit())
    return int(digits) if digits else 0


def open_mailbox(source: str) -> Iterator[bytes]:
    """The messages of ``source``: an ``imaps://`` URL, a Maildir folder (with cur/ and new/) or an mbox file."""
    if source.startswith(("imaps://", "imap://")):
        return ImapMailbox.from_url(source).messages()
    path = Path(source)
    if path.is_dir():
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise DigestError(f"{source} is a folder but not a Maildir (no cur/ and new/ inside)")
        return _local(mailbox.Maildir(path, factory=None, create=False))
    if not path.is_file():
        raise DigestError(f"{source}: no such mbox file, Maildir folder or imaps:// URL")
    return _local(mailbox.mbox(path, create=False))


def _local(box: mailbox.Mailbox[mailbox.Message]) -> Iterator[bytes]:
    try:
        for key in box.iterkeys():
            raw = box.get_bytes(key)
            if len(raw) <= MAX_MESSAGE_BYTES:
                yield raw
    except OSError as err:
        raise DigestError(f"cannot read the mailbox: {err.strerror or err}") from err
    finally:
        box.close()
