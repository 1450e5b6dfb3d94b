"""SendGrid's event webhook: the route verifies the request and parses its events into ProviderEvents; what
they do (count, suppress, unsubscribe) is :mod:`digest.delivery.events`.

SendGrid posts a JSON array of events and retries for 24 hours until it gets a 2xx, so the same event may
arrive several times: each is stored once, keyed on its ``sg_event_id``, and acts only the first time.
Our ``custom_args`` (``edition_id``, ``delivery_id``) come back as top-level keys of every event.
"""

from __future__ import annotations

import binascii
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader
from sqlalchemy import Engine
from sqlmodel import Session

from digest.delivery.events import EventsResult, ProviderEvent, record_events
from digest.settings import Settings
from subscribers.models import utcnow

router = APIRouter()
log = logging.getLogger(__name__)

# A signed request older (or newer) than this is refused: a captured request cannot be replayed later.
MAX_AGE_SECONDS = 600
# SendGrid posts batches of at most a few thousand events (well under 1 MB); more is refused before any work.
MAX_BODY_BYTES = 5 * 1024 * 1024
# SendGrid's events are objects of scalars, a list or two deep.
MAX_DEPTH = 8
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


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
    moments: dict[Any, datetime] = {}
    parsed = [_parse(event, moments) for event in events]
    valid = [event for event in parsed if event is not None]
    result = await run_in_threadpool(_record, request.app.state.engine, valid)
    result.invalid = len(parsed) - len(valid)
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


class _OutOfRange(ValueError):
    """A number the database's 64-bit integers cannot hold."""


def _bounded_int(digits: str) -> int:
    # Checked on the digits, before int() does quadratic work on a long run of them.
    if len(digits.lstrip("-")) > 19:
        raise _OutOfRange(f"integer {digits[:24]}... is out of range")
    value = int(digits)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _OutOfRange(f"number {value} is out of range")
    return value


# Every digit as "0": a run of digits too long for 64 bits (a number, or a string of digits) is then a run of
# 19 zeros, found by a plain substring search (a regular expression takes ten times as long on a 5 MB body).
_DIGITS_AS_ZERO = bytes(ord("0") if ord("0") <= byte <= ord("9") else byte for byte in range(256))
_LONG_DIGITS = b"0" * 19


def parse_events(body: bytes) -> list[Any]:
    """The JSON array of events in ``body``, or ValueError saying why it is not one we accept.

    Refused: not JSON, not an array, nesting deeper than MAX_DEPTH, integers outside 64 bits (also as the
    digits of a string), NUL characters: none can come from SendGrid and each made the database fail.
    """
    # Without a run of 19 digits in the body no number, nor string of digits, can be outside 64 bits; without a
    # \u escape every string is spelled in the body as it is, so none holds a NUL (a raw control character is
    # not JSON). SendGrid's bodies have neither: they are parsed as they are and only their depth is checked.
    long_digits = _LONG_DIGITS in body.translate(_DIGITS_AS_ZERO)
    try:
        events = json.loads(body, parse_int=_bounded_int) if long_digits else json.loads(body)
    except RecursionError:
        # The parser recurses once per level: a body of 100k brackets ends here, before any work on it.
        raise ValueError(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    except _OutOfRange:
        raise
    except ValueError as err:
        raise ValueError("the body is not JSON") from err
    if not isinstance(events, list):
        raise ValueError("expected a JSON array of events")
    if long_digits or b"\\u" in body:
        _check_strings(events)
    else:
        _check_depth(events)
    return events


def _check_depth(events: list[Any]) -> None:
    """ValueError if the containers nest deeper than MAX_DEPTH."""
    pending: list[tuple[Any, int]] = [(events, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
        for item in value.values() if type(value) is dict else value:
            if type(item) is dict or type(item) is list:
                pending.append((item, depth + 1))


def _check_strings(events: list[Any]) -> None:
    """ValueError if the containers nest deeper than MAX_DEPTH, or a string holds a NUL or the digits of a
    number outside 64 bits."""
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


def _record(engine: Engine, events: list[ProviderEvent]) -> EventsResult:
    """Apply the events (the delivery layer's policy) in one transaction."""
    with Session(engine) as session:
        result = record_events(session, events, utcnow)
        session.commit()
    return result


def _parse(raw: Any, moments: dict[Any, datetime]) -> ProviderEvent | None:
    """One SendGrid event as a :class:`ProviderEvent`, or None when it is not one. ``moments`` keeps the
    timestamps already converted: a request's events share a few (whole seconds)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("sg_event_id"), str) or not raw.get("event"):
        return None
    stamp = raw.get("timestamp", 0)
    at = moments.get(stamp) if isinstance(stamp, int) else None
    if at is None:
        try:
            at = datetime.fromtimestamp(int(stamp), UTC)
        except (TypeError, ValueError, OverflowError):
            return None
        if isinstance(stamp, int):
            moments[stamp] = at
    try:
        delivery_id = int(raw["delivery_id"]) if "delivery_id" in raw else None
    except (TypeError, ValueError):
        delivery_id = None
    email = raw.get("email") if isinstance(raw.get("email"), str) else None
    kind = str(raw["event"])[:32]
    # SendGrid calls a bounce "blocked" when the receiving server refuses for now (reputation, content).
    temporary = kind == "bounce" and raw.get("type") == "blocked"
    return ProviderEvent(raw["sg_event_id"][:100], kind, email, at, delivery_id, temporary)
