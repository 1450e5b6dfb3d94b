"""SendGrid's event webhook: signed events update deliveries' statistics and suppress readers.

SendGrid posts a JSON array of events and retries for 24 hours until it gets a 2xx, so the same event may
arrive several times: each is stored once, keyed on its ``sg_event_id``, and acts only the first time.
Our ``custom_args`` (``edition_id``, ``delivery_id``) come back as top-level keys of every event.
"""

from __future__ import annotations

import binascii
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from digest.models import Delivery, DeliveryEvent, Edition
from digest.settings import Settings
from subscribers.models import Subscriber, SubscriberStatus, utcnow
from subscribers.store import Actor, find_subscriber, suppress, unsubscribe

router = APIRouter()
log = logging.getLogger(__name__)

# A signed request older (or newer) than this is refused: a captured request cannot be replayed later.
MAX_AGE_SECONDS = 600
# SendGrid posts batches of at most a few thousand events (well under 1 MB); more is refused before any work.
MAX_BODY_BYTES = 5 * 1024 * 1024
# SendGrid's events are objects of scalars, a list or two deep.
MAX_DEPTH = 8
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Events after which the address is never mailed again, and the subscriber status they set.
SUPPRESSING = {"bounce": SubscriberStatus.BOUNCED, "dropped": SubscriberStatus.BOUNCED}
COMPLAINT = "spamreport"
UNSUBSCRIBING = frozenset({"unsubscribe", "group_unsubscribe"})
# Who the consent log says made the change.
WEBHOOK = Actor(source="webhook")


@dataclass
class EventsResult:
    """What one webhook call did with its events."""

    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0
    invalid: int = 0


def verify_signature(public_key: str, body: bytes, signature: str | None, timestamp: str | None, now: float) -> str:
    """Why the request must be refused ('' when its signature is good and fresh)."""
    if not signature or not timestamp:
        return "unsigned request: the event webhook must be signed"
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return "bad timestamp header"
    if age > MAX_AGE_SECONDS:
        return f"stale request: signed {age:.0f} s ago (at most {MAX_AGE_SECONDS})"
    try:
        verifier = EventWebhook(public_key)
    except (ValueError, UnsupportedAlgorithm) as err:
        raise ValueError(f"SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 EC public key ({err})") from err
    try:
        good = verifier.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        good = False
    return "" if good else "bad signature"


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    """Receive SendGrid events: 403 unless signed with SENDGRID_WEBHOOK_PUBLIC_KEY, 413 past MAX_BODY_BYTES."""
    settings = request.app.state.settings
    key = settings.sendgrid_webhook_public_key
    if not key:
        # Unsigned events could suppress or unsubscribe anyone: without a key the webhook is closed.
        return JSONResponse({"error": "the webhook is closed: set SENDGRID_WEBHOOK_PUBLIC_KEY"}, status_code=403)
    body = await read_capped_body(request, MAX_BODY_BYTES)
    if body is None:
        return JSONResponse({"error": f"the body is over {MAX_BODY_BYTES} bytes"}, status_code=413)
    try:
        refusal = verify_signature(
            key,
            body,
            request.headers.get(EventWebhookHeader.SIGNATURE),
            request.headers.get(EventWebhookHeader.TIMESTAMP),
            time.time(),
        )
    except ValueError as err:
        log.error("%s", err)
        return JSONResponse({"error": "webhook verification is misconfigured"}, status_code=500)
    if refusal:
        return JSONResponse({"error": refusal}, status_code=403)
    try:
        events = parse_events(body)
    except ValueError as err:
        return JSONResponse({"error": str(err)}, status_code=400)
    result = await run_in_threadpool(record_events, request.app.state.engine, events, utcnow)
    return JSONResponse(result.__dict__)


def warn_if_closed(settings: Settings) -> None:
    """Say once, when the app starts, that the webhook refuses everything without a verification key."""
    if not settings.sendgrid_webhook_public_key:
        log.warning("SENDGRID_WEBHOOK_PUBLIC_KEY is not set: /webhooks/sendgrid refuses every request (403)")


async def read_capped_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is (or says it will be) over ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _bounded_int(digits: str) -> int:
    # Checked on the digits, before int() does quadratic work on a long run of them.
    if len(digits.lstrip("-")) > 19:
        raise ValueError(f"integer {digits[:24]}... is out of range")
    return int(digits)


