"""Signed per-reader links (unsubscribe, preferences, confirm) and the public links of an edition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

# How long each kind of link stays valid: unsubscribe links must outlive old emails in inboxes.
MAX_AGE_SECONDS = {
    "unsubscribe": 400 * 24 * 3600,
    "preferences": 400 * 24 * 3600,
    "confirm": 7 * 24 * 3600,
}


class BadToken(Exception):
    """A token that is forged, tampered with, expired or meant for another purpose."""


@dataclass(frozen=True, slots=True)
class ReaderToken:
    """What a verified token says: which reader, on which list."""

    subscriber_id: int
    list_id: int


class Links:
    """Builds and verifies the links in emails; ``keys`` newest first, older ones still verify (rotation)."""

    def __init__(self, base_url: str, keys: list[str]) -> None:
        self.base_url = base_url.rstrip("/")
        # itsdangerous signs with the last key and verifies with all of them.
        self._serializers = {
            purpose: URLSafeTimedSerializer(list(reversed(keys)), salt=f"digest.{purpose}")
            for purpose in MAX_AGE_SECONDS
        }

    def token(self, purpose: str, subscriber_id: int, list_id: int) -> str:
        """A signed token for ``purpose`` bound to one reader on one list."""
        return str(self._serializers[purpose].dumps([subscriber_id, list_id]))

    def verify(self, purpose: str, token: str) -> ReaderToken:
        """The reader a token names, or BadToken (the caller answers 404 and reveals nothing)."""
        try:
            value = self._serializers[purpose].loads(token, max_age=MAX_AGE_SECONDS[purpose])
        except (BadSignature, SignatureExpired) as err:
            raise BadToken(purpose) from err
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
            raise BadToken(purpose)
        return ReaderToken(subscriber_id=value[0], list_id=value[1])

    def unsubscribe_url(self, subscriber_id: int, list_id: int) -> str:
        """The one-click unsubscribe URL (RFC 8058) of one reader on one list."""
        return f"{self.base_url}/u/{self.token('unsubscribe', subscriber_id, list_id)}"

    def preferences_url(self, subscriber_id: int, list_id: int) -> str:
        """The preference-centre URL of one reader."""
        return f"{self.base_url}/p/{self.token('preferences', subscriber_id, list_id)}"

    def confirm_url(self, subscriber_id: int, list_id: int) -> str:
        """The double opt-in confirmation URL."""
        return f"{self.base_url}/c/{self.token('confirm', subscriber_id, list_id)}"

    def reader_fields(self, subscriber_id: int, list_id: int) -> dict[str, str]:
        """Values of the per-reader placeholders of an edition."""
        return {
            "unsubscribe_url": self.unsubscribe_url(subscriber_id, list_id),
            "preferences_url": self.preferences_url(subscriber_id, list_id),
        }

    def edition_url(self, list_slug: str, day: date) -> str:
        """The public web version of an edition."""
        return f"{self.base_url}/editions/{list_slug}/{day.isoformat()}"
