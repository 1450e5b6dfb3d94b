"""One mail read as a report: a bounce (RFC 3464 DSN, or the formats real MTAs send, recognised by
flufl.bounce), a complaint (RFC 5965 ARF), or neither. Pure: bytes in, a report out.

What a report says about the address:

    DSN, permanent failure (5.x.x)        hard: the address is dead
    DSN, 5.7.x (policy, spam, reputation) soft: says nothing about the address
    DSN, temporary (4.x.x, delayed)       soft
    ARF feedback report                   complaint
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from flufl.bounce import all_failures

logger = logging.getLogger(__name__)

HARD = "hard"
SOFT = "soft"
COMPLAINT = "complaint"
# Headers the receiving server writes with the address the report was delivered to (our VERP address).
ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
# RFC 3463 status, as a DSN's per-recipient "Status:" field carries it.
_STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})")


@dataclass(frozen=True, slots=True)
class MailReport:
    """What one bounce or complaint says, and what it can be matched by."""

    kind: str
    #: A stable id of the report (its own Message-ID, else a hash of its bytes): recorded once.
    report_id: str
    #: The addresses that failed (DSN) or complained (ARF), lower-cased.
    recipients: tuple[str, ...]
    #: The addresses the report was delivered to: our VERP bounce address, when it is one.
    envelope_to: tuple[str, ...]
    #: The Message-ID of our message the report answers, when it quotes it.
    original_message_id: str | None
    at: datetime | None


def read_report(raw: bytes) -> MailReport | None:
    """The report ``raw`` is, or None when it is neither a bounce nor a complaint (an auto-reply, spam...)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    own_id = (message.get("Message-ID") or "").strip()
    report_id = hashlib.sha256(own_id.encode("utf-8", "replace") if own_id else raw).hexdigest()[:40]
    envelope = tuple(
        address.lower()
        for _, address in getaddresses([str(v) for h in ENVELOPE_HEADERS for v in message.get_all(h, [])])
    )
    original = _original_headers(message)
    original_id = (original.get("Message-ID") or "").strip() or None if original is not None else None
    at = _date(message.get("Date"))
    feedback = _part(message, "message/feedback-report")
    if feedback is not None:
        fields = _fields(feedback)
        rcpt = [v for k, v in fields if k == "original-rcpt-to"]
        if not rcpt and original is not None:
            rcpt = [address for _, address in getaddresses(original.get_all("To", []))]
        return MailReport(COMPLAINT, report_id, _addresses(rcpt), envelope, original_id, at)
    temporary, permanent = all_failures(message)
    if not temporary and not permanent:
        return None
    policy = _policy_refusals(message)
    hard = tuple(a for a in _addresses(_text(a) for a in permanent) if a not in policy)
    soft = _addresses([*(_text(a) for a in temporary), *(_text(a) for a in permanent if _text(a).lower() in policy)])
    if hard:
        return MailReport(HARD, report_id, hard, envelope, original_id, at)
    return MailReport(SOFT, report_id, soft, envelope, original_id, at)


def read_reports(messages: Iterable[bytes]) -> Iterator[MailReport | None]:
    """:func:`read_report` of each message; a mail too broken to read is None (ignored), never the end."""
    for raw in messages:
        try:
            yield read_report(raw)
        except (ValueError, LookupError, UnicodeError, TypeError, AttributeError) as err:
            # Hostile or mangled mail: one line in the log, the mailbox goes on.
            logger.warning("unreadable mail skipped: %s", err)
            yield None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _addresses(values: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        address = value.split(";", 1)[-1].strip().strip("<>").lower()
        if "@" in address and address not in found:
            found.append(address)
    return tuple(found)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _fields(part: Message) -> list[tuple[str, str]]:
    """The "Name: value" fields of a report part (feedback report, delivery status), all blocks in order."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else [email.message_from_string(str(payload))]
    return [
        (name.lower(), str(value).strip())
        for block in blocks
        if isinstance(block, Message)
        for name, value in block.items()
    ]


def _original_headers(message: Message) -> Message | None:
    """The headers of our message as the report quotes them (message/rfc822 or text/rfc822-headers)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                return inner[0]
        if kind == "text/rfc822-headers":
            body = part.get_payload(decode=True)
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
            return email.message_from_string(text)
    return None


def _policy_refusals(message: Message) -> set[str]:
    """Recipients the DSN reports refused for policy (5.7.x): that says nothing about the address."""
    status = _part(message, "message/delivery-status")
    if status is None:
        return set()
    refused: set[str] = set()
    recipient = ""
    for name, value in _fields(status):
        if name == "final-recipient":
            recipient = value.split(";", 1)[-1].strip().strip("<>").lower()
        elif name == "status" and recipient:
            code = _STATUS.search(value)
            if code is not None and code.group(1) == "5" and code.group(2) == "7":
                refused.add(recipient)
    return refused
