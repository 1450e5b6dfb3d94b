"""Signed per-reader links (unsubscribe, preferences, confirm) and the public links of an edition.

A token is ``<subscriber>.<list>.<signature>``: an itsdangerous HMAC-SHA256 signature bound to the purpose (each
purpose has its own derived key), the reader and the list. Unsubscribe and preference links never expire, so a
years-old email still lets its reader leave; confirmation links carry a timestamp and expire. Keys rotate: the
newest signs, every listed key verifies. Signing costs one HMAC per link, which matters at a million readers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, Signer, TimestampSigner

if TYPE_CHECKING:
    from digest.settings import Settings

CONFIRM_MAX_AGE_SECONDS = 7 * 24 * 3600
PURPOSES = ("unsubscribe", "preferences", "confirm")


class BadToken(Exception):
    """A token that is forged, tampered with, expired or meant for another purpose."""


@dataclass(frozen=True, slots=True)
class ReaderToken:
    """What a verified token says: which reader, on which list."""

    subscriber_id: int
    list_id: int


def _purpose_keys(keys: list[str], purpose: str) -> list[bytes]:
    # Derived once here rather than by itsdangerous on every signature: one HMAC per link instead of two.
    return [hmac.new(key.encode(), f"digest.{purpose}".encode(), hashlib.sha256).digest() for key in reversed(keys)]


class Links:
    """Builds and verifies the links in emails; ``keys`` newest first, older ones still verify (rotation)."""

    def __init__(self, base_url: str, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.base_url = base_url.rstrip("/")
        self._signers: dict[str, Signer] = {
            purpose: (TimestampSigner if purpose == "confirm" else Signer)(
                _purpose_keys(keys, purpose), key_derivation="none", digest_method=hashlib.sha256
            )
            for purpose in PURPOSES
        }
        self._keyed_hmacs = {
            purpose: hmac.new(_purpose_keys(keys, purpose)[-1], digestmod=hashlib.sha256)
            for purpose in PURPOSES
            if purpose != "confirm"
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> Links:
        """The links of the publication at ``DIGEST_BASE_URL``, signed with ``DIGEST_SECRET_KEY``'s keys."""
        return cls(settings.base_url, settings.signing_keys())

    def token(self, purpose: str, subscriber_id: int, list_id: int) -> str:
        """A signed token for ``purpose`` bound to one reader on one list."""
        value = f"{subscriber_id}.{list_id}"
        if purpose not in self._keyed_hmacs:
            return self._signers[purpose].sign(value).decode("ascii")
        return f"{value}.{self._signature(purpose, value.encode('ascii'))}"

    def _signature(self, purpose: str, value: bytes) -> str:
        # The same bytes itsdangerous' Signer produces (a test checks it) from a copy of a keyed HMAC: this runs
        # twice per reader of every edition, so the key setup is done once.
        mac = self._keyed_hmacs[purpose].copy()
        mac.update(value)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def verify(self, purpose: str, token: str) -> ReaderToken:
        """The reader a token names, or BadToken (the caller answers 404 and reveals nothing)."""
        signer = self._signers.get(purpose)
        if signer is None or len(token) > 200:
            raise BadToken(purpose)
        try:
            if isinstance(signer, TimestampSigner):
                value = signer.unsign(token, max_age=CONFIRM_MAX_AGE_SECONDS)
            else:
                value = signer.unsign(token)
        except BadSignature as err:
            raise BadToken(purpose) from err
        subscriber, _, mailing_list = value.decode("ascii", "replace").partition(".")
        if not (subscriber.isdigit() and mailing_list.isdigit()):
            raise BadToken(purpose)
        return ReaderToken(subscriber_id=int(subscriber), list_id=int(mailing_list))

    def unsubscribe_url(self, subscriber_id: int, list_id: int) -> str:
        """The one-click unsubscribe URL (RFC 8058) of one reader on one list."""
        return f"{self.base_url}/u/{self.token('unsubscribe', subscriber_id, list_id)}"

    def preferences_url(self, subscriber_id: int, list_id: int) -> str:
        """The preference-centre URL of one reader."""
        return f"{self.base_url}/p/{self.token('preferences', subscriber_id, list_id)}"

    def confirm_url(self, subscriber_id: int, list_id: int) -> str:
        """The double opt-in confirmation URL (expires after a week)."""
        return f"{self.base_url}/c/{self.token('confirm', subscriber_id, list_id)}"

    def reader_fields(self, subscriber_id: int, list_id: int) -> dict[str, str]:
        """Values of the per-reader placeholders of an edition (the same links as :meth:`unsubscribe_url` and
        :meth:`preferences_url`, a test checks it, made with one formatting of the reader's value)."""
        value = f"{subscriber_id}.{list_id}"
        data = value.encode("ascii")
        base = self.base_url
        return {
            "unsubscribe_url": f"{base}/u/{value}.{self._signature('unsubscribe', data)}",
            "preferences_url": f"{base}/p/{value}.{self._signature('preferences', data)}",
        }

    def edition_url(self, list_slug: str, day: date) -> str:
        """The public web version of an edition."""
        return f"{self.base_url}/editions/{list_slug}/{day.isoformat()}"
