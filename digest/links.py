"""Signed per-reader links (unsubscribe, preferences, confirm) and the public links of an edition.

A token is ``<subscriber>.<list>.<issued>.<signature>``: ``issued`` is the Unix time it was made, and the
signature an HMAC-SHA256 (URL-safe base64, unpadded) keyed by the purpose (each purpose has its own derived
key) over the reader, the list, the issue time and the reader's own random secret (``Subscriber.token_secret``).
So a token acts only on the reader it was made for: a row that took over an erased reader's id (ids are never
reused anyway) has another secret, and a token ages out after its purpose's lifetime (``LIFETIMES``). Only the
exact bytes signing produces verify: no second spelling of a number or of the base64 is accepted.

Keys rotate: the newest signs, every listed key verifies. Signing costs one HMAC per link from a pre-keyed
copy, which matters at a million readers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.settings import Settings

DAY = 24 * 3600
# How long each kind of link acts after it was made: a reader may unsubscribe from a year-old email.
LIFETIMES = {"unsubscribe": 400 * DAY, "preferences": 400 * DAY, "confirm": 7 * DAY}
CONFIRM_MAX_AGE_SECONDS = LIFETIMES["confirm"]
PURPOSES = tuple(LIFETIMES)
# Clocks of several servers may disagree a little; a token from further in the future is forged.
CLOCK_SKEW_SECONDS = 300
MAX_TOKEN_LENGTH = 200
# Subscriber and list ids are INTEGER columns: a larger number names nobody (and would fail the query).
MAX_ID = 2**31 - 1
_SIGNATURE_LENGTH = 43  # 32 bytes of HMAC-SHA256 in unpadded base64


class BadToken(Exception):
    """A token that is forged, tampered with, expired or meant for another purpose."""


@dataclass(frozen=True, slots=True)
class ReaderToken:
    """What a token says: which reader, on which list, made when (Unix time). Not proof until verified."""

    subscriber_id: int
    list_id: int
    issued: int


def _purpose_key(key: str, purpose: str) -> bytes:
    return hmac.new(key.encode(), f"digest.{purpose}".encode(), hashlib.sha256).digest()


def _number(text: str) -> int | None:
    """``text`` as a non-negative 64-bit integer (what the databases store) written the one way str() writes it,
    else None."""
    if not text.isascii() or not text.isdigit() or len(text) > 19 or (text[0] == "0" and len(text) > 1):
        return None
    value = int(text)
    return value if value < 2**63 else None


class Links:
    """Builds and verifies the links in emails; ``keys`` newest first, older ones still verify (rotation).

    ``clock`` (Unix time) dates the tokens this instance makes and judges the age of those it verifies; a
    send builds one instance, so its tokens all carry the time the send started.
    """

    def __init__(self, base_url: str, keys: list[str], clock: Callable[[], float] = time.time) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.base_url = base_url.rstrip("/")
        self._clock = clock
        self._issued = str(int(clock()))
        # Keyed once here: each signature is then a copy, one update and a digest.
        self._hmacs = {
            purpose: [hmac.new(_purpose_key(key, purpose), digestmod=hashlib.sha256) for key in keys]
            for purpose in PURPOSES
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> Links:
        """The links of the publication at ``DIGEST_BASE_URL``, signed with ``DIGEST_SECRET_KEY``'s keys."""
        return cls(settings.base_url, settings.signing_keys())

    def _signature(self, purpose: str, value: bytes, secret: bytes, key: int = 0) -> str:
        mac = self._hmacs[purpose][key].copy()
        mac.update(value)
        mac.update(secret)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def token(self, purpose: str, subscriber_id: int, list_id: int, secret: str) -> str:
        """A signed token for ``purpose`` bound to one reader (with their ``secret``) on one list."""
        value = f"{subscriber_id}.{list_id}.{self._issued}."
        return value + self._signature(purpose, value.encode("ascii"), secret.encode())

    def claim(self, purpose: str, token: str) -> ReaderToken:
        """Who ``token`` names, if it is well formed and within its lifetime: not yet proof (see :meth:`verify`),
        but enough to look up the reader whose secret proves it."""
        if purpose not in LIFETIMES or len(token) > MAX_TOKEN_LENGTH:
            raise BadToken(purpose)
        parts = token.split(".")
        if len(parts) != 4 or len(parts[3]) != _SIGNATURE_LENGTH:
            raise BadToken(purpose)
        subscriber, mailing_list, issued = (_number(part) for part in parts[:3])
        if subscriber is None or mailing_list is None or issued is None or max(subscriber, mailing_list) > MAX_ID:
            raise BadToken(purpose)
        age = self._clock() - issued
        if age > LIFETIMES[purpose] or age < -CLOCK_SKEW_SECONDS:
            raise BadToken(purpose)
        return ReaderToken(subscriber_id=subscriber, list_id=mailing_list, issued=issued)

    def verify(self, purpose: str, token: str, secret: str | None) -> ReaderToken:
        """The reader ``token`` names when it was signed for ``purpose`` with one of the keys and ``secret`` (the
        secret of the reader it claims, None when there is no such reader), else BadToken (answer 404)."""
        claimed = self.claim(purpose, token)
        if not secret:
            raise BadToken(purpose)
        value, _, signature = token.rpartition(".")
        data, secret_bytes = f"{value}.".encode("ascii"), secret.encode()
        for key in range(len(self._hmacs[purpose])):
            if hmac.compare_digest(self._signature(purpose, data, secret_bytes, key), signature):
                return claimed
        raise BadToken(purpose)

    def unsubscribe_url(self, subscriber_id: int, list_id: int, secret: str) -> str:
        """The one-click unsubscribe URL (RFC 8058) of one reader on one list."""
        return f"{self.base_url}/u/{self.token('unsubscribe', subscriber_id, list_id, secret)}"

    def preferences_url(self, subscriber_id: int, list_id: int, secret: str) -> str:
        """The preference-centre URL of one reader."""
        return f"{self.base_url}/p/{self.token('preferences', subscriber_id, list_id, secret)}"

    def confirm_url(self, subscriber_id: int, list_id: int, secret: str) -> str:
        """The double opt-in confirmation URL (expires after a week)."""
        return f"{self.base_url}/c/{self.token('confirm', subscriber_id, list_id, secret)}"

    def reader_fields(self, subscriber_id: int, list_id: int, secret: str) -> dict[str, str]:
        """Values of the per-reader placeholders of an edition (the same links as :meth:`unsubscribe_url` and
        :meth:`preferences_url`, a test checks it, made with one formatting of the reader's value)."""
        value = f"{subscriber_id}.{list_id}.{self._issued}."
        data, secret_bytes = value.encode("ascii"), secret.encode()
        base = self.base_url
        return {
            "unsubscribe_url": f"{base}/u/{value}{self._signature('unsubscribe', data, secret_bytes)}",
            "preferences_url": f"{base}/p/{value}{self._signature('preferences', data, secret_bytes)}",
        }

    def edition_url(self, list_slug: str, day: date, kind: str = "daily") -> str:
        """The public web version of an edition (one of another kind than daily ends in ``/<kind>``)."""
        suffix = "" if kind == "daily" else f"/{kind}"
        return f"{self.base_url}/editions/{list_slug}/{day.isoformat()}{suffix}"