_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def _nesting(body: bytes) -> int:
    """How deep ``body``'s arrays and objects nest (outside strings), counted up to MAX_DEPTH + 1."""
    depth = deepest = 0
    in_string = False
    escaped_until = -1
    for match in _STRUCTURE.finditer(body):
        position, char = match.start(), match.group()
        if position < escaped_until:
            continue
        if in_string:
            if char == b"\\":
                escaped_until = position + 2
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def parse_events(body: bytes) -> list[Any]:
    """The JSON array of events in ``body``, or ValueError saying why it is not one we accept.

    Refused: not JSON, not an array, nesting deeper than MAX_DEPTH, integers outside 64 bits (also as the
    digits of a string), NUL characters: none can come from SendGrid and each made the database fail.
    """
    if _nesting(body) > MAX_DEPTH:
        # Checked before parsing: the parser would recurse once per level (a RecursionError at 100k levels).
        raise ValueError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    try:
        events = json.loads(body, parse_int=_bounded_int)
    except ValueError as err:
        raise ValueError("the body is not JSON") from err
    if not isinstance(events, list):
        raise ValueError("expected a JSON array of events")
    pending: list[tuple[Any, int]] = [(events, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise ValueError("NUL character in the events")
            if value.isascii() and value.lstrip("-").isdigit() and not INT64_MIN <= int(value) <= INT64_MAX:
                raise ValueError(f"number {value[:24]} is out of range")
        elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"number {value} is out of range")
    return events


def record_events(engine: Engine, events: Iterable[Any], clock: Callable[[], datetime] = utcnow) -> EventsResult:
    """Store each new event once and act on it: suppress, unsubscribe, count. Idempotent."""
    result = EventsResult()
    with Session(engine) as session:
        parsed = [_parse(event) for event in events]
        result.invalid = sum(1 for p in parsed if p is None)
        valid = [p for p in parsed if p is not None]
        known = _known_deliveries(session, {p.delivery_id for p in valid if p.delivery_id is not None})
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for event in valid:
            delivery = known.get(event.delivery_id) if event.delivery_id is not None else None
            statement = (
                insert(DeliveryEvent)
                .values(
                    event_id=event.event_id,
                    delivery_id=delivery.id if delivery else None,
                    edition_id=delivery.edition_id if delivery else None,
                    event=event.kind,
                    occurred_at=event.at,
                    received_at=clock(),
                )
                .on_conflict_do_nothing(index_elements=["event_id"])
                .returning(col(DeliveryEvent.id))
            )
            if session.execute(statement).first() is None:
                result.duplicates += 1
                continue
            result.recorded += 1
            if delivery is None:
                result.unmatched += 1
            _act(session, event, delivery, clock())
        session.commit()
    return result


@dataclass(frozen=True, slots=True)
class _Event:
    event_id: str
    kind: str
    email: str | None
    at: datetime
    delivery_id: int | None
    bounce_type: str | None


def _parse(raw: Any) -> _Event | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("sg_event_id"), str) or not raw.get("event"):
        return None
    try:
        at = datetime.fromtimestamp(int(raw.get("timestamp", 0)), UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    try:
        delivery_id = int(raw["delivery_id"]) if "delivery_id" in raw else None
    except (TypeError, ValueError):
        delivery_id = None
    email = raw.get("email") if isinstance(raw.get("email"), str) else None
    return _Event(raw["sg_event_id"][:100], str(raw["event"])[:32], email, at, delivery_id, raw.get("type"))


@dataclass(frozen=True, slots=True)
class _Delivery:
    id: int
    edition_id: int
    subscriber_id: int
    list_id: int


def _known_deliveries(session: Session, ids: set[int]) -> dict[int, _Delivery]:
    """The deliveries among ``ids`` that exist, with their edition's list."""
    if not ids:
        return {}
    rows = session.exec(
        select(Delivery.id, Delivery.edition_id, Delivery.subscriber_id, Edition.list_id)
        .join(Edition, col(Edition.id) == col(Delivery.edition_id))
        .where(col(Delivery.id).in_(ids))
    ).all()
    return {row[0]: _Delivery(*row) for row in rows if row[0] is not None}


def _act(session: Session, event: _Event, delivery: _Delivery | None, now: datetime) -> None:
    """What the event changes for the reader: suppression (bounce, drop, complaint) or unsubscription."""
    subscriber = _subscriber(session, event, delivery)
    if subscriber is None or subscriber.id is None:
        return
    if event.kind in SUPPRESSING and not (event.kind == "bounce" and event.bounce_type == "blocked"):
        # A "blocked" bounce is the receiving server refusing for now (reputation, content), not a dead address.
        suppress(session=session, email=subscriber.email, reason=SUPPRESSING[event.kind], now=now)
    elif event.kind == COMPLAINT:
        suppress(session=session, email=subscriber.email, reason=SubscriberStatus.COMPLAINED, now=now)
    elif event.kind in UNSUBSCRIBING:
        unsubscribe(
            session=session,
            subscriber_id=subscriber.id,
            list_id=delivery.list_id if delivery else None,
            actor=WEBHOOK,
            now=now,
            detail=event.kind,
        )


def _subscriber(session: Session, event: _Event, delivery: _Delivery | None) -> Subscriber | None:
    if delivery is not None:
        return session.get(Subscriber, delivery.subscriber_id)
    if event.email:
        return find_subscriber(session=session, email=event.email)
    return None
