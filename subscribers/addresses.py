"""Email addresses: validated and normalised with email-validator, never with a DNS lookup."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

import idna
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
    """The key that makes addresses unique: the local part in NFC, lower-cased, ``@``, the domain through IDNA
    (UTS 46, non-transitional), lower-cased, in its Unicode form.

    The local part is lower-cased although RFC 5321 lets a server tell ``Amina@`` from ``amina@``: virtually no
    provider does, people type their address in any case, and digest has always matched them as one reader (a
    suppression of ``amina@`` must hold against ``AMINA@``, an import must not make a second reader). It is
    lower-cased with ``str.lower``, never ``casefold``: case folding maps ``ß`` to ``ss`` (and ``ς`` to ``σ``,
    ligatures to letters), which merges different mailboxes (``news@straße.de`` and ``news@strasse.de`` are on
    two domains, ``maß@`` and ``mass@`` are two local parts). The domain keeps the Unicode form email-validator
    normalises to, so an ASCII address's key is the address lower-cased, as before.
    """
    local, at, domain = email.strip().rpartition("@")
    if not at:
        return unicodedata.normalize("NFC", email.strip().lower())
    return f"{unicodedata.normalize('NFC', local.lower())}@{_domain_key(domain)}"


@functools.lru_cache(maxsize=4096)
def _domain_key(domain: str) -> str:
    """``domain`` as IDNA maps it (``XN--STRAE-OQA.DE`` and ``Straße.de`` are one domain, ``strasse.de`` another)."""
    try:
        return idna.decode(idna.encode(domain, uts46=True, transitional=False)).lower()
    except (idna.IDNAError, UnicodeError):
        return unicodedata.normalize("NFC", domain.lower())  # an address literal, or not a domain: as written


def email_hash(email: str) -> str:
    """A one-way hash of an address, kept for erased addresses so they are never re-added silently."""
    return key_hash(email_key(email))


def key_hash(key: str) -> str:
    """:func:`email_hash` of an address whose :func:`email_key` is ``key`` (bulk callers have the key already)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def legacy_email_hash(email: str) -> str:
    """The hash an erasure made before the keys kept ``ß`` apart from ``ss`` stored for ``email`` (normalised):
    of the case-folded address. The address is gone, so the upgrade could not recompute it; such rows are marked
    ``Suppression.legacy_key`` and matched this way too. Erring that way refuses a sign-up; the other way would
    re-add someone who asked to be forgotten."""
    return hashlib.sha256(email.strip().casefold().encode("utf-8")).hexdigest()
