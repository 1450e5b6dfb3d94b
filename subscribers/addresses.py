"""Email addresses: validated and normalised with email-validator, never with a DNS lookup."""

from __future__ import annotations

import functools
import hashlib
import re

from email_validator import EmailNotValidError, validate_email

from digest.errors import SubscriberError

# Plain ASCII dot-atom local parts, which email-validator returns unchanged: for them only the domain needs
# its (slow, cached) check, which keeps imports of 100k rows fast. Anything else takes the full path.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
MAX_ADDRESS = 254
MAX_LOCAL = 64


def normalize_email(raw: str) -> str:
    """The normalised form of ``raw`` (IDN domain in Unicode, lower-cased domain) or SubscriberError."""
    candidate = (raw or "").strip()
    if not candidate:
        raise SubscriberError("empty email address")
    local, at, domain = candidate.rpartition("@")
    if at and len(local) <= MAX_LOCAL and _PLAIN_LOCAL.fullmatch(local):
        normal_domain = _normalize_domain(domain)
        if normal_domain is not None and len(local) + 1 + len(normal_domain) <= MAX_ADDRESS:
            return f"{local}@{normal_domain}"
    return _validate(candidate)


def _validate(candidate: str) -> str:
    try:
        return validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise SubscriberError(f"invalid email address {candidate!r}: {err}") from err


@functools.lru_cache(maxsize=4096)
def _normalize_domain(domain: str) -> str | None:
    """The normalised domain when ``x@domain`` is valid, else None (the caller reports the full reason)."""
    try:
        return str(validate_email(f"x@{domain}", check_deliverability=False).domain)
    except EmailNotValidError:
        return None


def email_key(email: str) -> str:
    """The key that makes addresses unique regardless of case."""
    return email.casefold()


def email_hash(email: str) -> str:
    """A one-way hash of an address, kept for erased addresses so they are never re-added silently."""
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()
