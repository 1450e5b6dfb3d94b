"""Email addresses: validated and normalised with email-validator, never with a DNS lookup."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from typing import NamedTuple

import idna
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from digest.errors import SubscriberError

# A dot-atom local part of plain ASCII, which email-validator keeps as it is (RFC 2142's role names such as
# postmaster lower-cased). An ASCII address with one needs only its domain checked by email-validator, and a
# file's rows share a few domains: :func:`_normalize_domain` checks each once. Any other address, and every
# refusal, takes email-validator's full path, so the verdict and the reason are always its own.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_ROLE_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
# email-validator's limit on a whole address, in UTF-8 bytes (RFC 5321 4.5.3.1.3).
MAX_ADDRESS = 254


def normalize_email(raw: str) -> str:
    """The normalised form of ``raw`` (IDN domain in Unicode, lower-cased domain) or SubscriberError."""
    return normalize_email_and_key(raw)[0]


def normalize_email_and_key(raw: str) -> tuple[str, str]:
    """:func:`normalize_email` of ``raw`` and the :func:`email_key` of that, for callers that need both (an import
    of 100k rows: a plain ASCII address takes neither function's slow path)."""
    candidate = (raw or "").strip()
    if not candidate:
        raise SubscriberError("empty email address")
    if candidate.isascii() and len(candidate) <= MAX_ADDRESS:
        local, at, domain = candidate.rpartition("@")
        if at and _PLAIN_LOCAL.fullmatch(local):
            known = _normalize_domain(domain)
            # The normalised address is checked too: a Punycode domain comes back in Unicode, maybe longer.
            if known is not None and len(local) + 1 + known.length <= MAX_ADDRESS:
                lowered = local.lower()
                if lowered in _ROLE_NAMES:
                    local = lowered
                return f"{local}@{known.normal}", f"{lowered}@{known.key}"
    address = _validate(candidate)
    return address, email_key(address)


def _validate(candidate: str) -> str:
    try:
        return validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError as err:
        raise SubscriberError(f"invalid email address {candidate!r}: {err}") from err


class _Domain(NamedTuple):
    normal: str  # as email-validator normalises it
    length: int  # of ``normal`` in UTF-8
    key: str  # as email_key writes it


@functools.lru_cache(maxsize=4096)
def _normalize_domain(domain: str) -> _Domain | None:
    """What the fast path needs of ``domain`` when ``x@domain`` is valid, else None (the caller reports the full
    reason)."""
    try:
        normal = str(validate_email(f"x@{domain}", check_deliverability=False).domain)
    except EmailNotValidError:
        return None
    return _Domain(normal, len(normal.encode("utf-8")), _domain_key(normal))


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
