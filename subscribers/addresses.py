"""Email addresses: validated and normalised with email-validator, never with a DNS lookup."""

from __future__ import annotations

import hashlib

from email_validator import EmailNotValidError, validate_email

from digest.errors import SubscriberError


def normalize_email(raw: str) -> str:
    """The normalised form of ``raw`` (IDN domain in Unicode, lower-cased domain) or SubscriberError."""
    candidate = (raw or "").strip()
    if not candidate:
        raise SubscriberError("empty email address")
    try:
        return validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise SubscriberError(f"invalid email address {candidate!r}: {err}") from err


def email_key(email: str) -> str:
    """The key that makes addresses unique regardless of case."""
    return email.casefold()


def email_hash(email: str) -> str:
    """A one-way hash of an address, kept for erased addresses so they are never re-added silently."""
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()
